"""Ratings written as a Markdown table, CSV, JSON or a PNG figure."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from jeval.arena.ratings import ModelRow, RatingsReport
from jeval.errors import JevalError

FORMATS = ("md", "csv", "json", "png")
COLUMNS = ("rank", "model", "rating", "lower", "upper", "elo", "battles", "wins", "losses", "ties")
MIN_BATTLES = 30
MAX_INTERVAL = 200.0
CAVEATS = ("few", "wide", "undefeated", "winless")


def caveats(row: ModelRow, min_battles: int = MIN_BATTLES, max_interval: float = MAX_INTERVAL) -> tuple[str, ...]:
    """Why a model's place is not settled: fewer than `min_battles` battles ("few"), an interval
    wider than `max_interval` points ("wide"), no losses ("undefeated") or no wins ("winless").
    An undefeated or winless model's rating rests on the prior, not on the votes, and its bootstrap
    interval is too narrow: every resample of its battles is undefeated (or winless) too."""
    found = []
    if row.battles < min_battles:
        found.append("few")
    if row.upper - row.lower > max_interval:
        found.append("wide")
    if row.losses == 0 and row.wins > 0:
        found.append("undefeated")
    if row.wins == 0 and row.losses > 0:
        found.append("winless")
    return tuple(found)


def _caveat_words(found: tuple[str, ...], min_battles: int) -> str:
    words = {"few": f"fewer than {min_battles} battles", "wide": "wide interval", "undefeated": "undefeated",
             "winless": "winless"}
    return ", ".join(words[c] for c in found)


def _cells(row: ModelRow) -> list[str]:
    return [str(row.rank), row.model, f"{row.rating:.1f}", f"{row.lower:.1f}", f"{row.upper:.1f}",
            f"{row.elo:.1f}", str(row.battles), str(row.wins), str(row.losses), str(row.ties)]


def markdown(report: RatingsReport) -> str:
    conf = round(report.options.confidence * 100)
    head = ["rank", "model", "rating", f"{conf}% CI", "online Elo", "battles", "W-L-T"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.extend(f"| {r.rank} | {r.model} | {r.rating:.1f} | {r.lower - r.rating:+.1f} / {r.upper - r.rating:+.1f} "
                 f"| {r.elo:.1f} | {r.battles} | {r.wins}-{r.losses}-{r.ties} |" for r in report.rows)
    lines.append("")
    lines.append(f"{report.battles} battles; Bradley-Terry{' with style control' if report.options.style else ''}, "
                 f"{report.options.bootstrap} bootstrap rounds (seed {report.options.seed}).")
    unsettled = [(r.model, found) for r in report.rows if (found := caveats(r))]
    if unsettled:
        lines.append("Caveats: " + "; ".join(f"{model}: {_caveat_words(found, MIN_BATTLES)}"
                                             for model, found in unsettled) + ".")
    if report.style_coefficients:
        lines.append("Style coefficients: " + ", ".join(f"{k} {v:+.3f}" for k, v in report.style_coefficients.items()))
    lines.append("")
    lines.append("Win rate of row over column (decisive battles):")
    lines.append("")
    lines.extend(_matrix_md(report.models, report.win_rates, "{:.2f}"))
    lines.append("")
    lines.append("Battle counts:")
    lines.append("")
    lines.extend(_matrix_md(report.models, report.battle_counts, "{:.0f}"))
    return "\n".join(lines) + "\n"


def _matrix_md(models: list[str], a: np.ndarray, fmt: str) -> list[str]:
    lines = ["| | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for i, m in enumerate(models):
        cells = ["" if i == j or not np.isfinite(a[i, j]) else fmt.format(a[i, j]) for j in range(len(models))]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def csv_text(report: RatingsReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in report.rows:
        writer.writerow(_cells(r))
    return out.getvalue()


def json_text(report: RatingsReport) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n"


def png(report: RatingsReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(report.models)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8 + 0.5 * n, 3 + 0.35 * n))
    ratings = np.array([r.rating for r in report.rows])
    err = np.array([[r.rating - r.lower for r in report.rows], [r.upper - r.rating for r in report.rows]])
    left.errorbar(ratings, np.arange(n), xerr=err, fmt="o")
    left.set_yticks(np.arange(n), report.models)
    left.invert_yaxis()
    left.set_xlabel("rating")
    left.set_title("Bradley-Terry rating with bootstrap interval")
    image = right.imshow(report.win_rates, vmin=0, vmax=1, cmap="RdBu")
    right.set_xticks(np.arange(n), report.models, rotation=90)
    right.set_yticks(np.arange(n), report.models)
    right.set_title("win rate of row over column")
    fig.colorbar(image, ax=right)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(report: RatingsReport, fmt: str) -> str:
    if fmt == "md":
        return markdown(report)
    if fmt == "csv":
        return csv_text(report)
    if fmt == "json":
        return json_text(report)
    raise JevalError(f"format {fmt!r} is written to a file with --output; text formats are md, csv, json")
