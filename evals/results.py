"""Where a run's outputs go and how its score table is printed.

`<output>/<model name>-<fingerprint>/<run-id>/results.json` and `samples/<task>.jsonl`, written
atomically (see jeval.schema for what results.json holds).
"""

from __future__ import annotations

import math
import os
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jeval.io import atomic_write_json, atomic_write_jsonl, atomic_write_text
from jeval.provenance import suffix_notes
from jeval.stderr import is_stderr_key, stderr_key


def safe_name(name: str) -> str:
    """The last part of a path or id, in ASCII letters, digits and `._-` (judge run folders)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/").split("/")[-1]).strip("._")
    return cleaned or "model"


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def write_run(run_dir: Path, results: Mapping[str, Any], samples: Mapping[str, list[dict[str, Any]]]) -> Path:
    for task, rows in samples.items():
        atomic_write_jsonl(run_dir / "samples" / f"{task.replace('/', '_')}.jsonl", rows)
    path = run_dir / "results.json"
    atomic_write_json(path, results)
    point_latest(run_dir)
    return path


LATEST = "latest"


def point_latest(run_dir: Path) -> None:
    """Make `<model folder>/latest` a relative symlink to `run_dir`, replaced atomically (a reader
    sees the old run or the new one, never none); where symlinks cannot be made, the run id goes
    to a `LATEST` text file instead. A run that is itself named `latest` is left as it is."""
    link = run_dir.parent / LATEST
    if run_dir.name == LATEST or (link.exists() and not link.is_symlink()):
        return
    temporary = run_dir.parent / f".{LATEST}.{os.getpid()}.{secrets.token_hex(3)}"
    try:
        os.symlink(run_dir.name, temporary, target_is_directory=True)
        os.replace(temporary, link)
    except OSError:
        temporary.unlink(missing_ok=True)
        atomic_write_text(run_dir.parent / LATEST.upper(), run_dir.name + "\n")


def _shown(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}"


def _error(value: Any) -> str:
    return f"±{value:.4f}" if isinstance(value, int | float) and math.isfinite(value) else ""


METRIC_NOTES = {
    "answered_turns": "share of turns answered, not a score: grade the answers with `jeval judge`",
    "answered": "share of questions answered, not a score: grade the answers with `jeval judge`",
    "bits_per_byte": "bits per UTF-8 byte, lower is better",
    "bits_per_char": "bits per character, lower is better",
    "loss": "nats per token, lower is better",
    "perplexity": "per token, lower is better",
}
"""What a metric's number is, where its name alone could pass for a score on 0-1."""

Row = tuple[str, str, str, str, str, str, str, str]
HEADER: Row = ("task", "protocol", "shots", "n", "metric", "score", "stderr", "")


def _task_rows(results: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name, task in results["tasks"].items():
        metrics = task["metrics"]
        for metric, value in metrics.items():
            if isinstance(value, dict) or is_stderr_key(metric):
                continue
            note = METRIC_NOTES.get(metric.partition(",")[0], "")
            rows.append((name, task["protocol"], str(task["shots"]), str(task["n_samples"]), metric, _shown(value),
                         _error(metrics.get(stderr_key(metric))), note))
    return rows


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _suite_rows(results: Mapping[str, Any]) -> tuple[list[Row], list[str]]:
    """A row per category that ran and per suite mean, each saying what it covers: its metric
    and how many of the suite's members (datasets, categories, tasks) stand behind it."""
    from jeval.registry import load_registry

    registry = load_registry()
    tasks = results["tasks"]
    rows: list[Row] = []
    notes: list[str] = []
    for name, summary in results.get("summaries", {}).items():
        suite = registry.suites.get(name)
        members = list(suite.members) if suite is not None else []
        protocol = summary["protocol"]
        standing = summary.get("standing_metric") or {}
        errors = summary.get("categories_stderr") or {}
        for category, value in summary["categories"].items():
            if value is None or category in tasks or category in members:
                continue
            ran = [t for t in tasks if t in standing and tasks[t].get("category") == category]
            size = [m for m in members if m in registry.tasks and registry.tasks[m].spec.category == category]
            metric = "mean " + ", ".join(sorted({standing[t] for t in ran})) if ran else "mean"
            aside = "; not in AVG" if category in summary.get("reported_not_averaged", []) else ""
            covered = f"{len(ran)} of {_count(len(size) or len(ran), 'dataset', 'datasets')}{aside}"
            rows.append((f"[{name} {category}, {covered}]", protocol, "", "", metric, _shown(value),
                         _error(errors.get(category)), ""))
        averaged = summary.get("averaged_categories")
        if averaged is not None:
            counted = [c for c in averaged if summary["categories"].get(c) is not None]
            label = f"[{name} AVG, {len(counted)} of {_count(len(averaged), 'category', 'categories')}]"
            metric = "mean of categories"
            zeroed = summary.get("missing_categories_count_as_zero") or []
            if zeroed:
                notes.append(f"{name} AVG counts the {_count(len(zeroed), 'category', 'categories')} that "
                             f"did not run as 0, as llm-jp-eval does: {', '.join(zeroed)}")
        else:
            scores = [c for c, v in summary["categories"].items() if v is not None]
            total = len(members) or len(scores) + len(summary.get("tasks_missing") or [])
            label = f"[{name} AVG, {len(scores)} of {_count(total, 'task', 'tasks')}]"
            metric = "mean of each task's first metric"
            if len(scores) < total:
                lacking = [m for m in members if m not in scores] or list(summary.get("tasks_missing") or [])
                notes.append(f"{name} AVG is a partial mean over {len(scores)} of its {total} tasks "
                             f"(lacks {', '.join(lacking)})")
        rows.append((label, protocol, "", "", metric, _shown(summary["AVG"]), _error(summary.get("AVG_stderr")), ""))
    return rows, notes


def format_table(results: Mapping[str, Any]) -> str:
    """The console summary of a run: every metric of every task with its standard error, then each
    suite's categories that ran and its mean, labelled with what they cover."""
    suite_rows, suite_notes = _suite_rows(results)
    rows = [HEADER, *_task_rows(results), *suite_rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths[:-1]))
    model = results.get("model", {})
    lines.insert(0, f"model: {model.get('name')} ({model.get('fingerprint', '')[:19]}, "
                    f"{model.get('identity_basis', '')}; engine {results.get('backend', {}).get('engine')})")
    lines += [f"note: {n}" for n in suffix_notes(t["protocol"] for t in results["tasks"].values())]
    lines += [f"note: {n}" for n in suite_notes]
    lines += [f"skipped: {name}: {why}" for name, why in results.get("skipped", {}).items()]
    for name, task in results["tasks"].items():
        if task.get("failed_items"):
            lines.append(f"failed: {name}: {task['failed_items']['count']} of {task['n_samples']} items, scored as "
                         f"empty answers ({next(iter(task['failed_items']['reasons']))})")
    return "\n".join(lines)
