"""The leaderboard as one self-contained static page: inline CSS and script, inline SVG figures,
the correlation figure as PNG data; nothing is fetched, so it works offline and from file://.

The table sorts on a header click (numbers by value, models by name; missing cells always last,
and incomplete scores with them: they are shown, marked, never ranked).
"""

from __future__ import annotations

import base64
from html import escape
from typing import TYPE_CHECKING

from jeval.leaderboard import svg
from jeval.leaderboard.render_text import MISSING, cell_text
from jeval.leaderboard.table import RANKED_KINDS, SCORE_KINDS, Board, BoardColumn

if TYPE_CHECKING:
    from jeval.leaderboard.correlate import Correlation

STYLE = """
body { font-family: system-ui, "IPAGothic", "Noto Sans CJK JP", sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; cursor: pointer; user-select: none; position: sticky; top: 0; }
th:first-child, td:first-child { text-align: left; }
th[aria-sort="descending"]::after { content: " \\25BC"; } th[aria-sort="ascending"]::after { content: " \\25B2"; }
td.best { font-weight: bold; background: #eef7ee; }
td.missing { color: #999; }
td.incomplete { color: #8a5a00; font-style: italic; background: #fff6e0; }
sup { color: #666; font-size: 0.7em; }
ol.notes { font-size: 0.8rem; color: #444; max-width: 70rem; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
"""

SCRIPT = """
(() => {
  const table = document.getElementById("leaderboard");
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, index) => th.addEventListener("click", () => {
    const numeric = th.dataset.kind !== "text";
    const lowerBetter = th.dataset.kind === "score_low" || th.dataset.kind === "bits";
    const current = th.getAttribute("aria-sort");
    let direction;
    if (current) direction = current === "descending" ? "ascending" : "descending";
    else direction = (!numeric || lowerBetter) ? "ascending" : "descending";
    headers.forEach((h) => h.removeAttribute("aria-sort"));
    th.setAttribute("aria-sort", direction);
    const sign = direction === "ascending" ? 1 : -1;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const key = (row) => row.cells[index].dataset.value;
    rows.sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === "" && y === "") return a.cells[0].dataset.value.localeCompare(b.cells[0].dataset.value);
      if (x === "") return 1;
      if (y === "") return -1;
      const order = numeric ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
      return order !== 0 ? sign * order : a.cells[0].dataset.value.localeCompare(b.cells[0].dataset.value);
    });
    rows.forEach((row) => body.appendChild(row));
  }));
})();
"""


def _marks(marks: tuple[int, ...]) -> str:
    return "".join(f'<sup><a href="#note-{m}">[{m}]</a></sup>' for m in marks)


def _table(board: Board) -> str:
    head = ['<th data-kind="text" scope="col">Model</th>']
    head.extend(f'<th data-kind="{c.kind}" data-key="{escape(c.key)}" scope="col" '
                f'title="{escape(c.column.protocol)}">{escape(c.label)}{_marks(c.marks)}</th>' for c in board.columns)
    rows = []
    for model in board.models:
        cells = [f'<td data-value="{escape(model)}">{escape(model)}</td>']
        for c in board.columns:
            value = board.value(model, c.key)
            text = cell_text(board, model, c)
            classes = []
            title = ""
            if text == MISSING:
                classes.append("missing")
                value = None
            elif board.is_incomplete(model, c.key):
                classes.append("incomplete")
                title = ' title="incomplete: see the note"'
                value = None
            elif model in board.best.get(c.key, ()):
                classes.append("best")
            data = "" if value is None else repr(round(value, 6))
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f'<td data-value="{data}"{cls}{title}>{escape(text)}'
                         f'{_marks(board.cell_marks.get((model, c.key), ()))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ('<div class="wrap"><table id="leaderboard"><thead><tr>' + "".join(head) + "</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")


def _radar_name(board: Board, model: str, columns: list[BoardColumn]) -> str:
    """A model's name in a radar's legend, marked where any of its plotted scores is incomplete."""
    return f"{model} (incomplete)" if any(board.is_incomplete(model, c.key) for c in columns) else model


