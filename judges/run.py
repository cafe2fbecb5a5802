"""A judging run: inputs -> judge jobs -> (cached) judge answers -> verdicts -> files.

Writes `<output>/results.json` (scores, the judge, the prompt set, counts, tokens, cost),
`judgments.jsonl` (one FastChat-format record per judgment, failures included with the judge's
raw text) and, for pairwise runs, `battles.jsonl` in the battle format `jeval arena ratings` reads.

Every score carries its coverage (jeval.judges.coverage): how many judgments the benchmark calls for,
how many gave a verdict, how many failed and why, per category, and whether that meets the run's
rule (`--min-coverage`); results.json records the rule. A run in which every judgment failed has no
score: its files are written all the same (counts, tokens and cost in results.json; the reasons and
the judge's raw texts in judgments.jsonl), and it ends with one error.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from jeval import __version__
from jeval.errors import JevalError
from jeval.io import atomic_write_json, atomic_write_jsonl
from jeval.judges.aggregate import summarize_pairwise, summarize_single
from jeval.judges.benchmarks import JudgedBenchmark, benchmark, benchmark_of_answers
from jeval.judges.cache import JudgmentCache
from jeval.judges.coverage import CoverageRule, expected_judgments, reason_word, why_incomplete
from jeval.judges.engine import OPENAI_URL, Job, JudgeConfig, JudgmentStore, ask_all, judge_identity
from jeval.judges.inputs import Inputs, load_inputs
from jeval.judges.pairwise import STRONG_WEIGHT, pair_jobs, pair_outcomes, pairs
from jeval.judges.prompts import load_prompt_set
from jeval.judges.single import single_jobs, single_record
from jeval.models.engines import preflight
from jeval.results import new_run_id, safe_name


@dataclass(frozen=True)
class JudgeRun:
    mode: Literal["single", "pairwise"]
    answers: tuple[Path, ...]
    judge: JudgeConfig
    data_dir: Path
    cache_path: Path
    output_dir: Path
    prompt_set: str | None = None
    """None: the benchmark's default set."""
    reference: str | None = None
    """None: the benchmark's default reference answers."""
    turns: tuple[int, ...] | None = None
    """None: every turn of the benchmark."""
    repeat: int = 1
    baseline: str | None = None
    five_level: bool = False
    run_id: str | None = None
    coverage: CoverageRule = field(default_factory=CoverageRule)
    benchmark: str | None = None
    """The judged task (jmt_bench, ja_vicuna_qa, rakuda, elyza_tasks_100); None: read from the
    answer folders, else Japanese MT-Bench."""
    questions: tuple[str, ...] | None = None
    """--questions: ids as given (read as the benchmark's kind of id)."""
    limit: int | None = None
    dry_run: bool = False
    """Stop after the estimate of what judging will send and cost."""

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise JevalError(f"--repeat must be 1 or more, got {self.repeat}")
        if self.turns is not None and (not self.turns or any(t not in (1, 2) for t in self.turns)):
            raise JevalError(f"--turns takes 1, 2 or 1,2; got {','.join(map(str, self.turns))}")
        if self.five_level and self.mode != "pairwise":
            raise JevalError("--five-level applies to pairwise grading only")

    def graded(self) -> JudgedBenchmark:
        found = benchmark(self.benchmark) if self.benchmark is not None else benchmark_of_answers(list(self.answers))
        found.check_mode(self.mode)
        if self.turns is not None and max(self.turns) > found.turns:
            raise JevalError(f"{found.title} has {found.turns} turn(s); --turns {','.join(map(str, self.turns))} "
                             "cannot be graded")
        return found


def run_folder(run: JudgeRun, graded: JudgedBenchmark, prompt_set: str) -> Path:
    shown = prompt_set if "/" not in prompt_set and not prompt_set.endswith(".jsonl") else "custom"
    name = f"{run.mode}-{safe_name(run.judge.model)}-{shown}"
    if graded.task != "jmt_bench":
        name = f"{graded.task}-{name}"
    return run.output_dir / name / (run.run_id or new_run_id())


def _expected(inputs: Inputs, run: JudgeRun, turns: tuple[int, ...], matchups: int = 1) -> dict[str, int]:
    """Judgments per category the benchmark calls for, per model (single) or in all (pairwise)."""
    per_question = ((q.category, len(q.turns)) for q in inputs.questions.values())
    return {c: n * matchups for c, n in expected_judgments(per_question, turns, run.repeat).items()}


CHARS_PER_TOKEN = 1.0
"""The estimate's reading of text length: one token per character, about what GPT-4-class
tokenizers give for Japanese (English text takes fewer), so the estimate errs high."""


