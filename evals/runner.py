"""`jeval run`: tasks -> planned requests -> answers (cached) -> scores -> results.

Data flows one way. The model's identity is established and the tasks' needs checked against its
engine before anything starts; the model starts on the first request the cache cannot answer (a
fully cached run starts no server); every answer is committed the moment it arrives, so a killed
run, started again, asks only what is missing. Aggregation happens once, in the plugins (task
metrics, suite summaries, leaderboard columns), and is stored in results.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from jeval import __version__
from jeval.cache import GenerationCache, GenerationStore
from jeval.errors import ItemRejected, JevalError
from jeval.executor import Executor, Job, Outcome
from jeval.identity import ModelIdentity, folder_name
from jeval.io import default_home
from jeval.models.batching import AUTO_MAX_SEQUENCES
from jeval.models.engines import ModelSpec, check_capabilities, engine_for, open_model, resolve
from jeval.models.inprocess import LocalSettings
from jeval.models.model import ContextWindow, Model, generate
from jeval.models.server import Engine
from jeval.overrides import Overrides, check_engine
from jeval.planning import plan
from jeval.reasoning import Reasoning, TokenCounter, answer_of, counts, summary
from jeval.registry import load_registry
from jeval.results import format_table, new_run_id, write_run
from jeval.run_metadata import run_metadata
from jeval.schema import SCHEMA, derive_columns
from jeval.stderr import with_stderrs
from jeval.task import (
    DialogueTask,
    GenerationTask,
    HarnessContext,
    HarnessTask,
    PlannedTask,
    Request,
    Task,
    TaskOutcome,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    tasks: tuple[str, ...]
    checkpoint: Path | None = None
    base_urls: tuple[str, ...] = ()
    model_id: str | None = None
    model_name: str | None = None
    model_revision: str | None = None
    backend: Literal["server", "local"] = "server"
    engine: Engine = "auto"
    server_args: tuple[str, ...] = ()
    shots: int | None = None
    variant: str | None = None
    limit: int | None = None
    task_args: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    """`--task-arg FAMILY.KEY=VALUE`: family -> key -> values given."""
    data_dir: Path = field(default_factory=lambda: default_home() / "data")
    cache_path: Path = field(default_factory=lambda: default_home() / "generations.sqlite")
    output_dir: Path = Path("results")
    concurrency: int = 16
    max_retries: int = 5
    timeout_s: float = 300.0
    api_key_env: str | None = None
    run_id: str | None = None
    require_all: bool = False
    """Every member of a named group must run (else one that is not prepared, or cannot give the
    shots asked, is skipped and listed)."""
    reasoning: Reasoning | None = None
    """Thinking blocks are separated from answers, and requests get room for them (jeval.reasoning)."""
    local: LocalSettings = field(default_factory=LocalSettings)
    """How an in-process model runs (`--backend local`): device, dtype, batch size, threads."""
    progress: bool = True
    """Progress bars per task on stderr (off with -q or --json)."""
    print_json: bool = False
    """results.json on stdout instead of the score table (`--json`)."""
    seed: int | None = None
    """`--seed`: sent with sampled requests (see jeval.task.Request.payload) and recorded."""
    overrides: Overrides = field(default_factory=Overrides)
    """`--gen-kwargs` and `--system-prompt` (jeval.overrides): generation requests changed, protocols suffixed."""
    command_line: tuple[str, ...] = ()
    """The `jeval` command line that asked for the run, for results.json (empty: called from Python)."""

    def model_spec(self) -> ModelSpec:
        return ModelSpec(checkpoint=self.checkpoint, base_urls=self.base_urls, model_id=self.model_id,
                         name=self.model_name, revision=self.model_revision, backend=self.backend,
                         engine=self.engine, server_args=self.server_args, api_key_env=self.api_key_env,
                         concurrency=self.concurrency, max_retries=self.max_retries, timeout_s=self.timeout_s,
                         log_dir=self.output_dir / "logs", home=default_home(), local=self.local)

    def in_flight(self) -> int:
        """Requests the executor keeps in flight: for an in-process model, enough to fill its
        batches (requests that arrive together are answered together)."""
        if self.backend != "local":
            return self.concurrency
        batch = AUTO_MAX_SEQUENCES if self.local.batch_size == "auto" else self.local.batch_size
        return max(self.concurrency, batch)


async def answer_dialogues(planned: Sequence[PlannedTask], model: Model, executor: Executor,
                           reasoning: Reasoning | None = None, seed: int | None = None
                           ) -> dict[tuple[str, str], tuple[Request, Outcome]]:
    """Answer every request, then the follow-up turns of dialogue tasks, round by round; for each
    item (task, key), its last turn's request and answer. A follow-up turn sees the last answer
    without its thinking block."""
    tasks = {p.task.spec.name: p.task for p in planned}
    turn = [r for p in planned for r in p.requests]
    final: dict[tuple[str, str], tuple[Request, Outcome]] = {}
    window: list[ContextWindow | None] = []
    reading = asyncio.Lock()

    async def ask(job: Job) -> dict[str, Any]:
        """Answer a request the cache does not hold, unless it cannot fit the model's context (read
        on the first such request, so a fully cached run loads nothing)."""
        async with reading:
            if not window:
                window.append(await asyncio.to_thread(model.context_window))
        payload = job.payload
        why = window[0].overflow(payload) if window[0] is not None else None
        if why is not None and reasoning is not None:
            payload, why = _fitted(payload, window[0], reasoning), None
        if why is not None:
            raise ItemRejected(why)
        return await generate(model, payload)

    def asked(request: Request) -> Request:
        return reasoning.asked(request) if reasoning is not None else request

    while turn:
        outcomes = await executor.run([Job(asked(r).payload(seed), r.task) for r in turn], ask, desc="generating")
        following = []
        for request, outcome in zip(turn, outcomes, strict=True):
            final[(request.task, request.key)] = (request, outcome)
            task = tasks[request.task]
            if isinstance(task, DialogueTask) and outcome.response is not None:
                nxt = task.follow_up(request, answer_of(outcome.response, request, reasoning).answer)
                if nxt is not None:
                    following.append(nxt)
        turn = following
    return final


def _fitted(payload: dict[str, Any], window: ContextWindow | None, reasoning: Reasoning) -> dict[str, Any]:
    """A payload whose thinking budget overflows the context, sent with the room the context has
    (the cache still keys it by the payload asked); refused where even the answer cannot fit."""
    assert window is not None
    prompt = window.prompt_tokens(payload)
    answer = payload["max_tokens"] - reasoning.budget
    if prompt is None or window.limit - prompt < answer:
        raise ItemRejected(window.overflow({**payload, "max_tokens": answer}) or "no room for the answer")
    return {**payload, "max_tokens": window.limit - prompt}


def score_generation(p: PlannedTask, answered: Mapping[tuple[str, str], tuple[Request, Outcome]],
                     reasoning: Reasoning | None = None, count: TokenCounter | None = None) -> TaskOutcome:
    """Score every item on its answer (after the thinking block, where there is one)."""
    task = p.task
    assert isinstance(task, GenerationTask)
    failed: dict[str, str] = {}
    items = []
    for first in p.requests:
        request, outcome = answered[(first.task, first.key)]
        response = outcome.response
        if response is None:
            assert outcome.error is not None, "only a refused item has no answer"
            failed[request.key] = outcome.error
            response = {"text": "", "finish_reason": "failed", "prompt_tokens": None, "completion_tokens": None}
        items.append((request, outcome, response, answer_of(response, request, reasoning)))
    scores = task.score_all([(request, found.answer) for request, _, _, found in items])
    rows = []
    for (request, outcome, response, found), score in zip(items, scores, strict=True):
        thinking = (counts(found, response, count) if reasoning is not None or found.reasoning is not None else {})
        raw = {"raw_output": response["text"]} if reasoning is not None else {}
        rows.append({"key": request.key, **request.metadata, "prompt": request.prompt, "target": request.target,
                     "output": found.answer, **raw, **thinking, **score, "finish_reason": response["finish_reason"],
                     "prompt_tokens": response["prompt_tokens"], "completion_tokens": response["completion_tokens"],
                     "cached": outcome.cached, **({"failed": failed[request.key]} if request.key in failed else {})})
    decoding = {"temperature": sorted({r.temperature for r in p.requests}) or [0.0],
                "greedy": all(r.temperature == 0.0 for r in p.requests),
                "max_tokens": sorted({r.max_tokens for r in p.requests}),
                "stop": sorted({s for r in p.requests for s in r.stop}),
                **({"overrides": dict(p.overrides)} if p.overrides else {}),
                **({"reasoning": {**reasoning.as_dict(), "stop": "applied to the answer after the thinking"}}
                   if reasoning is not None else {})}
    tokens = {"prompt": sum(x["prompt_tokens"] or 0 for x in rows),
              "completion": sum(x["completion_tokens"] or 0 for x in rows)}
    empty = sum(1 for x in rows if "failed" not in x and not x["output"].strip())
    thought = summary(rows, reasoning)
    scored = with_stderrs(task.aggregate(scores), scores, task.aggregate, item=task.item_field)
    return TaskOutcome(scored.metrics, rows, len(rows), p.prompt_fingerprint, decoding,
                       extra={"tokens": tokens, "empty_outputs": empty, **failure_record(failed),
                              **({"reasoning": thought} if thought is not None else {}), "stderr": scored.record})


def failure_record(failed: Mapping[str, str]) -> dict[str, Any]:
    """The items a server refused (or that could not fit), scored as empty answers: how many, why
    (counted by reason), and which."""
    if not failed:
        return {}
    reasons = Counter(_reason(why) for why in failed.values())
    return {"failed_items": {"count": len(failed), "reasons": dict(reasons.most_common()),
                             "keys": sorted(failed)[:FAILED_KEYS_KEPT], "scored_as": "empty answer"}}


FAILED_KEYS_KEPT = 50


URL = re.compile(r"https?://\S+")
COUNT = re.compile(r"(?<!HTTP )(?<![\w./-])\d+(?![\w./-])")


def _reason(why: str) -> str:
    """A failure's reason without its item-specific numbers (token counts), so that alike failures
    count as one; URLs and HTTP statuses are kept."""
    parts = URL.split(why)
    urls = URL.findall(why)
    text = "".join(COUNT.sub("N", part) + (urls[i] if i < len(urls) else "") for i, part in enumerate(parts))
    return text[:300]


def _primary(p: PlannedTask, metrics: Mapping[str, Any]) -> str | None:
    declared = p.task.spec.primary_metric
    if declared is not None and declared in metrics:
        return declared
    return next((k for k, v in metrics.items() if k != "unavailable" and not isinstance(v, dict)), None)


def task_result(p: PlannedTask, outcome: TaskOutcome, requests: Mapping[str, int]) -> dict[str, Any]:
    """What every task's result carries, around what its evaluation produced."""
    manifest = p.manifest
    return {
        "protocol": p.protocol,
        "prompt_source": dict(p.prompt_source),
        "category": p.task.spec.category,
        "shots": p.shots if outcome.shots is None else outcome.shots,
        "n_samples": outcome.n_samples,
        "limit": p.limit,
        "metrics": outcome.metrics,
        "primary_metric": _primary(p, outcome.metrics),
        "data_fingerprint": outcome.data_fingerprint if outcome.data_fingerprint is not None
        else manifest.get("data_fingerprint", ""),
        "data_checksums_from_mirror": bool(manifest.get("checksums_from_mirror", False)),
        "data_sources": outcome.data_sources if outcome.data_sources is not None else manifest.get("sources", []),
        "prompt_fingerprint": outcome.prompt_fingerprint,
        "decoding": outcome.decoding,
        "requests": dict(requests),
        **outcome.extra,
    }


