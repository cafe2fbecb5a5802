"""A `jeval run` program defers the collector's full collections while it starts (imports, model
loading) and resumes them at the model's first answer; young collections go on throughout."""

from __future__ import annotations

import asyncio
import gc

import pytest

from jeval import gc_policy
from jeval.executor import Executor, Job


@pytest.fixture
def collector():
    """The collector's settings as they were, restored after the test (frozen objects thawed)."""
    thresholds = gc.get_threshold()
    yield thresholds
    gc.set_threshold(*thresholds)
    gc.unfreeze()


class Store:
    def __init__(self, held: dict[str, dict]):
        self.held = held

    def key(self, payload):
        return payload["prompt"]

    def get(self, key):
        return self.held.get(key)

    def put(self, key, payload, response):
        self.held[key] = response


def test_start_up_defers_full_collections_only_and_resuming_restores_them(collector):
    young, middle, full = collector
    deferred = gc_policy.defer_full_collections()
    assert gc.isenabled()
    assert gc.get_threshold() == (young, middle, gc_policy.NEVER)
    deferred.resume()
    assert gc.get_threshold() == (young, middle, full)
    frozen = gc.get_freeze_count()
    assert frozen > 0  # what start-up built is out of the full collections' way
    deferred.resume()
    assert gc.get_freeze_count() == frozen


def test_the_executor_reports_the_first_answer_from_the_model_once_and_none_from_the_store():
    calls = []
    executor = Executor(Store({"held": {"text": "cached"}}), on_first_answer=lambda: calls.append(1))

    async def answer(job):
        return {"text": job.payload["prompt"].upper()}

    asyncio.run(executor.run([Job({"prompt": "held"})], answer))
    assert calls == []
    asyncio.run(executor.run([Job({"prompt": "a"}), Job({"prompt": "b"})], answer))
    assert calls == [1]

    batched = []
    executor = Executor(Store({}), on_first_answer=lambda: batched.append(1))

    async def answer_all(jobs):
        for i, job in enumerate(jobs):
            yield i, {"text": job.payload["prompt"]}

    asyncio.run(executor.run_batched([Job({"prompt": "x"}), Job({"prompt": "y"})], answer_all))
    assert batched == [1]


def test_an_in_process_call_of_the_command_line_leaves_the_collector_alone(collector, tmp_path):
    from jeval.cli import main

    assert main(["run", "--tasks", "no_such_task", "--model", "m", "--base-url", "http://127.0.0.1:9",
                 "--output", str(tmp_path)]) == 2
    assert gc.get_threshold() == collector and gc.get_freeze_count() == 0