def estimate(jobs: list[Job], run: JudgeRun, identity: str, prompt_set: str, cache: JudgmentCache) -> dict[str, Any]:
    """What judging will send, before anything is sent: requests not yet in the cache, their prompt
    length in characters and estimated tokens, and the cost at the given prices, the answers
    counted at --max-tokens (an upper bound)."""
    settings = run.judge.settings()
    store = JudgmentStore(cache, identity, prompt_set)
    todo = [j for j in jobs if store.get(store.key({"messages": j.messages, "settings": settings,
                                                    "repeat": j.repeat})) is None]
    chars = sum(len(m["content"]) for j in todo for m in j.messages)
    prompt_tokens = round(chars / CHARS_PER_TOKEN)
    return {"judgments": len(jobs), "cached": len(jobs) - len(todo), "to_send": len(todo), "prompt_chars": chars,
            "prompt_tokens_estimate": prompt_tokens, "completion_tokens_max": len(todo) * run.judge.max_tokens,
            "cost_usd_max": run.judge.cost(prompt_tokens, len(todo) * run.judge.max_tokens)}


def estimate_line(found: dict[str, Any]) -> str:
    cost = f", at most ${found['cost_usd_max']:.2f}" if found["cost_usd_max"] is not None else \
        " (give --price-in/--price-out for a cost)"
    return (f"judging {found['judgments']} items: {found['cached']} from the cache, {found['to_send']} to send, "
            f"about {found['prompt_tokens_estimate']:,} prompt tokens and up to {found['completion_tokens_max']:,} "
            f"answer tokens{cost}")


def _stop_if_all_failed(records: list[dict[str, Any]], folder: Path) -> None:
    """No judgment gave a verdict: the run has no score, which is an error (after its files are
    written, for diagnosis)."""
    if any(r["failure"] is None for r in records):
        return
    reasons = Counter(reason_word(r["failure"]) for r in records)
    first = next((r.get("failure_detail") or r["failure"] for r in records), "")
    raise JevalError(f"every one of the {len(records)} judgments failed "
                     f"({', '.join(f'{k} {v}' for k, v in reasons.most_common())}); first: {str(first)[:300]}; "
                     f"there is no score; the reasons and the judge's replies are in {folder}")


def judge(run: JudgeRun, announce: Callable[[str], None] = lambda line: None) -> Path | None:
    """Judge, write the run's files and return its results.json (None after a dry run);
    `announce` is told the estimate before anything is sent."""
    started = time.time()
    run.judge.api_key()
    graded = run.graded()
    turns = run.turns or tuple(range(1, graded.turns + 1))
    inputs = load_inputs(graded, run.data_dir, list(run.answers), run.reference, run.questions, run.limit)
    prompts = load_prompt_set(run.prompt_set, run.data_dir, graded)
    matchups: list[tuple[str, str]] = []
    if run.mode == "single":
        jobs = single_jobs(inputs, prompts, turns, run.repeat)
    else:
        if run.baseline is not None and run.baseline not in inputs.answers:
            raise JevalError(f"--baseline {run.baseline!r} is not among the answering models "
                             f"({', '.join(inputs.models)})")
        matchups = pairs(inputs.models, run.baseline)
        if not matchups:
            raise JevalError("pairwise grading needs answers of at least two models (--answers given twice)")
        jobs = pair_jobs(inputs, prompts, matchups, turns, run.repeat, run.five_level)
    if not jobs:
        raise JevalError("nothing to judge: no answered question matches the chosen turns and models")
    identity = judge_identity(run.judge.model)
    cache = JudgmentCache(run.cache_path)
    try:
        planned = estimate(jobs, run, identity, prompts.name, cache)
        announce(estimate_line(planned))
        if run.dry_run:
            return None
        if run.judge.base_urls != (OPENAI_URL,) and planned["to_send"]:
            for url in run.judge.base_urls:
                preflight(url)
        replies, tally = asyncio.run(ask_all(jobs, run.judge, identity, prompts.name, cache))
    finally:
        cache.close()
    results: dict[str, Any] = {
        "jeval_version": __version__,
        "benchmark": graded.as_dict(),
        "mode": run.mode,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "judge": {"model": run.judge.model, "identity": identity, "base_urls": list(run.judge.base_urls),
                  "temperature": run.judge.temperature, "max_tokens": run.judge.max_tokens},
        "prompt_set": {"name": prompts.name, "fingerprint": prompts.fingerprint,
                       "prompts": {n: p.source for n, p in sorted(prompts.prompts.items())}},
        "reference": inputs.reference_name,
        "turns": list(turns),
        "questions_judged": list(inputs.subset) if inputs.subset is not None else "all",
        "estimate": planned,
        "repeat": run.repeat,
        "answers": [str(p) for p in run.answers],
        "models": inputs.models,
        "questions": {m: len(a) for m, a in inputs.answers.items()},
        "requests": tally.as_dict(run.judge),
        "config": asdict(run.judge),
    }
    folder = run_folder(run, graded, prompts.name if run.prompt_set is None else run.prompt_set)
    if run.mode == "single":
        records = [single_record(r, run.judge.model, prompts.name) for r in replies]
        results["scores"] = summarize_single(records, run.repeat, run.coverage, _expected(inputs, run, turns))
        results["failures"] = sum(1 for r in records if r["failure"] is not None)
        incomplete = [m for m, s in results["scores"].items() if not s["coverage"]["complete"]]
        atomic_write_jsonl(folder / "judgments.jsonl", records)
    else:
        outcomes = pair_outcomes(replies, run.judge.model, prompts.name, run.five_level)
        records = [o.record for o in outcomes]
        battles = [o.battle for o in outcomes if o.battle is not None]
        results["baseline"] = run.baseline
        results["five_level"] = run.five_level
        results["strong_weight"] = STRONG_WEIGHT if run.five_level else None
        results["pairwise"] = summarize_pairwise(records, battles, run.coverage,
                                                 _expected(inputs, run, turns, len(matchups)))
        results["failures"] = results["pairwise"]["failures"]
        incomplete = [] if results["pairwise"]["coverage"]["complete"] else list(inputs.models)
        atomic_write_jsonl(folder / "judgments.jsonl", records)
        atomic_write_jsonl(folder / "battles.jsonl", battles)
    results["coverage"] = {"rule": run.coverage.as_dict(), "complete": not incomplete, "incomplete": incomplete}
    results["judgments"] = len(records)
    results["timings"] = {"total_s": round(time.time() - started, 3), "judging_s": round(tally.seconds, 3)}
    path = folder / "results.json"
    atomic_write_json(path, results)
    _stop_if_all_failed(records, folder)
    return path


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _rule_text(rule: dict[str, Any]) -> str:
    every = " and a verdict in every category" if rule["every_category"] else ""
    return f"at least {rule['min_share']:.0%} of the judgments judged{every}"


