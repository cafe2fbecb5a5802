"""A Board as Markdown, CSV or JSON.

Markdown: one table (best in bold, – for no result, [n] marks) followed by numbered notes.
CSV: plain numbers (empty for no result), then `#` lines with the best models and the notes,
so that `pandas.read_csv(path, comment="#")` reads the table back.
JSON: columns with their protocol, rows with every cell's value, best flag, notes and source.

An incomplete score (see jeval.leaderboard.table) is never a plain number in any of them: Markdown
and CSV write it as `61.25 (incomplete)` (so a CSV column holding one no longer reads as numbers),
JSON gives `value: null` with `incomplete: true` and the number as `incomplete_value`; its note says
how much was judged.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from jeval.leaderboard.cells import LOWER_IS_BETTER
from jeval.leaderboard.table import Board, BoardColumn

MISSING = "–"
INCOMPLETE = "(incomplete)"


def number(board: Board, column: BoardColumn, value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.{board.digits(column.kind)}f}"


def _marks(marks: tuple[int, ...]) -> str:
    return "".join(f"[{m}]" for m in marks)


def cell_text(board: Board, model: str, column: BoardColumn) -> str:
    """The Markdown/HTML text of a cell, without best or note marks."""
    if column.kind == "interval":
        interval = board.interval(model, column.key)
        if interval is None:
            return MISSING
        return f"{interval[0]:.1f}–{interval[1]:.1f}"
    text = number(board, column, board.value(model, column.key))
    if not text:
        return MISSING
    return f"{text} {INCOMPLETE}" if board.is_incomplete(model, column.key) else text


def markdown(board: Board) -> str:
    head = ["Model"] + [c.label + _marks(c.marks) for c in board.columns]
    lines = ["| " + " | ".join(head) + " |", "|:---|" + "---:|" * len(board.columns)]
    for model in board.models:
        cells = [model]
        for c in board.columns:
            text = cell_text(board, model, c)
            if text != MISSING and model in board.best.get(c.key, ()):
                text = f"**{text}**"
            cells.append(text + _marks(board.cell_marks.get((model, c.key), ())))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Notes:", ""]
    lines += [f"{i}. {text}" for i, text in enumerate(board.notes, 1)]
    return "\n".join(lines) + "\n"


def csv_text(board: Board) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = ["model"]
    for c in board.columns:
        head += [f"{c.label} lower", f"{c.label} upper"] if c.kind == "interval" else [c.label]
    writer.writerow(head)
    for model in board.models:
        row = [model]
        for c in board.columns:
            if c.kind == "interval":
                interval = board.interval(model, c.key)
                row += [f"{interval[0]:.1f}", f"{interval[1]:.1f}"] if interval else ["", ""]
            else:
                text = number(board, c, board.value(model, c.key))
                row.append(f"{text} {INCOMPLETE}" if text and board.is_incomplete(model, c.key) else text)
        writer.writerow(row)
    best = [f"{c.label}={', '.join(m for m in board.models if m in board.best[c.key])}"
            for c in board.columns if c.key in board.best]
    if best:
        out.write("# best: " + "; ".join(best) + "\n")
    for i, text in enumerate(board.notes, 1):
        out.write(f"# [{i}] {text}\n")
    return out.getvalue()


def as_dict(board: Board) -> dict:
    columns = [{"key": c.key, "label": c.label, "group": c.column.group, "protocol": c.column.protocol,
                "shots": c.column.shots, "kind": c.kind, "higher_is_better": c.kind not in LOWER_IS_BETTER,
                "notes": list(c.marks)}
               for c in board.columns]
    rows = []
    for model in board.models:
        cells = {}
        for c in board.columns:
            cell = board.cells.get((model, c.key))
            value = board.value(model, c.key)
            incomplete = board.is_incomplete(model, c.key)
            entry: dict[str, Any] = {"value": None if incomplete else value,
                                     "best": model in board.best.get(c.key, ()), "incomplete": incomplete,
                                     "notes": list(board.cell_marks.get((model, c.key), ()))}
            if incomplete:
                entry["incomplete_value"] = value
            if c.kind == "interval":
                interval = board.interval(model, c.key)
                entry["lower"], entry["upper"] = interval if interval else (None, None)
            if cell is not None:
                entry["source"] = str(cell.source)
                entry["run_id"] = cell.run_id or None
            cells[c.key] = entry
        rows.append({"model": model, "cells": cells})
    return {"scale": board.scale, "columns": columns, "rows": rows,
            "notes": board.notes, "skipped": [{"file": str(p.path), "reason": p.reason} for p in board.problems]}


def json_text(board: Board) -> str:
    return json.dumps(as_dict(board), ensure_ascii=False, indent=2) + "\n"
