"""Scoring generated code against HumanEval-style `check(candidate)` tests, with two sandboxes so
that generated code never runs where the verdict is computed.

Threat model: as in jeval.tasks.jaster.code_exec, the generated code is hostile. It can rewrite
anything in its own interpreter (builtins, AssertionError, frames), write any bytes to any
descriptor, exit with any status, sleep forever. HumanEval's tests cannot be split into probes the
way MBPP's single asserts can (they loop, call the problem's helpers such as `poly` in /32 or
`encode_cyclic` in /38, compare with tolerances), so the test runs whole, but apart:

- sandbox T (sandbox_side.trusted) runs only the problem's prompt and test, with `candidate` a
  proxy answering from a table of the candidate's results; a call it lacks is recorded and the
  round goes on (see sandbox_side);
- sandbox C (sandbox_side.candidate) runs `prompt + completion` and calls the entry point on the
  argument tuples T asked for, reporting plain values;
- the host alternates (at most `rounds` answered rounds) until T completes with no call missing.
  A sample passes iff T then reports that check returned and every assert held.

C's report is read strictly (tagged plain data, bounded in size and depth; anything malformed
fails the sample) and only ever becomes the return values of the proxy in T. So a program that
forges a report, exits 0 early, patches builtins or returns an object whose `__eq__` is always
True gains nothing: at best it chooses its return values, as any program does. Sandbox limits
(time, memory, no network, no processes) hold on both sides; T's limits bound what the test does
with the candidate's values. T's soundness rests on the problem's code never turning those values
into code: `jeval data prepare` refuses a prompt or test that calls eval, exec, compile or
__import__ (no JHumanEval problem does).

A completion given twice for one problem (greedy samples, repeated answers) is checked once, and
T's first round, which needs no answer, is run once per problem.

Differences from HumanEval's own harness (one `exec` of prompt + completion + test):
- the test's helpers and the problem's prompt functions are the problem's own, never ones the
  completion redefines;
- `random` is seeded (`seed`) before the test runs (/38, /50, /53 draw unseeded inputs upstream);
- each call gets fresh copies of its arguments, so a test can never observe the candidate mutating
  them; calls in later rounds run in a fresh process (state kept between calls is lost);
- a return value that is not plain data (a generator, an object) is opaque: it equals nothing,
  supports no operation, and only its truth is kept;
- the time limit is per sandbox run (`timeout_s`, CPU and wall), not 3 s for the whole test.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from jeval.tasks.sandbox import Limits, Run, Sandbox, program_source
from jeval.tasks.sandbox_values import NAME_CHARS, decode

SIDE = Path(__file__).with_name("sandbox_side.py")
CPU_LIMIT_STATUS = (128 + signal.SIGXCPU, 128 + signal.SIGKILL)
"""Exit statuses of a program the CPU limit ended (SIGXCPU at the soft limit, SIGKILL at the hard)."""


@dataclass(frozen=True)
class ScoringConfig:
    timeout_s: float = 10.0
    """CPU seconds of one sandbox run (the wall limit adds jeval.tasks.sandbox.STARTUP_GRACE_S)."""
    memory_bytes: int = 1 << 30
    output_bytes: int = 4 << 20
    """Bound on one report (a round's values)."""
    rounds: int = 8
    """Rounds of candidate answers a sample may take before it fails."""
    seed: int = 0
    """`random.seed` before the test runs (HumanEval's tests draw some inputs unseeded)."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.rounds < 1 or self.workers < 1:
            raise ValueError("timeout_s must be positive, rounds and workers at least 1")

    def limits(self) -> Limits:
        return Limits.for_timeout(self.timeout_s, memory_bytes=self.memory_bytes, output_bytes=self.output_bytes)

    def describe(self) -> dict[str, Any]:
        return {"timeout_s": self.timeout_s, "rounds": self.rounds, "seed": self.seed,
                "design": "test in sandbox T (problem code only), candidate in sandbox C (values only)"}


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str
    """The code the model continued (its stub and the problem's helpers)."""
    test: str
    entry_point: str


@dataclass(frozen=True)
class Verdict:
    passed: bool
    result: str
    """As HumanEval's harness words it: "passed", "timed out" or "failed: <why>"."""
    rounds: int = 0
    calls: int = 0


@dataclass(frozen=True)
class _Report:
    """What T said: `pass`, `fail`, `pending` (with the calls it lacks) or `error` (T itself
    could not run: the problem's code, or the test on these answers)."""

    status: str
    reason: str
    missing: tuple[str, ...] = ()


def _side(mode: str, job: dict[str, Any], config: ScoringConfig, sandbox: Sandbox) -> tuple[Run, Any]:
    run = sandbox.run_python(program_source(SIDE), json.dumps(job).encode(), config.limits(), (mode,))
    if run.reason != "exited" or run.status != 0:
        return run, None
    try:
        return run, json.loads(run.stdout)
    except (ValueError, RecursionError):
        return run, None


def _trusted(problem: Problem, answers: dict[str, list[Any]], config: ScoringConfig, sandbox: Sandbox) -> _Report:
    job = {"prompt": problem.prompt, "test": problem.test, "entry_point": problem.entry_point,
           "answers": list(answers.items()), "seed": config.seed}
    run, report = _side("trusted", job, config, sandbox)
    if report is None:
        why = "timed out" if run.reason == "timeout" else run.reason if run.reason != "exited" else \
            f"exit status {run.status}" if run.status else "unreadable report"
        return _Report("error", f"the test did not complete ({why})")
    if not isinstance(report, dict) or report.get("status") not in ("pass", "fail", "pending", "error"):
        return _Report("error", "the test did not complete (unreadable report)")
    missing = tuple(str(key) for key in report.get("missing", [])) if report["status"] == "pending" else ()
    return _Report(report["status"], str(report.get("reason", "")), missing)


def _candidate(problem: Problem, completion: str, calls: Sequence[str], config: ScoringConfig, sandbox: Sandbox
               ) -> list[list[Any]] | str:
    """The candidate's answers to `calls`, each validated plain data, or why there are none."""
    job = {"program": problem.prompt + completion, "entry_point": problem.entry_point, "calls": list(calls)}
    run, report = _side("candidate", job, config, sandbox)
    if run.reason == "timeout" or run.status in CPU_LIMIT_STATUS:
        return "timed out"
    if report is None:
        return f"failed: {run.reason}" if run.reason != "exited" else \
            f"failed: exit status {run.status}" if run.status else "failed: no report"
    if not isinstance(report, dict) or report.get("loaded") is not True:
        error = report.get("error") if isinstance(report, dict) else None
        return f"failed: {str(error)[:NAME_CHARS]}" if isinstance(error, str) else "failed: unreadable report"
    results = report.get("results")
    if not isinstance(results, list) or len(results) != len(calls):
        return "failed: unreadable report"
    answers = []
    for answer in results:
        checked = _checked(answer)
        if checked is None:
            return "failed: unreadable report"
        answers.append(checked)
    return answers


def _checked(answer: Any) -> list[Any] | None:
    """An answer from C, if well formed: ["ok", tagged plain value] or ["raised", exception name]."""
    if not isinstance(answer, list) or len(answer) != 2:
        return None
    kind, value = answer
    if kind == "raised":
        return ["raised", value[:NAME_CHARS]] if isinstance(value, str) else None
    if kind != "ok":
        return None
    try:
        decode(value)
    except (ValueError, RecursionError):
        return None
    return ["ok", value]


def check_sample(problem: Problem, completion: str, config: ScoringConfig, sandbox: Sandbox,
                 first: _Report | None = None) -> Verdict:
    """Run one completion against its problem's test; `first` is T's first round (no answers),
    the same for every sample of a problem."""
    report = first or _trusted(problem, {}, config, sandbox)
    answers: dict[str, list[Any]] = {}
    rounds = 0
    while report.status == "pending":
        if rounds >= config.rounds:
            return Verdict(False, f"failed: more than {config.rounds} rounds of calls", rounds, len(answers))
        asked = [key for key in report.missing if key not in answers]
        if not asked:
            return Verdict(False, "failed: the test made no progress", rounds, len(answers))
        got = _candidate(problem, completion, asked, config, sandbox)
        if isinstance(got, str):
            return Verdict(False, got, rounds, len(answers))
        answers.update(zip(asked, got, strict=True))
        rounds += 1
        report = _trusted(problem, answers, config, sandbox)
    if report.status == "pass":
        return Verdict(True, "passed", rounds, len(answers))
    return Verdict(False, f"failed: {report.reason}", rounds, len(answers))


def check_samples(samples: Sequence[tuple[Problem, str]], config: ScoringConfig, sandbox: Sandbox) -> list[Verdict]:
    """Each (problem, completion), `config.workers` sandboxes at a time; verdicts in input order.
    T's first round is run once per problem, and a completion given twice for one problem is
    checked once."""
    if not samples:
        return []
    problems = list(dict.fromkeys(problem for problem, _ in samples))
    distinct = list(dict.fromkeys(samples))
    with ThreadPoolExecutor(max_workers=min(config.workers, len(distinct))) as pool:
        firsts = dict(zip(problems, pool.map(lambda p: _trusted(p, {}, config, sandbox), problems)))
        checked = pool.map(lambda s: check_sample(s[0], s[1], config, sandbox, firsts[s[0]]), distinct)
        verdicts = dict(zip(distinct, tqdm(checked, total=len(distinct), desc="running generated code",
                                           unit="sample", leave=False, disable=None)))
    return [verdicts[sample] for sample in samples]