async def evaluate(planned: Sequence[PlannedTask], model: Model, executor: Executor, data_dir: Path,
                   reasoning: Reasoning | None = None, seed: int | None = None) -> dict[str, TaskOutcome]:
    outcomes: dict[str, TaskOutcome] = {}
    harnesses: dict[str, list[PlannedTask]] = {}
    for p in planned:
        if isinstance(p.task, HarnessTask):
            harnesses.setdefault(p.task.harness.name, []).append(p)
    context = HarnessContext(model, executor, data_dir, seed)
    for members in harnesses.values():
        task = members[0].task
        assert isinstance(task, HarnessTask)
        outcomes.update(await task.harness.evaluate(members, context))
    generation = [p for p in planned if isinstance(p.task, GenerationTask)]
    if generation:
        answered = await answer_dialogues(generation, model, executor, reasoning, seed)
        count = await asyncio.to_thread(_token_counter, model) if reasoning is not None else None
        for p in generation:
            outcomes[p.task.spec.name] = score_generation(p, answered, reasoning, count)
    return outcomes


def _token_counter(model: Model) -> TokenCounter | None:
    """Counts tokens with the model's tokenizer, where jeval can read it without the engine."""
    window = model.context_window()
    if window is None:
        return None
    tokenizer = window.tokenizer

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def _config_record(config: RunConfig) -> dict[str, Any]:
    record = asdict(config)
    record["task_args"] = {family: {k: list(v) for k, v in args.items()} for family, args in config.task_args.items()}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in record.items()}


