"""`jeval leaderboard`: tables (Markdown, CSV, JSON) or a static HTML page over results folders,
and `--correlate`: how well benchmarks and MT-Bench rank models the way arena voters do."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from jeval.errors import JevalError

if TYPE_CHECKING:
    from jeval.leaderboard.correlate import Correlation
    from jeval.leaderboard.table import Board

log = logging.getLogger(__name__)
FORMATS = ("md", "csv", "json", "html")


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for item in values or [] for v in item.split(",") if v.strip())


def _pairs(values: list[str] | None, flag: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in _split(values):
        name, sep, value = item.rpartition("=")
        if not sep or not name.strip() or not value.strip():
            raise JevalError(f"{flag} {item!r}: expected NAME=VALUE")
        out.append((name.strip(), value.strip()))
    return tuple(out)


def _weights(values: list[str] | None) -> tuple[tuple[str, float], ...]:
    out = []
    for name, value in _pairs(values, "--weights"):
        try:
            out.append((name, float(value)))
        except ValueError:
            raise JevalError(f"--weights {name}={value}: the weight must be a number") from None
    return tuple(out)


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from jeval.io import atomic_write_bytes, atomic_write_text
    from jeval.leaderboard.arena_input import load_arena
    from jeval.leaderboard.collect import collect
    from jeval.leaderboard.table import TableOptions, build

    options = TableOptions(scale=args.scale, models=_split(args.models), columns=_split(args.columns),
                           run_ids=_split(args.run_id), lenient=args.lenient, combined=args.combined,
                           weights=_weights(args.weights), sort=args.sort, aliases=_pairs(args.alias, "--alias"))
    found = collect([Path(p) for p in args.results or ["results"]])
    for problem in found.problems:
        print(f"jeval: warning: {problem.path}: {problem.reason}; skipped, not counted", file=sys.stderr)
    arena = load_arena(args.arena or [], bootstrap=args.arena_bootstrap, seed=args.seed)
    board = build(found, arena, options)
    log.info("%d model(s), %d column(s) from %d file(s) read: %d run(s), %d judge run(s), %d skipped%s",
             len(board.models), len(board.columns), found.files_read, len(found.runs), len(found.judgments),
             len(found.problems), "; arena ratings" if arena else "")
    out = Path(args.out) if args.out else None
    correlation = None
    if args.correlate:
        from jeval.leaderboard.correlate import correlate, plot_png

        correlation = correlate(board)
        if args.format != "html":
            plot = Path(args.plot) if args.plot else (out.with_suffix(".correlation.png") if out else None)
            if plot is not None:
                atomic_write_bytes(plot, plot_png(correlation))
                print(f"correlation plot written to {plot}", file=sys.stderr)
            else:
                print("note: no plot written (give --out or --plot FILE.png)", file=sys.stderr)
    text = _render(board, correlation, args.format)
    if out:
        atomic_write_text(out, text)
        print(f"leaderboard written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _render(board: Board, correlation: Correlation | None, fmt: str) -> str:
    if fmt == "html":
        from jeval.leaderboard.render_html import page

        return page(board, correlation)
    if correlation is not None:
        from jeval.leaderboard.correlate import render

        return render(correlation, fmt)
    from jeval.leaderboard import render_text

    return {"md": render_text.markdown, "csv": render_text.csv_text, "json": render_text.json_text}[fmt](board)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="*", metavar="RESULTS_DIR",
                   help="folders holding `jeval run` and `jeval judge` results "
                        "(searched recursively; default: results)")
    p.add_argument("--format", choices=FORMATS, default="md", help="md (default), csv, json or html (a static page)")
    p.add_argument("--out", "-o", help="write to this file (default: standard output)")
    p.add_argument("--models", action="append", help="only these models, comma-separated")
    p.add_argument("--columns", action="append",
                   help="columns or groups to show, comma-separated, in this order (groups: combined, jaster, "
                        "jaster_lenient, jglue, mgsm, xlsum, ja_leaderboard, mtbench, arena, ppl, and each other task "
                        "family's own, e.g. instruction, jhumaneval, elyza)")
    p.add_argument("--run-id", action="append",
                   help="use this run (and judge run) for its model instead of the latest; repeatable")
    p.add_argument("--arena", action="append", metavar="FILE_OR_URL",
                   help="arena ratings JSON (`jeval arena ratings --format json`), or battles: JSONL files "
                        "and/or vote-store URLs (rated here, Bradley-Terry with bootstrap); repeatable")
    p.add_argument("--arena-bootstrap", type=int, default=100,
                   help="bootstrap rounds when rating battles (default 100)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--alias", action="append", metavar="NAME=MODEL",
                   help="treat NAME (e.g. an arena model name) as MODEL; repeatable or comma-separated")
    p.add_argument("--scale", type=int, choices=(100, 1), default=100, help="scores on 0-100 (default) or 0-1")
    p.add_argument("--combined", choices=("nejumi", "none"), default="nejumi",
                   help="nejumi: (Jaster AVG + MT-Bench/10)/2 (default); none")
    p.add_argument("--weights", action="append", metavar="COLUMN=WEIGHT",
                   help="add a weighted mean of score columns, e.g. 'Jaster AVG=2,JGLUE mean=1,MT-Bench=1'")
    p.add_argument("--sort", metavar="COLUMN", help="order rows by this column (default: the first score column)")
    p.add_argument("--lenient", action="store_true",
                   help="add answer-format diagnostics (lenient exact match; out-of-label-set rate, or "
                        "out-of-format rate for number answers) as their own columns, apart from the strict scores")
    p.add_argument("--correlate", action="store_true",
                   help="rank correlations (Spearman, Kendall) of arena ratings and MT-Bench with every score column")
    p.add_argument("--plot", help="with --correlate: the figure's PNG file (default: next to --out)")


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog,
                                     description="Leaderboard tables over benchmark, judge and arena results.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    add_arguments(parser)
    parser.set_defaults(func=cmd_leaderboard)
    return parser
