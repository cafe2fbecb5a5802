"""lm-eval's model interface answered by the run's model, through the run's executor.

lm-eval calls `generate_until` and `loglikelihood` from a worker thread with whole batches; each
batch goes to the executor on jeval's event loop (so requests run concurrently, the SQLite cache is
used from one thread, and every answer is committed as it arrives: a killed run asks again only
what is missing). Generation requests are keyed exactly like jeval's own completion requests and
share their cache entries: a task's generation_kwargs (its own, updated by `--gen-kwargs` as
lm-eval's `--gen_kwargs` updates them) become the request's settings, the sampling ones
(jeval.task.SAMPLING) included, and the run's seed goes with a sampled request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from lm_eval.api.model import LM

from jeval.errors import JevalError
from jeval.executor import Executor, Job
from jeval.models.model import SPLIT_RULE, Model, Unscorable, cannot_score, generate
from jeval.overrides import GenKwargs, greedy_refusal
from jeval.task import SAMPLING, TRUNCATION

DEFAULT_MAX_GEN_TOKS = 256
"""lm-eval's own default when a task sets no `max_gen_toks` (its HF, vLLM and API models)."""


class JevalLM(LM):
    def __init__(self, model: Model, executor: Executor, loop: asyncio.AbstractEventLoop, ll_tasks: list[str],
                 label: Callable[[Any], str], refusal: JevalError | None = None, seed: int | None = None,
                 gen: GenKwargs | None = None):
        """`ll_tasks` name the tasks in errors about log-likelihoods; `label` gives the jeval task a
        request is counted under; `refusal` is raised when lm-eval asks for log-likelihoods the
        model cannot give (for tasks whose kind is only known once lm-eval has loaded them);
        `seed`: the run's; `gen`: the run's --gen-kwargs (already merged into the tasks' own
        generation_kwargs by lm-eval), for refusing narrowing settings where every generation
        request is greedy (they would change nothing)."""
        super().__init__()
        self.seed = seed
        self.gen = gen
        self.model = model
        self.executor = executor
        self.loop = loop
        self.ll_tasks = ll_tasks
        self.label = label
        self.refusal = refusal
        self.counts = {"loglikelihood": 0, "generate_until": 0, "from_cache": 0}

    def _run_all(self, kind: str, jobs: list[Job], answer: Callable[[Job], Awaitable[dict[str, Any]]]
                 ) -> list[dict[str, Any]]:
        self.counts[kind] += len(jobs)
        future = asyncio.run_coroutine_threadsafe(self.executor.run(jobs, answer, desc=kind), self.loop)
        try:
            outcomes = future.result()
        except Unscorable as e:
            raise cannot_score(self.ll_tasks, e.why) from None
        refused = [o.error for o in outcomes if o.response is None]
        if refused:
            raise JevalError(f"{len(refused)} of {len(outcomes)} {kind} requests were refused ({refused[0]}); lm-eval "
                             "scores every request, so these tasks cannot be scored without them")
        self.counts["from_cache"] += sum(1 for o in outcomes if o.cached)
        return [o.response for o in outcomes if o.response is not None]

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """Every request the cache lacks goes to the model at once, which batches them (in process)
        or sends them concurrently (a server); each answer is committed as it comes."""
        if self.refusal is not None:
            raise self.refusal
        jobs = [Job({"kind": "loglikelihood", "context": r.args[0], "continuation": r.args[1], "split": SPLIT_RULE},
                    self.label(r)) for r in requests]
        self.counts["loglikelihood"] += len(jobs)

        async def answer_all(missing: list[Job]) -> AsyncIterator[tuple[int, dict[str, Any]]]:
            pairs = [(job.payload["context"], job.payload["continuation"]) for job in missing]
            async for i, found in self.model.loglikelihoods(pairs):
                yield i, {"logprob": found.logprob, "is_greedy": found.is_greedy}

        future = asyncio.run_coroutine_threadsafe(
            self.executor.run_batched(jobs, answer_all, desc="loglikelihood"), self.loop)
        try:
            outcomes = future.result()
        except Unscorable as e:
            raise cannot_score(self.ll_tasks, e.why) from None
        self.counts["from_cache"] += sum(1 for o in outcomes if o.cached)
        return [(o.response["logprob"], o.response["is_greedy"]) for o in outcomes if o.response is not None]

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        raise JevalError("rolling log-likelihoods (perplexity tasks) are not offered by jeval's lm-eval bridge; "
                         "use `jeval run --tasks ppl`")

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """lm-eval repeats a request once per sample it wants (`repeats: 64` for pass@64): a sampled
        repeat gets its index in the payload and the seed, as jeval's own tasks' samples do, so that
        the samples are drawn apart and cached apart instead of being one answer 64 times."""
        jobs = []
        drawn: dict[str, int] = {}
        for request in requests:
            context, kwargs = request.args
            decoding = decoding_of(kwargs, self.label(request))
            payload = {"kind": "completion", "prompt": context, "max_tokens": decoding.max_tokens,
                       "temperature": decoding.temperature, "stop": decoding.until}
            payload.update(decoding.sampling)
            if decoding.temperature > 0:
                asked = json.dumps(payload, sort_keys=True, ensure_ascii=False)
                sample = drawn.get(asked, 0)
                drawn[asked] = sample + 1
                if sample:
                    payload["sample"] = sample
                if self.seed is not None:
                    payload["seed"] = self.seed + sample
            jobs.append(Job(payload, self.label(request)))
        if self.gen is not None and self.gen.narrowing() and jobs and all(j.payload["temperature"] == 0 for j in jobs):
            raise greedy_refusal(self.gen, ", ".join(dict.fromkeys(j.task for j in jobs)))

        async def answer(job: Job) -> dict[str, Any]:
            return await generate(self.model, job.payload)

        return [r["text"] for r in self._run_all("generate_until", jobs, answer)]