@contextlib.asynccontextmanager
async def _given(model: Model) -> AsyncIterator[Model]:
    yield model


def created_stamp(started: float) -> str:
    """When the run started, to the microsecond (runs of one second must still order), with the
    local offset written as jeval always has (`+0900`)."""
    moment = datetime.fromtimestamp(started).astimezone()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f%z")


def check_model(config: RunConfig, model: Model | None, tasks: Sequence[Task]) -> ModelSpec | None:
    """Fail, before anything is loaded or started, when a task needs what the model's engine cannot
    give, or --gen-kwargs asks what it cannot apply; the model's spec where jeval is to open the
    model itself."""
    needs = {t.spec.name: t.spec.needs for t in tasks}
    if model is not None:
        check_capabilities(model.capabilities, needs, model.identity.engine)
        check_engine(config.overrides, model.identity.engine)
        return None
    spec = config.model_spec()
    engine = engine_for(spec)
    check_capabilities(engine.capabilities, needs, engine.name, engine.refusal)
    check_engine(config.overrides, engine.name)
    return spec


def model_to_open(spec: ModelSpec | None, model: Model | None
                  ) -> tuple[ModelIdentity, contextlib.AbstractAsyncContextManager[Model]]:
    """Who the model is (fingerprinting a checkpoint, asking an endpoint what it serves) and how to
    open it; nothing is started until the first request the cache cannot answer."""
    if model is not None:
        return model.identity, _given(model)
    assert spec is not None
    resolved = resolve(spec)
    return resolved.identity, open_model(resolved)


