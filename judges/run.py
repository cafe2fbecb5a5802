"""A judging run: inputs -> judge jobs -> (cached) judge answers -> verdicts -> files.

Writes `<output>/results.json` (scores, the judge, the prompt set, counts, tokens, cost),
`judgments.jsonl` (one FastChat-format record per judgment, failures included with the judge's
raw text) and, for pairwise runs, `battles.jsonl` in the battle format `jeval arena ratings` reads.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from jeval import __version__
from jeval.errors import JevalError
from jeval.io import atomic_write_json, atomic_write_jsonl
from jeval.judges.aggregate import summarize_pairwise, summarize_single
from jeval.judges.cache import JudgmentCache
from jeval.judges.engine import OPENAI_URL, JudgeConfig, ask_all, judge_identity
from jeval.judges.inputs import load_inputs
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
    prompt_set: str = "jeval-ja-v1"
    reference: str = "gpt-4"
    turns: tuple[int, ...] = (1, 2)
    repeat: int = 1
    baseline: str | None = None
    five_level: bool = False
    run_id: str | None = None

    def __post_init__(self) -> None:
        if self.repeat < 1:
            raise JevalError(f"--repeat must be 1 or more, got {self.repeat}")
        if not self.turns or any(t not in (1, 2) for t in self.turns):
            raise JevalError(f"--turns takes 1, 2 or 1,2; got {','.join(map(str, self.turns))}")
        if self.five_level and self.mode != "pairwise":
            raise JevalError("--five-level applies to pairwise grading only")


def run_folder(run: JudgeRun) -> Path:
    name = f"{run.mode}-{safe_name(run.judge.model)}-{run.prompt_set if '/' not in run.prompt_set else 'custom'}"
    return run.output_dir / name / (run.run_id or new_run_id())


def judge(run: JudgeRun) -> Path:
    started = time.time()
    run.judge.api_key()
    inputs = load_inputs(run.data_dir, list(run.answers), run.reference)
    prompts = load_prompt_set(run.prompt_set, run.data_dir)
    if run.mode == "single":
        jobs = single_jobs(inputs, prompts, run.turns, run.repeat)
    else:
        if run.baseline is not None and run.baseline not in inputs.answers:
            raise JevalError(f"--baseline {run.baseline!r} is not among the answering models "
                             f"({', '.join(inputs.models)})")
        matchups = pairs(inputs.models, run.baseline)
        if not matchups:
            raise JevalError("pairwise grading needs answers of at least two models (--answers given twice)")
        jobs = pair_jobs(inputs, prompts, matchups, run.turns, run.repeat, run.five_level)
    if not jobs:
        raise JevalError("nothing to judge: no answered question matches the chosen turns and models")
    if run.judge.base_urls != (OPENAI_URL,):
        for url in run.judge.base_urls:
            preflight(url)
    identity = judge_identity(run.judge.model)
    cache = JudgmentCache(run.cache_path)
    try:
        replies, tally = asyncio.run(ask_all(jobs, run.judge, identity, prompts.name, cache))
    finally:
        cache.close()
    results: dict[str, Any] = {
        "jeval_version": __version__,
        "mode": run.mode,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "judge": {"model": run.judge.model, "identity": identity, "base_urls": list(run.judge.base_urls),
                  "temperature": run.judge.temperature, "max_tokens": run.judge.max_tokens},
        "prompt_set": {"name": prompts.name, "fingerprint": prompts.fingerprint,
                       "prompts": {n: p.source for n, p in sorted(prompts.prompts.items())}},
        "reference": run.reference,
        "turns": list(run.turns),
        "repeat": run.repeat,
        "answers": [str(p) for p in run.answers],
        "models": inputs.models,
        "questions": {m: len(a) for m, a in inputs.answers.items()},
        "requests": tally.as_dict(run.judge),
        "config": asdict(run.judge),
    }
    folder = run_folder(run)
    if run.mode == "single":
        records = [single_record(r, run.judge.model, prompts.name) for r in replies]
        results["scores"] = summarize_single(records, run.repeat)
        results["failures"] = sum(1 for r in records if r["failure"] is not None)
        atomic_write_jsonl(folder / "judgments.jsonl", records)
    else:
        outcomes = pair_outcomes(replies, run.judge.model, prompts.name, run.five_level)
        records = [o.record for o in outcomes]
        battles = [o.battle for o in outcomes if o.battle is not None]
        results["baseline"] = run.baseline
        results["five_level"] = run.five_level
        results["strong_weight"] = STRONG_WEIGHT if run.five_level else None
        results["pairwise"] = summarize_pairwise(records, battles)
        results["failures"] = results["pairwise"]["failures"]
        atomic_write_jsonl(folder / "judgments.jsonl", records)
        atomic_write_jsonl(folder / "battles.jsonl", battles)
    results["judgments"] = len(records)
    results["timings"] = {"total_s": round(time.time() - started, 3), "judging_s": round(tally.seconds, 3)}
    path = folder / "results.json"
    atomic_write_json(path, results)
    return path


def format_summary(results: dict[str, Any]) -> str:
    lines = [f"judge: {results['judge']['model']}  prompt set: {results['prompt_set']['name']}  "
             f"judgments: {results['judgments']}  failures: {results['failures']}"]
    req = results["requests"]
    cost = f"  cost: ${req['cost_usd']:.4f}" if req["cost_usd"] is not None else ""
    lines.append(f"requests sent: {req['sent']}  from cache: {req['from_cache']}  request errors: "
                 f"{req['request_errors']}  tokens: {req['tokens']['prompt']} in / "
                 f"{req['tokens']['completion']} out{cost}")
    if results["mode"] == "single":
        for model, s in results["scores"].items():
            shown = lambda v: "n/a" if v is None else f"{v:.2f}"
            turns = "  ".join(f"turn {t}: {shown(v)}" for t, v in s["turns"].items())
            lines.append(f"{model}: overall {shown(s['overall'])}  {turns}  failures {s['failures']}/{s['judgments']}")
            lines.append("  " + "  ".join(f"{c} {v:.2f}" for c, v in s["categories"].items()))
            if "repeats" in s:
                o = s["repeats"]["overall"]
                if o["mean"] is not None:
                    lines.append(f"  over {s['repeats']['n']} repeats: mean {o['mean']:.2f} median {o['median']:.2f} "
                                 f"stdev {o['stdev']:.3f} range {o['min']:.2f}-{o['max']:.2f}")
    else:
        p = results["pairwise"]
        lines.append(f"comparisons: {p['comparisons']}  battles: {p['battles']}  inconsistent (tie): "
                     f"{p['inconsistent']}  failures: {p['failures']}")
        for model, m in p["models"].items():
            rate = "n/a" if m["win_rate_adjusted"] is None else f"{m['win_rate_adjusted']:.3f}"
            lines.append(f"{model}: win {m['win']} loss {m['loss']} tie {m['tie']}  adjusted win rate {rate}")
    return "\n".join(lines)
