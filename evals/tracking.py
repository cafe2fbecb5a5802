"""Logging results to Weights & Biases and TensorBoard: `--wandb PROJECT` / `--tensorboard DIR` on
`jeval run`, `jeval judge single|pairwise` and `jeval arena ratings`.

What a command produced becomes a `Board`: scalars (`jnli/exact_match`, `jaster/AVG`, with their
standard errors), one table of every score, radar charts of suite categories (jeval's own SVG
radar for W&B's HTML panel, the same chart drawn with matplotlib as an image for both), and any
figure the command draws (the arena's ratings plot). Each library is imported only when asked for;
one that is not installed is a one-line error before any work starts (`check`), and a failure of
the library after the work is a one-line error that points at the results already written.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jeval.errors import JevalError
from jeval.results import safe_name
from jeval.stderr import is_stderr_key, stderr_key

if TYPE_CHECKING:
    import numpy as np

INSTALL = {"tensorboard": "pip install tensorboard", "wandb": "pip install wandb"}


@dataclass(frozen=True)
class Tracking:
    """Where to log: a W&B project, a TensorBoard log folder (each run in a sub-folder)."""

    wandb_project: str | None = None
    tensorboard_dir: Path | None = None

    @property
    def wanted(self) -> bool:
        return self.wandb_project is not None or self.tensorboard_dir is not None


@dataclass(frozen=True)
class Radar:
    title: str
    axes: list[str]
    series: dict[str, list[float | None]]
    maximum: float


@dataclass
class Board:
    """What one command logs."""

    name: str
    kind: str
    """W&B's job type: "eval", "judge" or "arena"."""
    folder: Path
    """Where the command wrote its results (W&B's local files go there unless WANDB_DIR says otherwise)."""
    scalars: dict[str, float] = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    radars: list[Radar] = field(default_factory=list)
    images: dict[str, np.ndarray] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)


def tracking_of(args: Any) -> Tracking:
    """The `--wandb` / `--tensorboard` options of a parsed command line."""
    return Tracking(getattr(args, "wandb", None), getattr(args, "tensorboard", None))


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("tracking")
    group.add_argument("--wandb", metavar="PROJECT", help="log scores, a table and radar charts to this Weights & "
                                                          "Biases project (WANDB_MODE=offline: local files only)")
    group.add_argument("--tensorboard", type=Path, metavar="DIR",
                       help="write scores, a table and radar charts as TensorBoard events under DIR/<run>")


