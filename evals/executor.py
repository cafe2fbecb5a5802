"""The one request loop: runs, the judge, the lm-eval bridge and perplexity all ask through it.

A job is a payload (what identifies the request) and the task it belongs to. The executor looks
each job up in its answer store first, asks for what is missing concurrently (identical payloads
once), commits every answer to the store the moment it arrives (so a killed run resumes), shows
progress and counts what came from where. What a failed request does is the caller's choice:
stop the run with its error (`keep_errors=False`, runs) or record it on that job's outcome and go
on (`keep_errors=True`, the judge, where one bad item must not stop the rest). A request refused
for itself (`ItemRejected`: HTTP 400, a prompt longer than the context) is always recorded on its
outcome: one item must not stop a run, nor make every re-run fail. Failures are never cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jeval.errors import ItemRejected, JevalError
from jeval.progress import TaskBars

log = logging.getLogger(__name__)


class AnswerStore(Protocol):
    """Where answers are kept between runs (the generation cache, the judgment cache)."""

    def key(self, payload: dict[str, Any]) -> str: ...

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, payload: dict[str, Any], response: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Job:
    payload: dict[str, Any]
    task: str = ""
    ref: Any = field(default=None, compare=False)
    """The caller's own handle on the job (not part of what is cached)."""


@dataclass(frozen=True)
class Outcome:
    response: dict[str, Any] | None
    cached: bool
    error: str | None = None


@dataclass
class Tally:
    """What the executor did, per task and in all."""

    jobs: Counter[str] = field(default_factory=Counter)
    from_cache: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    replaced: int = 0
    """Cached answers that the caller refused (`accept`) and that were asked again."""
    seconds: float = 0.0

    def for_task(self, task: str) -> dict[str, int]:
        return {"total": self.jobs[task], "from_cache": self.from_cache[task], "sent": self.sent[task],
                "failed": self.failed[task]}

    def totals(self) -> dict[str, int]:
        return {"total": sum(self.jobs.values()), "from_cache": sum(self.from_cache.values()),
                "sent": sum(self.sent.values()), "failed": sum(self.failed.values())}


def payload_key(identity: str, payload: dict[str, Any]) -> str:
    """SHA-256 of (identity, payload): the key of an answer in a store."""
    blob = json.dumps({"model": identity, "request": payload}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class Executor:
    def __init__(self, store: AnswerStore, *, concurrency: int = 16, progress: bool = True,
                 on_first_answer: Callable[[], None] | None = None):
        """`on_first_answer` is called when the first answer comes back from the model (not from
        the store): the end of the run's start-up (jeval.gc_policy)."""
        if concurrency < 1:
            raise JevalError(f"concurrency must be at least 1, got {concurrency}")
        self.store = store
        self.concurrency = concurrency
        self.progress = progress
        self.tally = Tally()
        self._on_first_answer = on_first_answer

    def _answered(self) -> None:
        if self._on_first_answer is not None:
            call, self._on_first_answer = self._on_first_answer, None
            call()

    def _look_up(self, jobs: Sequence[Job], accept: Callable[[Job, dict[str, Any]], bool] | None
                 ) -> tuple[list[str], dict[str, Outcome], dict[str, Job]]:
        keys = [self.store.key(job.payload) for job in jobs]
        found: dict[str, Outcome] = {}
        missing: dict[str, Job] = {}
        for key, job in zip(keys, jobs, strict=True):
            self.tally.jobs[job.task] += 1
            if key in found or key in missing:
                if key in found:
                    self.tally.from_cache[job.task] += 1
                continue
            hit = self.store.get(key)
            if hit is not None and accept is not None and not accept(job, hit):
                self.tally.replaced += 1
                hit = None
            if hit is None:
                missing[key] = job
            else:
                found[key] = Outcome(hit, True)
                self.tally.from_cache[job.task] += 1
        return keys, found, missing

    def _bars(self, jobs: Sequence[Job], keys: list[str], found: dict[str, Outcome], desc: str) -> TaskBars:
        """Bars per task over the distinct requests, started at what the cache held."""
        owner: dict[str, str] = {}
        for key, job in zip(keys, jobs, strict=True):
            owner.setdefault(key, job.task)
        return TaskBars(Counter(owner.values()), Counter(owner[key] for key in found), desc, self.progress)

    async def run(self, jobs: Sequence[Job], answer: Callable[[Job], Awaitable[dict[str, Any]]], *,
                  desc: str = "asking", keep_errors: bool = False,
                  accept: Callable[[Job, dict[str, Any]], bool] | None = None) -> list[Outcome]:
        """An outcome per job, in order: from the store where it has the answer (and `accept`, where
        given, takes it), else asked."""
        keys, found, missing = self._look_up(jobs, accept)
        if found:
            log.info("%d of %d requests answered from the cache", len(found), len(found) + len(missing))
        started = time.monotonic()
        bars = self._bars(jobs, keys, found, desc)
        slots = asyncio.Semaphore(self.concurrency)

        async def one(key: str, job: Job) -> None:
            async with slots:
                try:
                    response = await answer(job)
                except JevalError as e:
                    if not (keep_errors or isinstance(e, ItemRejected)):
                        raise
                    self.tally.failed[job.task] += 1
                    found[key] = Outcome(None, False, " ".join(str(e).split()))
                    bars.advance(job.task)
                    return
            self._answered()
            self.store.put(key, job.payload, response)
            self.tally.sent[job.task] += 1
            found[key] = Outcome(response, False)
            bars.advance(job.task)

        try:
            async with asyncio.TaskGroup() as group:
                for key, job in missing.items():
                    group.create_task(one(key, job))
        except BaseExceptionGroup as eg:
            raise _first_error(eg) from None
        finally:
            bars.close()
            self.tally.seconds += time.monotonic() - started
        return [found[key] for key in keys]

    async def run_batched(self, jobs: Sequence[Job],
                          answer_all: Callable[[list[Job]], AsyncIterator[tuple[int, dict[str, Any]]]],
                          *, desc: str = "asking") -> list[Outcome]:
        """As `run`, but the missing jobs are handed over at once to a model that batches them; it
        yields (index into the jobs it was given, answer) as each is done, and each answer is
        committed as it comes, so a killed run keeps what was done."""
        keys, found, missing = self._look_up(jobs, None)
        if not missing:
            return [found[key] for key in keys]
        started = time.monotonic()
        pending = list(missing.items())
        bars = self._bars(jobs, keys, found, desc)
        try:
            async for i, response in answer_all([job for _, job in pending]):
                key, job = pending[i]
                self._answered()
                self.store.put(key, job.payload, response)
                self.tally.sent[job.task] += 1
                found[key] = Outcome(response, False)
                bars.advance(job.task)
        finally:
            bars.close()
            self.tally.seconds += time.monotonic() - started
        unanswered = [key for key, _ in pending if key not in found]
        if unanswered:
            raise JevalError(f"{desc}: asked {len(pending)} requests, {len(unanswered)} got no answer")
        return [found[key] for key in keys]


def _first_error(eg: BaseExceptionGroup[Any]) -> BaseException:
    """The error to report from a failed group: a user-facing one where there is one."""
    leaves = list(_leaves(eg))
    return next((e for e in leaves if isinstance(e, JevalError)), None) or leaves[0]


def _leaves(eg: BaseExceptionGroup[Any]) -> Any:
    for e in eg.exceptions:
        if isinstance(e, BaseExceptionGroup):
            yield from _leaves(e)
        else:
            yield e