def assemble(config: RunConfig, run_id: str, started: float, identity: ModelIdentity, planned: Sequence[PlannedTask],
             outcomes: Mapping[str, TaskOutcome], executor: Executor, usage: Mapping[str, int],
             backend: Mapping[str, Any], generation_s: float, skipped: Mapping[str, str] | None = None
             ) -> dict[str, Any]:
    """results.json (schema jeval-results/2): task results, then the suites' summaries and the
    declared columns computed from them; tasks of named groups that were skipped, with why."""
    skipped = dict(skipped or {})
    registry = load_registry()
    tasks = {p.task.spec.name: task_result(p, outcomes[p.task.spec.name], executor.tally.for_task(p.task.spec.name))
             for p in planned}
    summaries = {}
    for name, suite in registry.suites.items():
        summary = suite.summarize(tasks)
        if summary is not None:
            left_out = {m: skipped[m] for m in suite.members if m in skipped}
            summaries[name] = {**summary, "skipped": left_out} if left_out else summary
    totals = executor.tally.totals()
    return {
        "schema": SCHEMA,
        "jeval_version": __version__,
        "run_id": run_id,
        "created": created_stamp(started),
        "model": {**identity.as_dict(), "id": identity.served_id or identity.path},
        "backend": dict(backend),
        "config": _config_record(config),
        "tasks": tasks,
        **({"skipped": skipped} if skipped else {}),
        "summaries": summaries,
        "columns": [c.as_dict() for c in derive_columns(tasks, summaries)],
        "timings": {"total_s": round(time.time() - started, 3), "generation_s": round(generation_s, 3)},
        "requests": {"total": totals["total"], "from_cache": totals["from_cache"], "sent": totals["sent"],
                     "retries": usage["retries"]},
        "tokens": {"prompt": usage["prompt_tokens"], "completion": usage["completion_tokens"]},
        **run_metadata(config.command_line, config.seed),
    }