def _installed(module: str) -> bool:
    """Whether `module` can be imported, found without importing it (wandb takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: marked absent in sys.modules
        return False


def check(tracking: Tracking) -> None:
    """Fail now, before any work, where a library asked for is not installed."""
    for option, asked, package in (("--tensorboard", tracking.tensorboard_dir, "tensorboard"),
                                   ("--wandb", tracking.wandb_project, "wandb")):
        if asked is not None and not _installed(package):
            raise JevalError(f"{option} needs the {package} package, which is not installed: {INSTALL[package]}")


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def run_board(results: Mapping[str, Any], folder: Path) -> Board:
    """A `jeval run` results.json: every task's scores and errors, each suite's mean and categories."""
    model = results.get("model", {})
    board = Board(safe_name(f"{model.get('name', 'model')}-{results.get('run_id', '')}"), "eval", folder,
                  columns=["task", "metric", "score", "stderr", "protocol", "shots", "n"])
    for task, result in results.get("tasks", {}).items():
        metrics = result.get("metrics", {})
        for metric, value in metrics.items():
            if not _finite(value):
                continue
            board.scalars[f"{task}/{metric}"] = float(value)
            if not is_stderr_key(metric):
                error = metrics.get(stderr_key(metric))
                board.rows.append([task, metric, float(value), float(error) if _finite(error) else None,
                                   result.get("protocol"), str(result.get("shots")), result.get("n_samples")])
    for suite, summary in results.get("summaries", {}).items():
        errors = summary.get("categories_stderr") or {}
        shown = {c: float(v) for c, v in summary.get("categories", {}).items() if _finite(v)}
        for category, value in shown.items():
            board.scalars[f"{suite}/{category}"] = value
            if _finite(errors.get(category)):
                board.scalars[f"{suite}/{category}_stderr"] = float(errors[category])
            board.rows.append([f"[{suite}]", category, value, errors.get(category), summary.get("protocol"), "", None])
        if _finite(summary.get("AVG")):
            board.scalars[f"{suite}/AVG"] = float(summary["AVG"])
            if _finite(summary.get("AVG_stderr")):
                board.scalars[f"{suite}/AVG_stderr"] = float(summary["AVG_stderr"])
            board.rows.append([f"[{suite}]", "AVG", float(summary["AVG"]), summary.get("AVG_stderr"),
                               summary.get("protocol"), "", None])
        if len(shown) >= 3:
            series: dict[str, list[float | None]] = {str(model.get("name")): list(shown.values())}
            board.radars.append(Radar(f"{suite} categories", list(shown), series, 1.0))
    board.config = {k: results.get(k) for k in ("run_id", "created", "model", "backend", "config", "versions",
                                                 "hardware", "seed", "command_line")}
    return board


def judge_board(results: Mapping[str, Any], folder: Path) -> Board:
    """A `jeval judge` results.json: per model the overall score, turns and categories (single), or
    wins, losses, ties and the adjusted win rate (pairwise); a radar of the categories."""
    benchmark = results.get("benchmark", {})
    board = Board(safe_name(f"judge-{folder.name}"), "judge", folder)
    if results.get("mode") == "single":
        board.columns = ["model", "aspect", "score"]
        scale = benchmark.get("scale") or [1, 10]
        series: dict[str, list[float | None]] = {}
        axes: list[str] = []
        for model, score in results.get("scores", {}).items():
            parts = {"overall": score.get("overall"),
                     **{f"turn {t}": v for t, v in (score.get("turns") or {}).items()},
                     **(score.get("categories") or {})}
            for aspect, value in parts.items():
                if _finite(value):
                    board.scalars[f"{model}/{aspect}"] = float(value)
                board.rows.append([model, aspect, float(value) if _finite(value) else None])
            categories = score.get("categories") or {}
            axes = axes or list(categories)
            series[model] = [float(categories[a]) if _finite(categories.get(a)) else None for a in axes]
        if len(axes) >= 3:
            board.radars.append(Radar(f"{benchmark.get('title', 'judge')} categories", axes, series, float(scale[-1])))
    else:
        board.columns = ["model", "win", "loss", "tie", "win_rate_adjusted"]
        for model, m in results.get("pairwise", {}).get("models", {}).items():
            for key in ("win", "loss", "tie", "win_rate_adjusted"):
                if _finite(m.get(key)):
                    board.scalars[f"{model}/{key}"] = float(m[key])
            board.rows.append([model, m.get("win"), m.get("loss"), m.get("tie"), m.get("win_rate_adjusted")])
    board.config = {k: results.get(k) for k in ("benchmark", "mode", "created", "judge", "prompt_set", "reference",
                                                 "turns", "repeat", "models")}
    return board


def ratings_board(report: Any, name: str, folder: Path, figure: np.ndarray | None = None) -> Board:
    """`jeval arena ratings`: each model's rating, interval, Elo, battles and win rate; the ratings
    figure the command draws."""
    board = Board(safe_name(name), "arena", folder,
                  columns=["model", "rank", "rating", "lower", "upper", "elo", "battles", "win_rate"])
    for row in report.rows:
        for key in ("rating", "lower", "upper", "elo", "battles", "win_rate"):
            value = getattr(row, key)
            if _finite(value):
                board.scalars[f"{key}/{row.model}"] = float(value)
        board.rows.append([row.model, row.rank, row.rating, row.lower, row.upper, row.elo, row.battles,
                           row.win_rate if _finite(row.win_rate) else None])
    if figure is not None:
        board.images["ratings"] = figure
    board.config = {"battles": report.battles, "options": report.as_dict().get("options")}
    return board


def radar_image(radar: Radar, size_px: int = 480) -> np.ndarray:
    """The radar as an RGB image (height, width, 3), drawn with matplotlib (no display needed)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.projections.polar import PolarAxes

    figure = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_subplot(projection="polar")
    assert isinstance(ax, PolarAxes)
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    n = len(radar.axes)
    angles = [2 * math.pi * i / n for i in range(n)]
    for name, values in radar.series.items():
        points = [max(0.0, v) if v is not None else 0.0 for v in values]
        ax.plot([*angles, angles[0]], [*points, points[0]], label=name)
        ax.fill([*angles, angles[0]], [*points, points[0]], alpha=0.12)
    ax.set_xticks(angles, radar.axes)
    ax.set_ylim(0, radar.maximum)
    ax.set_title(radar.title, pad=18)
    ax.legend(loc="lower right", fontsize="small")
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return "" if value is None else str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_tensorboard(board: Board, log_dir: Path) -> Path:
    """Scalars (step 0), the table as a markdown text summary, radars and figures as images."""
    from torch.utils.tensorboard import SummaryWriter

    folder = log_dir / board.name
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for tag, value in board.scalars.items():
            writer.add_scalar(tag, value, 0)
        if board.rows:
            writer.add_text("scores", _markdown(board.columns, board.rows), 0)
        for radar in board.radars:
            writer.add_image(f"radar/{radar.title}", radar_image(radar), 0, dataformats="HWC")
        for title, image in board.images.items():
            writer.add_image(title, image, 0, dataformats="HWC")
    finally:
        writer.close()
    return folder


