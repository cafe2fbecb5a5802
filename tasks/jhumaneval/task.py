"""JHumanEval (HumanEval with Japanese docstrings): zero-shot code completion, pass@k, scored in
two sandboxes (scoring.py).

Prompting, as lm-eval's `humaneval` task (0.4.x) asks HumanEval: the problem's `prompt` is sent as
it is to the completions endpoint; the model continues the function body until one of HumanEval's
stop sequences (`\\nclass`, `\\ndef`, `\\n#`, `\\nif`, `\\nprint`) or MAX_TOKENS (lm-eval's
`max_gen_toks`, 1024); the program is `prompt + completion`. Greedy, one sample per problem, by
default.

Task arguments (`--task-arg jhumaneval.NAME=VALUE`):
- `samples=N`: N samples per problem (requests with `sample` 0..N-1, each its own cache entry);
- `temperature=T`: the sampling temperature (default 0, greedy; samples above 1 need T > 0);
- `prompt=ja|en`: the Japanese prompts (default) or the original English ones (`prompt_en`).

Metrics: pass@k for each k in (1, 10, 100) not above N, by the unbiased estimator of the Codex
paper (Chen et al. 2021), 1 - C(n-c, k) / C(n, k), computed as a product, averaged over problems;
each row carries its sample's verdict and its problem's pass count. The protocol is
`jhumaneval-humaneval-1`, with `/en` for the English prompts and `/nN-tT` for sampling other than
one greedy sample, so that greedy and sampled pass@1 never share a leaderboard column.

Without a working sandbox (bubblewrap) nothing is run: pass@k is None, with the reason under
`unavailable`, as for Jaster's mbpp.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl
from jeval.task import (
    ColumnValue,
    GenerationTask,
    Request,
    Source,
    TaskArg,
    TaskInputs,
    TaskRequests,
    TaskSpec,
    finite,
)
from jeval.tasks.jhumaneval.data import DATA, PREPARED, read_prepared, read_upstream, write_prepared
from jeval.tasks.jhumaneval.scoring import Problem, ScoringConfig, check_samples
from jeval.tasks.sandbox import Sandbox, SandboxUnavailable

log = logging.getLogger(__name__)

NAME = "jhumaneval"
PROTOCOL = "jhumaneval-humaneval-1"
STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
MAX_TOKENS = 1024
KS = (1, 10, 100)
MAX_SAMPLES = 1000
SAMPLES_FILE = "jhumaneval_samples.jsonl"
PROMPT_FIELDS = {"ja": "prompt", "en": "prompt_en"}


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from n samples of which c passed: 1 - C(n-c, k) / C(n, k),
    as the product 1 - prod_{i=n-c+1}^{n} (1 - k/i) (numerically stable; Chen et al. 2021)."""
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    missed = 1.0
    for i in range(n - c + 1, n + 1):
        missed *= 1.0 - k / i
    return 1.0 - missed


def _samples(value: str) -> int:
    n = int(value)
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"samples must be 1 to {MAX_SAMPLES}, got {n}")
    return n


def _temperature(value: str) -> float:
    t = float(value)
    if not 0.0 <= t <= 2.0:
        raise ValueError(f"temperature must be 0 to 2, got {value}")
    return t


def _language(value: str) -> str:
    if value not in PROMPT_FIELDS:
        raise ValueError(f"prompt must be {' or '.join(PROMPT_FIELDS)}, got {value!r}")
    return value


ARGS = (
    TaskArg("samples", f"samples per problem, for pass@k (1 to {MAX_SAMPLES}; default 1)", _samples),
    TaskArg("temperature", "sampling temperature (default 0: greedy; samples above 1 need more)", _temperature),
    TaskArg("prompt", "ja: the Japanese prompts (default); en: the original English ones", _language),
)


@dataclass(frozen=True)
class Settings:
    samples: int = 1
    temperature: float = 0.0
    language: str = "ja"

    @classmethod
    def of(cls, args: Mapping[str, Any]) -> Settings:
        chosen = cls(args.get("samples", 1), args.get("temperature", 0.0), args.get("prompt", "ja"))
        if chosen.samples > 1 and chosen.temperature == 0.0:
            raise JevalError(f"{NAME}: {chosen.samples} samples at temperature 0 would all be the same answer; give "
                             "a sampling temperature (--task-arg jhumaneval.temperature=0.8, say) or one sample")
        return chosen

    @property
    def protocol(self) -> str:
        name = PROTOCOL + ("/en" if self.language == "en" else "")
        if self.samples != 1 or self.temperature != 0.0:
            name += f"/n{self.samples}-t{self.temperature:g}"
        return name

    def describe(self) -> dict[str, Any]:
        return {"protocol": self.protocol, "prompt_field": PROMPT_FIELDS[self.language], "samples": self.samples,
                "temperature": self.temperature, "max_tokens": MAX_TOKENS, "stop": list(STOP)}


def _key(task_id: str, sample: int) -> str:
    return task_id if sample == 0 else f"{task_id}#{sample}"