@dataclass(frozen=True)
class Decoding:
    until: list[str]
    max_tokens: int
    temperature: float
    sampling: dict[str, float]


APPLIED = frozenset({"until", "max_gen_toks", "do_sample", "temperature", *SAMPLING})
"""The generation settings the bridge applies (after lm-eval's own normalisation)."""
NO_OPS = {"num_beams": 1}
"""Settings lm-eval's transformers model passes to `generate()` that change nothing at these values."""


def decoding_of(kwargs: dict[str, Any] | None, task: str) -> Decoding:
    """A request's generation_kwargs read as lm-eval's models read them (its `normalize_gen_kwargs`:
    `max_new_tokens`, `max_tokens` and `max_completion_tokens` stand for `max_gen_toks`; a
    temperature above 0 without `do_sample` samples); a setting the bridge would not apply (beam
    search, `max_length`, ...) is refused, naming the task, rather than dropped."""
    from lm_eval.models.utils import normalize_gen_kwargs

    found = dict(normalize_gen_kwargs(dict(kwargs or {}), DEFAULT_MAX_GEN_TOKS))
    ignored = {k: v for k, v in found.items() if k not in APPLIED and not (k in NO_OPS and v == NO_OPS[k])}
    if ignored:
        listed = ", ".join(f"{k}={v!r}" for k, v in ignored.items())
        raise JevalError(f"{task}: its generation_kwargs ask for {listed}, which jeval's lm-eval bridge cannot apply "
                         f"(it applies {', '.join(sorted(APPLIED))}); the answers would not be the ones the task "
                         "defines")
    temperature = float(found["temperature"]) if found.get("do_sample") else 0.0
    until = [stop for stop in found["until"] if stop]
    return Decoding(until, int(found["max_gen_toks"]), temperature, sampling_of(found, temperature))


def sampling_of(kwargs: dict[str, Any], temperature: float) -> dict[str, float]:
    """The sampling settings (jeval.task.SAMPLING) among a task's generation_kwargs, in payload
    order; those that only narrow sampling are left out of a greedy request, where they are no-ops."""
    found: dict[str, float] = {}
    for name in SAMPLING:
        value = kwargs.get(name)
        if value is None or (temperature == 0 and name in TRUNCATION):
            continue
        found[name] = int(value) if name == "top_k" else float(value)
    return found