def _coverage_lines(cov: dict[str, Any]) -> list[str]:
    lines = [f"  coverage: {cov['summary']}"]
    if not cov["complete"]:
        lines.append(f"  INCOMPLETE ({why_incomplete(cov)}): the mean is over the judged items only and is not "
                     "comparable with a complete score")
    return lines


def _category_text(category: str, value: float, cov: dict[str, Any]) -> str:
    c = cov["categories"].get(category)
    mark = "" if c is None or c["complete"] else f" (incomplete: {c['judged']} of {c['expected']})"
    return f"{category} {value:.2f}{mark}"


def _single_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for model, s in results["scores"].items():
        cov = s["coverage"]
        flag = "" if cov["complete"] else " (INCOMPLETE)"
        turns = "  ".join(f"turn {t}: {_shown(v)}" for t, v in s["turns"].items())
        lines.append(f"{model}: overall {_shown(s['overall'])}{flag}  {turns}  failures {s['failures']}/"
                     f"{s['judgments']}")
        lines.extend(_coverage_lines(cov))
        lines.append("  " + "  ".join(_category_text(c, v, cov) for c, v in s["categories"].items()))
        if "repeats" in s:
            o = s["repeats"]["overall"]
            if o["mean"] is not None:
                lines.append(f"  over {s['repeats']['n']} repeats: mean {o['mean']:.2f} median {o['median']:.2f} "
                             f"stdev {o['stdev']:.3f} range {o['min']:.2f}-{o['max']:.2f}")
    return lines


def _pairwise_lines(results: dict[str, Any]) -> list[str]:
    p = results["pairwise"]
    lines = [f"comparisons: {p['comparisons']}  battles: {p['battles']}  inconsistent (tie): "
             f"{p['inconsistent']}  failures: {p['failures']}"]
    lines.extend(_coverage_lines(p["coverage"]))
    for model, m in p["models"].items():
        rate = "n/a" if m["win_rate_adjusted"] is None else f"{m['win_rate_adjusted']:.3f}"
        lines.append(f"{model}: win {m['win']} loss {m['loss']} tie {m['tie']}  adjusted win rate {rate}")
    return lines


def format_summary(results: dict[str, Any]) -> str:
    lines = [f"judge: {results['judge']['model']}  prompt set: {results['prompt_set']['name']}  "
             f"judgments: {results['judgments']}  failures: {results['failures']}"]
    req = results["requests"]
    cost = f"  cost: ${req['cost_usd']:.4f}" if req["cost_usd"] is not None else ""
    lines.append(f"requests sent: {req['sent']}  from cache: {req['from_cache']}  request errors: "
                 f"{req['request_errors']}  malformed replies: {req['malformed_replies']}  tokens: "
                 f"{req['tokens']['prompt']} in / {req['tokens']['completion']} out{cost}")
    lines.append(f"coverage rule: {_rule_text(results['coverage']['rule'])}")
    lines.extend(_single_lines(results) if results["mode"] == "single" else _pairwise_lines(results))
    return "\n".join(lines)


def incomplete_warnings(results: dict[str, Any]) -> list[str]:
    """One line per incomplete score, for stderr."""
    if results["mode"] == "single":
        covs = {f"the MT-Bench score of {m}": s["coverage"] for m, s in results["scores"].items()}
    else:
        covs = {"the pairwise comparisons": results["pairwise"]["coverage"]}
    return [f"{what} is incomplete ({why_incomplete(cov)}: {cov['summary']}); it is marked incomplete in "
            "results.json and on the leaderboard" for what, cov in covs.items() if not cov["complete"]]
