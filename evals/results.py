"""Where a run's outputs go and how its score table is printed.

`<output>/<model name>-<fingerprint>/<run-id>/results.json` and `samples/<task>.jsonl`, written
atomically (see jeval.schema for what results.json holds).
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jeval.io import atomic_write_json, atomic_write_jsonl
from jeval.provenance import suffix_notes


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
    return path


def _shown(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}"


def format_table(results: Mapping[str, Any]) -> str:
    rows = [("task", "protocol", "shots", "n", "metric", "score")]
    for name, task in results["tasks"].items():
        for metric, value in task["metrics"].items():
            if isinstance(value, dict):
                continue
            rows.append((name, task["protocol"], str(task["shots"]), str(task["n_samples"]), metric, _shown(value)))
    for name, summary in results.get("summaries", {}).items():
        for category, value in summary["categories"].items():
            rows.append((f"[{category}]", summary["protocol"], "", "", "mean", _shown(value)))
        rows.append((f"[{name} AVG]", summary["protocol"], "", "", "mean", _shown(summary["AVG"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    model = results.get("model", {})
    lines.insert(0, f"model: {model.get('name')} ({model.get('fingerprint', '')[:19]}, "
                    f"{model.get('identity_basis', '')}; engine {results.get('backend', {}).get('engine')})")
    lines += [f"note: {n}" for n in suffix_notes(t["protocol"] for t in results["tasks"].values())]
    lines += [f"skipped: {name}: {why}" for name, why in results.get("skipped", {}).items()]
    for name, task in results["tasks"].items():
        if task.get("failed_items"):
            lines.append(f"failed: {name}: {task['failed_items']['count']} of {task['n_samples']} items, scored as "
                         f"empty answers ({next(iter(task['failed_items']['reasons']))})")
    return "\n".join(lines)