async def run_async(config: RunConfig, model: Model | None = None,
                    on_first_answer: Callable[[], None] | None = None) -> Path:
    """Evaluate the configured model, or `model` (any object with jeval.models.model.Model's
    methods, e.g. one already in memory), on the configured tasks; `on_first_answer`: see
    jeval.executor.Executor."""
    started = time.time()
    registry = load_registry()
    tasks = registry.resolve(list(config.tasks))
    spec = check_model(config, model, tasks)
    if config.reasoning is None and any(config.variant in t.spec.reasoning_variants for t in tasks):
        markers = Reasoning()
        config = replace(config, reasoning=markers)
        log.info("prompt variant %r is for reasoning models: thinking blocks (%s … %s) are taken off answers",
                 config.variant, markers.start, markers.end)
    made = plan(tasks, data_dir=config.data_dir, shots=config.shots, limit=config.limit, variant=config.variant,
                args=config.task_args, named=registry.named(list(config.tasks)), require_all=config.require_all,
                suites=tuple(registry.suites.values()), reasoning=config.reasoning is not None,
                overrides=config.overrides)
    planned = made.tasks
    for name, why in made.skipped.items():
        log.warning("skipped %s: %s", name, why)
    identity, opened = model_to_open(spec, model)
    run_id = config.run_id or new_run_id()
    run_dir = config.output_dir / folder_name(identity) / run_id
    if (run_dir / "results.json").exists():
        raise JevalError(f"{run_dir} already holds the results of run {run_id!r} of this model; "
                         "choose another --run-id")
    cache = GenerationCache(config.cache_path)
    try:
        async with opened as asked:
            executor = Executor(GenerationStore(cache, identity), concurrency=config.in_flight(),
                                progress=config.progress, on_first_answer=on_first_answer)
            t0 = time.monotonic()
            outcomes = await evaluate(planned, asked, executor, config.data_dir, config.reasoning, config.seed)
            generation_s = time.monotonic() - t0
            usage, backend = asked.usage.as_dict(), asked.describe()
    finally:
        cache.close()
    results = assemble(config, run_id, started, identity, planned, outcomes, executor, usage, backend, generation_s,
                       made.skipped)
    path = write_run(run_dir, results, {p.task.spec.name: outcomes[p.task.spec.name].rows for p in planned})
    for p in planned:
        p.task.write_outputs(outcomes[p.task.spec.name].rows, path.parent, results)
    totals = results["requests"]
    log.info("requests: %d, %d from the cache, %d sent%s", totals["total"], totals["from_cache"], totals["sent"],
             f", {totals['retries']} retried" if totals.get("retries") else "")
    if config.print_json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
    else:
        print(format_table(results))
        print(f"results: {path}")
    check_answered(results, path)
    return path


def check_answered(results: Mapping[str, Any], path: Path) -> None:
    """Warn about items that failed or came back empty; when no item of the run got an answer, the
    run failed (its results are kept, for the reasons)."""
    asked = failed = 0
    reasons: list[str] = []
    for name, task in results["tasks"].items():
        n = task.get("n_samples", 0)
        lost = task.get("failed_items", {}).get("count", 0)
        asked, failed = asked + n, failed + lost
        if lost:
            reason = next(iter(task["failed_items"]["reasons"]), "")
            reasons.append(reason)
            log.warning("%s: %d of %d items failed and were scored as empty answers (%s)", name, lost, n, reason)
        if task.get("empty_outputs"):
            log.warning("%s: %d of %d answers were empty", name, task["empty_outputs"], n)
    if asked and failed == asked:
        raise JevalError(f"every one of the {asked} requests failed ({reasons[0]}); no score means anything; the "
                         f"reasons are in {path}")


def run(config: RunConfig, model: Model | None = None, on_first_answer: Callable[[], None] | None = None) -> Path:
    return asyncio.run(run_async(config, model, on_first_answer))
