"""The cells each record gives the leaderboard, and the columns they fall in.

A run's cells are the columns its plugins declared when the run was assembled (results.json
`columns`, see jeval.schema): the leaderboard knows no benchmark by name. A column is keyed by its
label, protocol and few-shot count, so 0-shot and 4-shot results, or upstream and stand-in prompts,
never share one. Score cells hold values on 0-1 (MT-Bench's 1-10 divided by 10), so that the table
applies one declared scale to all of them; arena cells keep the rating scale, and perplexity cells
(bits per byte) are measurements kept as they are, lower is better.

A run's cells belong to its model's fingerprint (`identity`): two models never merge because their
names agree. Judge and arena cells know only a model's name and join the run of that name.
A cell carries a data signature (data fingerprint and item count of every task behind it), so that
a column mixing different data can be flagged. A judge cell whose score stands on fewer judged items
than its judge run's coverage rule asks is `incomplete`: it carries a note saying how many, and the
table never shows it as a plain number, bolds it or ranks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jeval.leaderboard.collect import JudgeRecord, RunRecord
from jeval.task import finite

Kind = Literal["score", "score_low", "rating", "interval", "count", "bits"]
LOWER_IS_BETTER = ("score_low", "bits")
MT_BENCH_CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
KNOWN_GROUPS = ("combined", "jaster", "jaster_lenient", "jglue", "mgsm", "xlsum", "ja_leaderboard", "mtbench", "arena",
                "ppl")
"""The order of groups in a table; groups of other tasks follow, alphabetically."""
STANDIN_DATA = "scored on data from a mirror's stand-in files, not upstream's"
UNVERIFIED_DATA = "scored on data that could not be checked against upstream (no pinned checksum)"
INCOMPLETE_JUDGE = ("Incomplete judge score, marked (incomplete), never bold or ranked: fewer judgments gave a "
                    "verdict than the judge run's coverage rule asks (by default 95% of the items and every "
                    "category), so the mean stands on part of the benchmark only")

__all__ = ["KNOWN_GROUPS", "LOWER_IS_BETTER", "Cell", "Column", "finite", "judge_cells", "run_cells"]


@dataclass(frozen=True)
class Column:
    label: str
    group: str
    protocol: str
    kind: Kind = "score"
    order: int = 0
    shots: str | None = None

    @property
    def key(self) -> str:
        return f"{self.label}|{self.protocol}|{self.shots or ''}"


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
    identity: str = ""
    """The model's fingerprint where the record knows it (runs); empty for cells known by name."""
    incomplete: bool = False
    """The score stands on less of the benchmark than its rule asks (judge coverage)."""


def _signature(tasks: Mapping[str, Mapping[str, Any]], names: tuple[str, ...]) -> str:
    return ";".join(f"{n}:{tasks[n].get('data_fingerprint', '')}:{tasks[n].get('n_samples', '')}"
                    for n in sorted(names) if n in tasks)


def _data_notes(tasks: Mapping[str, Mapping[str, Any]], names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    by_origin: dict[str, list[str]] = {}
    for name in names:
        source = tasks.get(name, {}).get("prompt_source")
        origin = source.get("data_origin") if isinstance(source, Mapping) else None
        if origin in ("standin", "unverified"):
            by_origin.setdefault(origin, []).append(name)
    notes = []
    for origin, text in (("standin", STANDIN_DATA), ("unverified", UNVERIFIED_DATA)):
        if origin in by_origin:
            notes.append((text, "(" + ", ".join(sorted(by_origin[origin])) + ")"))
    return tuple(notes)


def run_cells(run: RunRecord, lenient: bool) -> list[Cell]:
    out = []
    for c in run.columns:
        if c.hidden_unless == "lenient" and not lenient:
            continue
        column = Column(c.label, c.group, c.protocol, c.kind, c.order, c.shots)
        out.append(Cell(run.model, column, c.value, run.path, run.run_id, run.created,
                        _signature(run.tasks, c.tasks), notes=(*c.notes, *_data_notes(run.tasks, c.tasks)),
                        identity=run.fingerprint))
    return out


def _category_order(category: str) -> int:
    """A category column's place: MT-Bench's order, other categories after (then by label). The same
    for every model, whichever categories its run has: a column is one Column for all of them."""
    known = MT_BENCH_CATEGORIES
    return known.index(category) + 1 if category in known else len(known) + 1


def judge_cells(record: JudgeRecord) -> list[Cell]:
    """A judged benchmark's overall score per model (on 0-1: divided by its scale's top), and for
    MT-Bench its categories."""
    from jeval.judges.benchmarks import BENCHMARKS

    known = BENCHMARKS.get(record.benchmark)
    group = "mtbench" if record.benchmark == "jmt_bench" else (known.leaderboard_group if known else record.benchmark)
    out = []
    for model, s in record.scores.items():
        coverage = record.coverage.get(model)

        def add(label: str, value: Any, order: int, complete: bool, detail: str, model: str = model,
                s: dict[str, Any] = s) -> None:
            v = finite(value)
            notes = () if complete else ((INCOMPLETE_JUDGE, f"{label} {detail}"),)
            out.append(Cell(model, Column(label, group, record.protocol, order=order),
                            None if v is None else v / record.scale_max, record.path, record.run_id, record.created,
                            data=f"judged items:{s.get('n_items', '')}", notes=notes,
                            incomplete=not complete))

        overall = (coverage.complete, coverage.summary) if coverage else (False, "coverage not recorded")
        add(record.title, s.get("overall"), 0, *overall)
        if record.benchmark != "jmt_bench":
            continue
        for category, value in s["categories"].items():
            shown = coverage.category(category) if coverage else overall
            add(f"MT-Bench {category}", value, _category_order(category), *shown)
    return out
