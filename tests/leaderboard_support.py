"""Result folders for the leaderboard tests, written through the project's own writers:
`jeval run`'s summaries come from the registered suites, its columns from the plugins' declarations
(jeval.schema.derive_columns) and the files from `write_run`; judge scores from `summarize_single`
over judgment records in `single_record`'s shape; only the top-level keys are laid out here, as
evals/runner.py and judges/run.py lay them out. Each model's fingerprint is a hash of its name."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from jeval.io import atomic_write_json
from jeval.judges.aggregate import summarize_single
from jeval.registry import load_registry
from jeval.results import write_run
from jeval.schema import SCHEMA, derive_columns
from jeval.tasks.japanese_leaderboard.version import lm_eval_version
from jeval.tasks.jaster.protocol import PROTOCOL as JASTER
from jeval.tasks.jaster.suite import BY_NAME

LM_EVAL = f"lm-eval-{lm_eval_version()}/japanese_leaderboard"
PRIMARY = {"jl_jcommonsenseqa": "acc,none", "jl_jnli": "acc,none", "jl_marc_ja": "acc,none",
           "jl_jsquad": "exact_match,whitespaces", "jl_mgsm": "acc,none", "jl_xlsum": "rouge2,whitespaces"}


def jaster_task(name: str, score: float, protocol: str = JASTER, fingerprint: str = "d1", n: int = 100,
                lenient: tuple[float, float] | None = None) -> dict[str, Any]:
    member = BY_NAME[name]
    metrics: dict[str, Any] = {member.metric: score}
    if lenient is not None:
        metrics["out_of_label_set"], metrics["lenient_exact_match"] = lenient
    return _task(protocol, member.category, metrics, fingerprint, n)


def lm_eval_task(name: str, score: float, fingerprint: str = "d1", n: int = 100) -> dict[str, Any]:
    task = load_registry().tasks[name]
    return _task(LM_EVAL, task.spec.category, {PRIMARY[name]: score, f"{PRIMARY[name]}_stderr": 0.01}, fingerprint, n)


def _task(protocol: str, category: str, metrics: dict[str, Any], fingerprint: str, n: int) -> dict[str, Any]:
    return {"protocol": protocol, "category": category, "shots": 4, "n_samples": n, "limit": n, "metrics": metrics,
            "primary_metric": next(iter(metrics)),
            "data_fingerprint": fingerprint, "data_checksums_from_mirror": False, "data_sources": [],
            "prompt_fingerprint": "p", "decoding": {}, "tokens": {"prompt": 0, "completion": 0}}


def fingerprint_of(model: str) -> str:
    return "sha256:" + hashlib.sha256(model.encode()).hexdigest()


def write_jeval_run(root: Path, model: str, run_id: str, created: str, tasks: dict[str, dict[str, Any]],
                    fingerprint: str | None = None) -> Path:
    """A run folder as `jeval run` leaves it: summaries by the registered suites, declared columns
    (in `<model>/<run-id>`: the leaderboard reads any JSON under a folder, whatever its name)."""
    summaries = {}
    for name, suite in load_registry().suites.items():
        summary = suite.summarize(tasks)
        if summary is not None:
            summaries[name] = summary
    fingerprint = fingerprint or fingerprint_of(model)
    results = {"schema": SCHEMA, "jeval_version": "0.1.0", "run_id": run_id, "created": created,
               "model": {"name": model, "id": model, "fingerprint": fingerprint, "identity_basis": "weights",
                         "path": None},
               "backend": {"kind": "endpoint"}, "config": {}, "tasks": tasks, "summaries": summaries,
               "columns": [c.as_dict() for c in derive_columns(tasks, summaries)],
               "timings": {}, "requests": {}, "tokens": {}, "versions": {}}
    return write_run(root / model / run_id, results, {name: [] for name in tasks})


def write_judge_run(root: Path, judge: str, prompt_set: str, run_id: str, created: str,
                    scores: dict[str, dict[str, list[float]]]) -> Path:
    """A single-grading judge run: per model, per category, the judge's 1-10 scores of its items."""
    records = []
    qid = 0
    for model, by_category in scores.items():
        for category, values in by_category.items():
            for value in values:
                qid += 1
                records.append({"question_id": qid, "model": model, "judge": [judge, "single-v1"], "score": value,
                                "turn": 1, "category": category, "repeat": 0, "prompt_set": prompt_set,
                                "failure": None})
    folder = root / "judge" / f"single-{judge}-{prompt_set}" / run_id
    results = {"jeval_version": "0.1.0", "mode": "single", "created": created,
               "judge": {"model": judge, "identity": judge, "base_urls": [], "temperature": 0.0, "max_tokens": 2048},
               "prompt_set": {"name": prompt_set, "fingerprint": "x", "prompts": {}}, "reference": "gpt-4",
               "turns": [1], "repeat": 1, "answers": [], "models": list(scores),
               "questions": {m: sum(len(v) for v in s.values()) for m, s in scores.items()}, "requests": {},
               "config": {}, "scores": summarize_single(records, 1), "failures": 0, "judgments": len(records),
               "timings": {}}
    atomic_write_json(folder / "results.json", results)
    (folder / "judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return folder / "results.json"


def write_ratings(path: Path, rows: list[tuple[str, float, float, float, int]]) -> Path:
    """A ratings file in the shape of `RatingsReport.as_dict()` (`jeval arena ratings --format json`)."""
    models = [{"model": m, "rank": i + 1, "rating": r, "lower": lo, "upper": hi, "elo": r, "battles": n,
               "wins": 0, "losses": 0, "ties": 0} for i, (m, r, lo, hi, n) in enumerate(rows)]
    data = {"battles": sum(n for *_, n in rows) // 2, "method": "bradley-terry",
            "options": {"bootstrap": 100, "seed": 0, "prior": 1e-6, "confidence": 0.95, "elo_k": 4.0, "anchor": None},
            "models": models, "style_coefficients": {}, "battle_counts": {}, "win_rates": {},
            "predicted_win_rates": {}}
    atomic_write_json(path, data)
    return path


def build_results(root: Path) -> Path:
    """Four models with partial coverage and two Jaster protocols (see test_leaderboard.py for the story)."""
    results = root / "results"
    write_jeval_run(results, "alpha", "r-alpha", "2026-03-01T10:00:00+0000", {
        "jamp": jaster_task("jamp", 0.55), "niilc": jaster_task("niilc", 0.33),
        "jcommonsenseqa": jaster_task("jcommonsenseqa", 0.77),
        "jl_jcommonsenseqa": lm_eval_task("jl_jcommonsenseqa", 0.8), "jl_jnli": lm_eval_task("jl_jnli", 0.6),
        "jl_marc_ja": lm_eval_task("jl_marc_ja", 0.9), "jl_jsquad": lm_eval_task("jl_jsquad", 0.5),
        "jl_mgsm": lm_eval_task("jl_mgsm", 0.4)})
    write_jeval_run(results, "beta", "r-beta", "2026-03-02T10:00:00+0000", {
        "jamp": jaster_task("jamp", 0.44), "jcommonsenseqa": jaster_task("jcommonsenseqa", 0.66),
        "jl_jcommonsenseqa": lm_eval_task("jl_jcommonsenseqa", 0.7),
        "jl_jnli": lm_eval_task("jl_jnli", 0.5, fingerprint="d2")})
    write_jeval_run(results, "gamma", "r-gamma", "2026-03-03T10:00:00+0000", {
        "jamp": jaster_task("jamp", 0.22, protocol=f"{JASTER}/chat"),
        "jcommonsenseqa": jaster_task("jcommonsenseqa", 0.88, protocol=f"{JASTER}/chat")})
    write_jeval_run(results, "delta", "r-delta-old", "2026-01-01T10:00:00+0000", {
        "jl_mgsm": lm_eval_task("jl_mgsm", 0.25), "jl_xlsum": lm_eval_task("jl_xlsum", 0.12)})
    write_jeval_run(results, "delta", "r-delta-new", "2026-02-01T10:00:00+0000", {
        "jl_mgsm": lm_eval_task("jl_mgsm", 0.3)})
    write_judge_run(results, "gpt-4o", "jeval-ja-v1", "j1", "2026-03-04T10:00:00+0000", {
        "alpha": {"writing": [8, 6], "math": [5]}, "beta": {"writing": [4, 4], "math": [6]}})
    return results


WIDE_MODELS = ("llm-jp-3-13b-instruct", "Llama-3.1-Swallow-8B-Instruct-v0.3", "Qwen2.5-7B-Instruct",
               "calm3-22b-chat", "sarashina2-7b", "tiny-ckpt")


def build_wide_results(root: Path) -> Path:
    """A board wider than a laptop screen: six models with every Jaster task under two protocols
    (the chat variant for three of them), the six lm-eval tasks, MT-Bench in eight categories and
    arena ratings; two models ran Jaster on other data (fingerprint d2). Scores follow a fixed
    pattern (no randomness) so the page is the same on every run."""
    results = root / "results"
    for i, model in enumerate(WIDE_MODELS):
        tasks = {name: jaster_task(name, (i + k) % 10 / 10 + 0.05, fingerprint="d2" if i in (1, 4) else "d1")
                 for k, name in enumerate(BY_NAME)}
        tasks.update({name: lm_eval_task(name, (2 * i + k) % 10 / 10 + 0.05) for k, name in enumerate(PRIMARY)})
        write_jeval_run(results, model, f"r-{i}", f"2026-03-0{i + 1}T10:00:00+0000", tasks)
        if i % 2 == 0:
            chat = {name: jaster_task(name, (3 * i + k) % 10 / 10 + 0.05, protocol=f"{JASTER}/chat")
                    for k, name in enumerate(BY_NAME)}
            write_jeval_run(results, model, f"c-{i}", f"2026-03-0{i + 1}T11:00:00+0000", chat)
    categories = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
    write_judge_run(results, "gpt-4o", "jeval-ja-v1", "j1", "2026-03-09T10:00:00+0000",
                    {m: {c: [float((i + k) % 9 + 1), float((i + 2 * k) % 9 + 1)] for k, c in enumerate(categories)}
                     for i, m in enumerate(WIDE_MODELS)})
    write_ratings(root / "arena.json", [(m, 1100 - 30 * i, 1080 - 30 * i, 1120 - 30 * i, 200 - 10 * i)
                                        for i, m in enumerate(WIDE_MODELS)])
    return results