def _radars(board: Board) -> list[str]:
    """A radar per (group, protocol) that has at least three category columns."""
    groups: dict[tuple[str, str], list[BoardColumn]] = {}
    several_shots = len({c.column.shots for c in board.columns if c.column.group == "jaster"}) > 1
    for c in board.columns:
        is_category = (c.column.group == "jaster" and c.column.label != "Jaster AVG") or \
                      (c.column.group == "mtbench" and c.column.label != "MT-Bench")
        if is_category and c.kind in SCORE_KINDS:
            shots = f", {c.column.shots}-shot" if several_shots and c.column.group == "jaster" else ""
            groups.setdefault((c.column.group, c.column.protocol + shots), []).append(c)
    out = []
    for (group, protocol), columns in groups.items():
        if len(columns) < 3:
            continue
        prefix = "Jaster " if group == "jaster" else "MT-Bench "
        axes = [c.column.label.removeprefix(prefix) for c in columns]
        series = {_radar_name(board, m, columns): [board.value(m, c.key) for c in columns] for m in board.models
                  if any(board.value(m, c.key) is not None for c in columns)}
        title = f"{'Jaster' if group == 'jaster' else 'MT-Bench'} categories ({protocol})"
        out.append(f"<figure>{svg.radar(title, axes, series, float(board.scale))}"
                   f"<figcaption>{escape(title)}; scale 0–{board.scale}; a hollow point at the centre is "
                   "a missing score, not 0</figcaption></figure>")
    return out


def _arena(board: Board) -> str:
    rating = next((c for c in board.columns if c.kind == "rating"), None)
    interval = next((c for c in board.columns if c.kind == "interval"), None)
    votes = next((c for c in board.columns if c.kind == "count"), None)
    if rating is None or interval is None:
        return ""
    rows = []
    for m in board.models:
        bounds = board.interval(m, interval.key)
        r = board.value(m, rating.key)
        if bounds is not None and r is not None:
            n = board.value(m, votes.key) if votes else None
            rows.append((m, r, bounds[0], bounds[1], int(n or 0)))
    if not rows:
        return ""
    rows.sort(key=lambda row: (-row[1], row[0]))
    return f"<h2>Arena ratings</h2><figure>{svg.interval_bars(rows)}</figure>"


def _correlation(correlation: Correlation | None) -> str:
    if correlation is None:
        return ""
    from jeval.leaderboard.correlate import plot_png

    def f(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    rows = "".join(f"<tr><td>{escape(p.reference)}</td><td>{escape(p.column)}</td><td>{p.n}</td><td>{f(p.spearman)}"
                   f"</td><td>{f(p.spearman_p)}</td><td>{f(p.kendall)}</td><td>{f(p.kendall_p)}</td></tr>"
                   for p in correlation.pairs)
    image = base64.b64encode(plot_png(correlation)).decode("ascii")
    notes = "".join(f"<li>{escape(t)}</li>" for t in correlation.notes)
    return ('<h2>Do the benchmarks predict what people prefer?</h2><div class="wrap"><table id="correlation"><thead>'
            "<tr><th>Reference</th><th>Column</th><th>n</th><th>Spearman ρ</th><th>p</th><th>Kendall τ</th>"
            f"<th>p</th></tr></thead><tbody>{rows}</tbody></table></div>"
            f'<figure><img alt="rank correlations" src="data:image/png;base64,{image}"></figure>'
            f'<ol class="notes">{notes}</ol>')


def page(board: Board, correlation: Correlation | None = None, title: str = "jeval leaderboard") -> str:
    notes = "".join(f'<li id="note-{i}">{escape(t)}</li>' for i, t in enumerate(board.notes, 1))
    radars = _radars(board)
    figures = f'<h2>Categories</h2><div class="figures">{"".join(radars)}</div>' if radars else ""
    ranked = sum(1 for c in board.columns if c.kind in RANKED_KINDS)
    return ("<!DOCTYPE html>\n"
            f'<html lang="ja"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head><body>'
            f"<h1>{escape(title)}</h1><p>{len(board.models)} models, {ranked} ranked columns. Click a column header "
            "to sort; missing results always sort last.</p>"
            f'{_table(board)}<h2>Notes</h2><ol class="notes">{notes}</ol>{figures}{_arena(board)}'
            f"{_correlation(correlation)}<script>{SCRIPT}</script></body></html>\n")
