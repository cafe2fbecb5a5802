"""`training_curves.png`: what a run's logs say, one panel per kind of number.

Panels share the step axis, top to bottom: the training loss; the trainer's own accuracy where it
logs one (SFT: token accuracy on the assistant turns, DPO: how often the chosen answer gets the
higher reward); the evaluation hook's scores, on an axis bounded to the scores' range (0-1, 0-10
or 0-100); its validation losses (bits or nats, lower is better); and the learning rate. Every
series has its own colour and marker, legends sit beside the axes, and each curriculum stage's
start is a labelled vertical line on every panel.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jeval.io import atomic_write_bytes
from jeval.models.train.logs import read_jsonl

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from jeval.models.train.config import TrainConfig

CURVES_FILE = "training_curves.png"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
ACCURACIES = {"mean_token_accuracy": "token accuracy (completions)",
              "rewards/accuracies": "chosen preferred (reward accuracy)"}
LOSS_WORDS = ("loss", "bits", "perplexity", "ppl", "bpb")


@dataclass(frozen=True)
class StageMark:
    """A curriculum stage that starts after `step` optimizer steps."""

    step: int
    name: str


@dataclass(frozen=True)
class Series:
    label: str
    steps: tuple[float, ...]
    values: tuple[float, ...]


def stage_marks(config: TrainConfig) -> list[StageMark]:
    return [StageMark(start, stage.name) for start, stage in zip(config.stage_starts(), config.stages)]


def is_loss_like(metric: str) -> bool:
    """An evaluated metric that measures loss (lower is better, no fixed range), by its name:
    `ppl/loss,lang=ja`, `ppl/bits_per_byte`."""
    name = metric.split("/", 1)[-1].split(",", 1)[0].lower()
    return any(word in name for word in LOSS_WORDS)


def score_limits(values: Sequence[float]) -> tuple[float, float]:
    """The range a score lives in, from the values seen: 0-1, 0-10 or 0-100 (from -1 where a value
    is negative, as a correlation can be), or the values' own span beyond those."""
    low, high = min(values), max(values)
    bottom = 0.0 if low >= 0 else -1.0 if low >= -1 else low
    top = next((t for t in (1.0, 10.0, 100.0) if high <= t), high)
    return bottom, top


def _series(records: list[dict], key: str, label: str) -> Series | None:
    points = [(r["step"], r[key]) for r in records if isinstance(r.get(key), int | float) and "step" in r]
    if not points:
        return None
    steps, values = zip(*points)
    return Series(label, tuple(steps), tuple(float(v) for v in values))


def _eval_series(evals: list[dict]) -> list[Series]:
    names = sorted({k for r in evals for k, v in r.get("scores", {}).items() if isinstance(v, int | float)})
    out = []
    for name in names:
        points = [(r["step"], float(r["scores"][name])) for r in evals
                  if isinstance(r.get("scores", {}).get(name), int | float)]
        steps, values = zip(*points)
        out.append(Series(name, tuple(steps), tuple(values)))
    return out


@dataclass(frozen=True)
class Panel:
    title: str
    ylabel: str
    series: tuple[Series, ...]
    bounded: bool = False
    height: float = 2.0


def panels(train: list[dict], evals: list[dict]) -> list[Panel]:
    """The panels a run's logs fill, in order; a panel without data is left out."""
    out = []
    loss = _series(train, "loss", "training loss")
    if loss:
        out.append(Panel("Training loss", "loss", (loss,), height=3.0))
    accuracies = tuple(s for key, label in ACCURACIES.items() if (s := _series(train, key, label)))
    if accuracies:
        out.append(Panel("Training accuracy", "accuracy", accuracies, bounded=True))
    evaluated = _eval_series(evals)
    scores = tuple(s for s in evaluated if not is_loss_like(s.label))
    losses = tuple(s for s in evaluated if is_loss_like(s.label))
    if scores:
        out.append(Panel("Evaluation scores", "score", scores, bounded=True))
    if losses:
        out.append(Panel("Validation loss", "loss", losses))
    rate = _series(train, "learning_rate", "learning rate")
    if rate:
        out.append(Panel("Learning rate", "learning rate", (rate,), height=1.5))
    return out


def _mark_stages(ax: Axes, stages: Sequence[StageMark], label: bool) -> None:
    """A dashed line where each stage after the first starts; with `label`, the stage names on a
    top axis at their starts."""
    for stage in stages:
        if stage.step > 0:
            ax.axvline(stage.step, color="0.35", linestyle="--", linewidth=1, gid=f"stage:{stage.name}")
    if label and stages:
        top = ax.secondary_xaxis("top")
        top.set_xticks([s.step for s in stages], labels=[f"{s.name} ▸" for s in stages], fontsize="small",
                       ha="left")
        top.tick_params(length=0, pad=2, labelcolor="0.25")


def curve_figure(train: list[dict], evals: list[dict], stages: Sequence[StageMark] = (),
                 title: str = "training curves", total_steps: int | None = None) -> Figure | None:
    """The figure for a run's `train_log.jsonl` and `eval_curve.jsonl` records (None when neither
    holds a number to draw). Marked stages are only drawn where there are several."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    shown = panels(train, evals)
    if not shown:
        return None
    stages = list(stages) if len(stages) > 1 else []
    fig = Figure(figsize=(9, 1.2 + 1.6 * sum(p.height for p in shown) / 2), layout="constrained")
    axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [p.height for p in shown]})[:, 0]
    colour = 0
    for i, (ax, panel) in enumerate(zip(axes, shown)):
        for series in panel.series:
            few = len(series.steps) <= 30
            ax.plot(series.steps, series.values, color=PALETTE[colour % len(PALETTE)],
                    marker=MARKERS[colour % len(MARKERS)] if few or panel.bounded else None, markersize=4,
                    linewidth=1.5, label=series.label)
            colour += 1
        if panel.bounded:
            bottom, top = score_limits([v for s in panel.series for v in s.values])
            pad = (top - bottom) * 0.03
            ax.set_ylim(bottom - pad, top + pad)
        elif panel.ylabel == "learning rate":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.1e}" if value else "0"))
        ax.set_ylabel(panel.ylabel)
        ax.set_title(panel.title, loc="left", fontsize="medium")
        ax.grid(True, color="0.9")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
        _mark_stages(ax, stages, label=i == 0)
    last = max(max(s.steps) for p in shown for s in p.series)
    axes[-1].set_xlim(0, max(total_steps or 0, last) or 1)
    axes[-1].set_xlabel("step")
    fig.suptitle(title)
    return fig


def plot_curves(out: Path, config: TrainConfig | None = None, name: str = "") -> Path | None:
    """Write `out/training_curves.png` from the run's logs (atomically); None when there is nothing
    to draw yet."""
    stages = stage_marks(config) if config is not None and config.mode == "pretrain" else []
    mode = config.mode if config is not None else "training"
    fig = curve_figure(read_jsonl(out / "train_log.jsonl"), read_jsonl(out / "eval_curve.jsonl"), stages,
                       title=f"Training curves: {name} ({mode})" if name and name != mode else
                       f"Training curves ({mode})", total_steps=config.total_steps if config else None)
    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    path = out / CURVES_FILE
    atomic_write_bytes(path, buffer.getvalue())
    return path
