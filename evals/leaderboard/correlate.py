"""Do our benchmarks predict what people prefer? Rank correlations (Spearman's rho, Kendall's
tau-b, with their p-values from scipy) between each reference column (arena rating, MT-Bench)
and every other score column, over the models that have both values."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import pandas as pd
from scipy import stats

from jeval.leaderboard.cells import LOWER_IS_BETTER
from jeval.leaderboard.table import SCORE_KINDS, Board

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MIN_MODELS = 3


@dataclass(frozen=True)
class Pair:
    reference: str
    column: str
    n: int
    models: tuple[str, ...]
    spearman: float | None
    spearman_p: float | None
    kendall: float | None
    kendall_p: float | None


@dataclass(frozen=True)
class Correlation:
    pairs: list[Pair]
    notes: list[str]


def _clean(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def correlate(board: Board) -> Correlation:
    references = [c for c in board.columns if c.kind == "rating"][:1]
    references += [c for c in board.columns if c.column.label == "MT-Bench"]
    notes = [f"Rank correlations over the models that have both values; not computed (–) with fewer than "
             f"{MIN_MODELS} such models or when one side is constant. Spearman's rho and Kendall's tau-b, "
             "two-sided p-values (scipy.stats); with few models these are weak evidence."]
    if not references:
        notes.append("No arena rating and no MT-Bench column: nothing to correlate with (give --arena, or "
                     "judge results).")
    pairs = []
    for ref in references:
        for col in board.columns:
            if col.key == ref.key or col.kind not in (*SCORE_KINDS, "rating", "bits"):
                continue
            both = pd.concat([board.ranked(ref.key), board.ranked(col.key)], axis=1).dropna()
            n = len(both)
            rho = rho_p = tau = tau_p = None
            if n >= MIN_MODELS and both[ref.key].nunique() > 1 and both[col.key].nunique() > 1:
                sign = -1.0 if col.kind in LOWER_IS_BETTER else 1.0
                r = stats.spearmanr(both[ref.key], sign * both[col.key])
                k = stats.kendalltau(both[ref.key], sign * both[col.key])
                rho, rho_p, tau, tau_p = (_clean(r.statistic), _clean(r.pvalue), _clean(k.statistic), _clean(k.pvalue))
            pairs.append(Pair(ref.label, col.label, n, tuple(both.index), rho, rho_p, tau, tau_p))
    if board.incomplete:
        notes.append("Incomplete scores (marked on the leaderboard) are left out of the correlations.")
    if any(c.kind in LOWER_IS_BETTER for c in board.columns):
        notes.append("Lower-is-better columns (out of label set or format, bits per byte) are negated first, "
                     "so a positive value means agreement.")
    return Correlation(pairs, notes)


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(result: Correlation) -> str:
    lines = ["| Reference | Column | n | Spearman ρ | p | Kendall τ | p |", "|:---|:---|---:|---:|---:|---:|---:|"]
    lines.extend(f"| {p.reference} | {p.column} | {p.n} | {_f(p.spearman)} | {_f(p.spearman_p)} | "
                 f"{_f(p.kendall)} | {_f(p.kendall_p)} |" for p in result.pairs)
    lines += ["", "Notes:", ""] + [f"{i}. {t}" for i, t in enumerate(result.notes, 1)]
    return "\n".join(lines) + "\n"


def csv_text(result: Correlation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["reference", "column", "n", "spearman", "spearman_p", "kendall", "kendall_p"])
    for p in result.pairs:
        writer.writerow([p.reference, p.column, p.n, *("" if v is None else f"{v:.6f}"
                                                       for v in (p.spearman, p.spearman_p, p.kendall, p.kendall_p))])
    for i, text in enumerate(result.notes, 1):
        out.write(f"# [{i}] {text}\n")
    return out.getvalue()


def render(result: Correlation, fmt: str) -> str:
    if fmt == "csv":
        return csv_text(result)
    if fmt == "json":
        return json.dumps({"pairs": [asdict(p) for p in result.pairs], "notes": result.notes},
                          ensure_ascii=False, indent=2) + "\n"
    return markdown(result)


def _figure(result: Correlation) -> tuple[Figure, ModuleType]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    references = list(dict.fromkeys(p.reference for p in result.pairs)) or ["(none)"]
    tallest = max(sum(p.reference == r and p.spearman is not None for p in result.pairs) for r in references)
    height = max(2.5, 0.35 * tallest + 1.5)
    fig, axes = plt.subplots(1, len(references), figsize=(6 * len(references), height), squeeze=False)
    for ax, ref in zip(axes[0], references):
        rows = [p for p in result.pairs if p.reference == ref and p.spearman is not None]
        y = range(len(rows))
        ax.barh([i - 0.2 for i in y], [p.spearman or 0.0 for p in rows], height=0.4, label="Spearman ρ")
        ax.barh([i + 0.2 for i in y], [p.kendall or 0.0 for p in rows], height=0.4, label="Kendall τ")
        ax.set_yticks(list(y), [f"{p.column} (n={p.n})" for p in rows])
        ax.invert_yaxis()
        ax.set_xlim(-1, 1)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(f"rank correlation with {ref}")
        if not rows:
            ax.text(0, 0, f"no column shares {MIN_MODELS}+ models with {ref}", ha="center")
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig, plt


def plot_png(result: Correlation) -> bytes:
    fig, plt = _figure(result)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()