@dataclass(frozen=True, eq=False)
class JHumanEvalTask(GenerationTask):
    item_field = "task_id"
    config: ScoringConfig = field(default_factory=ScoringConfig)
    _found: dict[str, Sandbox | SandboxUnavailable] = field(default_factory=dict, repr=False)
    """The sandbox, made on first use (or why there is none)."""

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(NAME, "CG", PROTOCOL, NAME, args=ARGS, primary_metric="pass@1", label="JHumanEval pass@1")

    def sources(self) -> tuple[Source, ...]:
        return (DATA,)

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        write_prepared(read_upstream(files[DATA.url]), out_dir)

    def prepared_counts(self, task_dir: Path) -> dict[str, int]:
        return {"test": sum(1 for line in (task_dir / PREPARED).read_text(encoding="utf-8").splitlines()
                            if line.strip())}

    def requests(self, inputs: TaskInputs) -> TaskRequests:
        settings = Settings.of(inputs.args)
        field_name = PROMPT_FIELDS[settings.language]
        problems = read_prepared(inputs.data_dir)[:inputs.limit]
        requests = [
            Request(task=NAME, key=_key(p["task_id"], sample), prompt=p[field_name], max_tokens=MAX_TOKENS,
                    target=p["test"], temperature=settings.temperature, stop=STOP, sample=sample,
                    metadata={"task_id": p["task_id"], "sample": sample, "entry_point": p["entry_point"],
                              "prompt_field": field_name})
            for p in problems for sample in range(settings.samples)
        ]
        fingerprint = hashlib.sha256(json.dumps(settings.describe(), sort_keys=True).encode()).hexdigest()
        return TaskRequests(requests, fingerprint, settings.protocol)

    def _sandbox(self) -> Sandbox:
        if "sandbox" not in self._found:
            try:
                self._found["sandbox"] = Sandbox.create()
            except SandboxUnavailable as e:
                self._found["sandbox"] = e
        found = self._found["sandbox"]
        if isinstance(found, SandboxUnavailable):
            raise found
        return found

    def score(self, request: Request, output: str) -> dict[str, Any]:
        return self.score_all([(request, output)])[0]

    def score_all(self, answered: Sequence[tuple[Request, str]]) -> list[dict[str, Any]]:
        """Every sample run against its problem's test (in parallel sandboxes); each row gets its
        verdict and its problem's pass count."""
        try:
            sandbox = self._sandbox()
        except SandboxUnavailable as e:
            log.warning("%s: generated code is only run in a sandbox, and none is available: %s", NAME, e)
            why = f"not run: generated code is only run in a sandbox: {e}"
            return [{"task_id": r.metadata["task_id"], "passed": None, "result": why, "problem_passed": None,
                     "problem_samples": None} for r, _ in answered]
        samples = [(Problem(r.metadata["task_id"], r.prompt, r.target, r.metadata["entry_point"]), output)
                   for r, output in answered]
        verdicts = check_samples(samples, self.config, sandbox)
        tried = Counter(problem.task_id for problem, _ in samples)
        passed = Counter(problem.task_id for (problem, _), v in zip(samples, verdicts) if v.passed)
        return [{"task_id": problem.task_id, "passed": v.passed, "result": v.result, "rounds": v.rounds,
                 "problem_passed": passed[problem.task_id], "problem_samples": tried[problem.task_id]}
                for (problem, _), v in zip(samples, verdicts)]

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, Any]:
        """pass@k for every k in KS not above the samples per problem, the share of samples that
        passed, the outcomes by kind, and how the code was run."""
        if any(s["passed"] is None for s in scores):
            reason = next(s["result"] for s in scores if s["passed"] is None)
            return {"pass@1": None, "unavailable": {"pass@1": reason.removeprefix("not run: ")}}
        by_problem: dict[str, list[bool]] = {}
        for s in scores:
            by_problem.setdefault(s["task_id"], []).append(bool(s["passed"]))
        fewest = min((len(v) for v in by_problem.values()), default=0)
        out: dict[str, Any] = {}
        for k in KS:
            if k <= fewest:
                out[f"pass@{k}"] = sum(pass_at_k(len(v), sum(v), k) for v in by_problem.values()) / len(by_problem)
        if not by_problem:
            out["pass@1"] = float("nan")
        out["passed_samples"] = sum(bool(s["passed"]) for s in scores) / len(scores) if scores else float("nan")
        out["counts"] = {"problems": len(by_problem), "samples_per_problem": fewest}
        out["results"] = dict(Counter(_kind(s["result"]) for s in scores).most_common())
        found = self._found.get("sandbox")
        if isinstance(found, Sandbox):
            out["sandbox"] = {**found.describe(self.config.limits()), "scoring": self.config.describe()}
        return out

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        """pass@1 (the task's cell), and pass@10 / pass@100 where enough samples were drawn."""
        metrics = result.get("metrics", {})
        unavailable = metrics.get("unavailable", {})
        notes = (("not scored", str(unavailable.get("pass@1"))),) if unavailable else ()
        cells = [ColumnValue("JHumanEval pass@1", NAME, finite(metrics.get("pass@1")), tasks=(NAME,), notes=notes)]
        cells += [ColumnValue(f"JHumanEval pass@{k}", NAME, finite(metrics.get(f"pass@{k}")), order=i, tasks=(NAME,))
                  for i, k in enumerate(KS[1:], 1) if f"pass@{k}" in metrics]
        return cells

    def write_outputs(self, rows: list[dict[str, Any]], run_dir: Path, results: Mapping[str, Any]) -> None:
        """The samples as HumanEval's `evaluate_functional_correctness` reads them (`task_id`,
        `completion`), with this run's verdict (`passed`, `result`) as its results file has it."""
        atomic_write_jsonl(run_dir / SAMPLES_FILE,
                           [{"task_id": r["task_id"], "completion": r["output"], "passed": r["passed"],
                             "result": r["result"]} for r in rows])


def _kind(result: str) -> str:
    """A verdict without its details (line numbers), to count alike outcomes together."""
    return result.split(" (", 1)[0]
