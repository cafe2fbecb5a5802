"""The columns a leaderboard knows and the cells each record gives them.

Score cells hold values on 0-1 (Jaster's and lm-eval's own scale; MT-Bench's 1-10 divided by 10),
so that the table applies one declared scale to all of them. Arena cells keep the rating scale, and
perplexity cells (bits per byte, per language) are measurements kept as they are, lower is better.
A cell carries where it came from and a data signature (data fingerprint and item count of every
task behind it), so that a column mixing different data can be flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jeval.leaderboard.collect import JudgeRecord, RunRecord

Kind = Literal["score", "score_low", "rating", "interval", "count", "bits"]
LOWER_IS_BETTER = ("score_low", "bits")

JASTER_CATEGORIES = ("NLI", "QA", "RC", "MC", "EL", "FA", "MR", "MT", "HE", "CG", "SUM", "STS")
JASTER_REPORTED_ONLY = ("STS",)
MT_BENCH_CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
# lm-eval tasks shown as their own columns: task name -> (group, label).
LM_EVAL_COLUMNS = {
    "jl_jcommonsenseqa": ("jglue", "JCommonsenseQA"),
    "jl_jnli": ("jglue", "JNLI"),
    "jl_marc_ja": ("jglue", "MARC-ja"),
    "jl_jsquad": ("jglue", "JSQuAD"),
    "jl_mgsm": ("mgsm", "MGSM"),
    "jl_mgsm_direct": ("mgsm", "MGSM direct"),
    "jl_mgsm_native_cot": ("mgsm", "MGSM native CoT"),
    "jl_xlsum": ("xlsum", "XL-Sum"),
    "jl_jaqket_v2": ("ja_leaderboard", "JAQKET v2"),
    "jl_xwinograd": ("ja_leaderboard", "XWinograd"),
}
SUITE_COLUMNS = {"jglue": ("jglue", "JGLUE mean"), "ja_leaderboard": ("ja_leaderboard", "ja_leaderboard mean")}
GROUPS = ("combined", "jaster", "jaster_lenient", "jglue", "mgsm", "xlsum", "ja_leaderboard", "mtbench", "arena", "ppl")
PPL_PROTOCOL_PREFIX = "jeval-ppl/"
ZERO_RULE = "Jaster AVG counts a category with no score as 0, as llm-jp-eval does"
PARTIAL_MEAN = "mean over the suite's tasks that ran only"


@dataclass(frozen=True)
class Column:
    label: str
    group: str
    protocol: str
    kind: Kind = "score"
    order: int = 0

    @property
    def key(self) -> str:
        return f"{self.label}|{self.protocol}"


@dataclass(frozen=True)
class Cell:
    model: str
    column: Column
    value: float | None
    source: Path
    run_id: str
    created: str
    data: str = ""
    lower: float | None = None
    upper: float | None = None
    notes: tuple[tuple[str, str], ...] = field(default=())


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _signature(tasks: dict[str, dict[str, Any]], names) -> str:
    return ";".join(f"{n}:{tasks[n].get('data_fingerprint', '')}:{tasks[n].get('n_samples', '')}"
                    for n in sorted(names) if n in tasks)


def _first_metric(metrics: dict[str, Any]) -> float | None:
    for key, value in metrics.items():
        if key != "unavailable":
            return finite(value)
    return None


def run_cells(run: RunRecord, lenient: bool) -> list[Cell]:
    out: list[Cell] = []

    def add(column: Column, value: Any, data: str, notes: tuple[tuple[str, str], ...] = ()) -> None:
        out.append(Cell(run.model, column, finite(value), run.path, run.run_id, run.created, data, notes=notes))

    jaster = run.summaries.get("jaster")
    if jaster is not None:
        protocol = jaster["protocol"]
        members = [n for n in (jaster.get("standing_metric") or {}) if n in run.tasks]
        data = _signature(run.tasks, members)
        zeroed = list(jaster.get("missing_categories_count_as_zero") or [])
        notes = ((ZERO_RULE, "lacks " + ", ".join(zeroed)),) if zeroed else ()
        add(Column("Jaster AVG", "jaster", protocol, order=0), jaster.get("AVG"), data, notes)
        for i, category in enumerate(JASTER_CATEGORIES, 1):
            if category in jaster["categories"]:
                add(Column(f"Jaster {category}", "jaster", protocol, order=i), jaster["categories"][category], data)
    for name, (group, label) in SUITE_COLUMNS.items():
        summary = run.summaries.get(name)
        if summary is None:
            continue
        missing = list(summary.get("tasks_missing") or [])
        notes = ((f"{label}: {PARTIAL_MEAN}", "lacks " + ", ".join(missing)),) if missing else ()
        add(Column(label, group, summary["protocol"], order=90), summary.get("AVG"),
            _signature(run.tasks, summary.get("categories", {})), notes)
    for order, (name, (group, label)) in enumerate(LM_EVAL_COLUMNS.items()):
        task = run.tasks.get(name)
        if task is not None:
            add(Column(label, group, task["protocol"], order=order), _first_metric(task["metrics"]),
                _signature(run.tasks, [name]))
    for name, task in sorted(run.tasks.items()):
        languages = task.get("languages")
        if not str(task.get("protocol", "")).startswith(PPL_PROTOCOL_PREFIX) or not isinstance(languages, dict):
            continue
        for order, (lang, figures) in enumerate(sorted(languages.items())):
            add(Column(f"bits/byte {lang}", "ppl", task["protocol"], "bits", order),
                figures.get("bits_per_byte") if isinstance(figures, dict) else None, _signature(run.tasks, [name]))
    if lenient:
        for order, (name, task) in enumerate(sorted(run.tasks.items())):
            metrics = task["metrics"]
            if "lenient_exact_match" not in metrics:
                continue
            data = _signature(run.tasks, [name])
            add(Column(f"{name} lenient EM", "jaster_lenient", task["protocol"], order=2 * order),
                metrics.get("lenient_exact_match"), data)
            kind = "out_of_format" if "out_of_format" in metrics else "out_of_label_set"
            add(Column(f"{name} {kind.replace('_', ' ')}", "jaster_lenient", task["protocol"], "score_low",
                       2 * order + 1), metrics.get(kind), data)
    return out


def judge_cells(record: JudgeRecord) -> list[Cell]:
    out = []
    for model, s in record.scores.items():
        def add(label: str, value: Any, order: int) -> None:
            v = finite(value)
            out.append(Cell(model, Column(label, "mtbench", record.protocol, order=order),
                            None if v is None else v / 10.0, record.path, record.run_id, record.created,
                            data=f"judged items:{s.get('n_items', '')}"))

        add("MT-Bench", s.get("overall"), 0)
        categories = s["categories"]
        ordered = [c for c in MT_BENCH_CATEGORIES if c in categories] + sorted(set(categories) - set(MT_BENCH_CATEGORIES))
        for i, category in enumerate(ordered, 1):
            add(f"MT-Bench {category}", categories[category], i)
    return out
