"""Suite scores lm-eval does not define: the unweighted mean of each task's main metric (acc,
exact_match or ROUGE-2 F, all on a 0-1 scale) over the tasks of the suite that ran."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jeval.provenance import suffixes_of
from jeval.stderr import stderr_key, unweighted_mean_stderr
from jeval.task import ColumnValue, Suite, finite
from jeval.tasks.japanese_leaderboard.version import lm_eval_version

PARTIAL_MEAN = "mean over the suite's tasks that ran only"


def suite(name: str, label: str, members: tuple[str, ...]) -> Suite:
    def summarize(tasks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
        scores = {}
        errors: list[float | None] = []
        for task in members:
            if task in tasks:
                metrics = tasks[task]["metrics"]
                key, value = next(iter(metrics.items()), ("", None))
                if isinstance(value, int | float):
                    scores[task] = float(value)
                    errors.append(finite(metrics.get(stderr_key(key))))
        if not scores:
            return None
        suffixes = suffixes_of(str(tasks[t].get("protocol", "")) for t in scores)
        return {"protocol": f"jeval-mean/lm-eval-{lm_eval_version()}/{name}{suffixes}",
                "categories": scores, "AVG": sum(scores.values()) / len(scores),
                "AVG_stderr": unweighted_mean_stderr(errors),
                "tasks_missing": [t for t in members if t not in scores],
                "definition": "unweighted mean of each task's first metric over the tasks that ran"}

    def columns(summary: Mapping[str, Any], tasks: Mapping[str, Mapping[str, Any]]) -> list[ColumnValue]:
        missing = list(summary.get("tasks_missing") or [])
        notes = ((f"{label}: {PARTIAL_MEAN}", "lacks " + ", ".join(missing)),) if missing else ()
        return [ColumnValue(label, name, finite(summary.get("AVG")), order=90,
                            tasks=tuple(t for t in summary.get("categories", {}) if t in tasks), notes=notes)]

    return Suite(name, members, summarize, columns)