def write_wandb(board: Board, project: str) -> str:
    """One W&B run: the scalars in its summary and first step, the table, the radars as images
    and as jeval's SVG (an HTML panel), other figures as images. Its local files go to
    WANDB_DIR, else to the results folder."""
    import wandb

    from jeval.leaderboard.svg import radar as svg_radar

    folder = os.environ.get("WANDB_DIR") or str(board.folder)
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        run = wandb.init(project=project, name=board.name, job_type=board.kind, config=board.config, dir=folder)
    except Exception as e:  # wandb raises its own types for login, network and settings problems
        raise JevalError(f"W&B could not start a run ({type(e).__name__}: {e}); log in (`wandb login`) or set "
                         "WANDB_MODE=offline") from None
    try:
        logged: dict[str, Any] = dict(board.scalars)
        if board.rows:
            columns: list[Any] = list(board.columns)
            logged["scores"] = wandb.Table(columns=columns, data=[list(r) for r in board.rows])
        for radar in board.radars:
            logged[f"radar/{radar.title}"] = wandb.Image(radar_image(radar))
            logged[f"radar_svg/{radar.title}"] = wandb.Html(svg_radar(radar.title, radar.axes, radar.series,
                                                                      radar.maximum))
        for title, image in board.images.items():
            logged[title] = wandb.Image(image)
        run.log(logged)
        run.summary.update(board.scalars)
        files = getattr(run, "dir", None)
        where = str(Path(files).parent) if files else folder
    finally:
        run.finish()
    return where


def log_board(board: Board, tracking: Tracking) -> list[str]:
    """Log to every target asked for; one line per target saying where it went."""
    done = []
    if tracking.tensorboard_dir is not None:
        done.append(f"tensorboard: {write_tensorboard(board, tracking.tensorboard_dir)}")
    if tracking.wandb_project is not None:
        where = write_wandb(board, tracking.wandb_project)
        done.append(f"wandb: project {tracking.wandb_project}, run {board.name} ({where})")
    return done
