"""The leaderboard as one self-contained static page: inline CSS and script, inline SVG figures,
the correlation figure as PNG data; nothing is fetched, so it works offline and from file://.

Made to read on a laptop screen (1280 px): the table scrolls inside its own box with the model
column and the header rows pinned (CSS `position: sticky`), and columns stand under a band per
group (Jaster under each protocol, MT-Bench, JGLUE, ...) with short labels, the full label in the
header's tooltip. A band of three or more columns folds to its lead column (the one standing on
the most tasks: Jaster AVG, JGLUE mean; else its first: MT-Bench overall, arena rating). Folding
is the script's: on load it folds the widest bands until the table fits its box, and each band
has a button; with scripts off nothing is folded or hidden, and the buttons stay hidden.

The table sorts on a header click (numbers by value, models by name; missing cells always last,
and incomplete scores with them: they are shown, marked, never ranked).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from jeval.leaderboard import svg
from jeval.leaderboard.render_text import MISSING, cell_text
from jeval.leaderboard.table import PROTOCOL_BANDS, RANKED_KINDS, SCORE_KINDS, Board, BoardColumn, group_name

if TYPE_CHECKING:
    from jeval.leaderboard.correlate import Correlation

FOLDABLE = 3
"""Bands of at least this many columns can fold."""
BAND_NAMES = {"combined": "Combined"}

STYLE = """
body { font-family: system-ui, "IPAGothic", "Noto Sans CJK JP", sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.wrap { overflow: auto; max-width: 100%; max-height: 85vh; border: 1px solid #ccc; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.85rem; }
th, td { border-right: 1px solid #ddd; border-bottom: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right;
         white-space: nowrap; background: #fff; }
thead { position: sticky; top: 0; z-index: 2; }
thead th { background: #f4f4f4; user-select: none; }
th[data-col] { cursor: pointer; }
th.band { text-align: center; background: #e8eef6; border-bottom-color: #b8c6dc; white-space: normal; }
th.band .protocol { display: block; font-weight: normal; font-size: 0.75rem; color: #555; }
th.model, td:first-child { position: sticky; left: 0; text-align: left; z-index: 1;
                           border-right: 2px solid #999; }
th.model { z-index: 3; }
table#correlation td:first-child { position: static; border-right: 1px solid #ddd; }
th[aria-sort="descending"]::after { content: " \\25BC"; } th[aria-sort="ascending"]::after { content: " \\25B2"; }
td.best { font-weight: bold; background: #eef7ee; }
td.missing { color: #999; }
td.incomplete { color: #8a5a00; font-style: italic; background: #fff6e0; }
button.fold { font: inherit; font-size: 0.75rem; margin-left: 0.4rem; padding: 0 0.35rem; cursor: pointer; }
.controls { margin: 0.5rem 0; font-size: 0.85rem; }
.controls button { font: inherit; margin-right: 0.5rem; }
sup { color: #666; font-size: 0.7em; }
ol.notes { font-size: 0.8rem; color: #444; max-width: 70rem; }
ol.notes li { margin-bottom: 0.3rem; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0.5rem 0; max-width: 100%; }
figure img { max-width: 100%; height: auto; }
ul.legend { list-style: none; padding: 0; margin: 0.3rem 0; max-width: 360px; font-size: 0.8rem; }
ul.legend li { display: flex; align-items: baseline; gap: 0.4rem; overflow-wrap: anywhere; }
ul.legend .swatch { flex: none; width: 0.8rem; height: 0.8rem; display: inline-block; }
figcaption { font-size: 0.8rem; color: #444; max-width: 360px; }
"""

SCRIPT = """
(() => {
  const table = document.getElementById("leaderboard");
  const wrap = document.getElementById("board-wrap");
  const headers = Array.from(table.tHead.querySelectorAll("th[data-col]"));
  const modelKey = (row) => row.cells[0].dataset.value;
  headers.forEach((th) => th.addEventListener("click", () => {
    const index = Number(th.dataset.col);
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
      if (x === "" && y === "") return modelKey(a).localeCompare(modelKey(b));
      if (x === "") return 1;
      if (y === "") return -1;
      const order = numeric ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
      return order !== 0 ? sign * order : modelKey(a).localeCompare(modelKey(b));
    });
    rows.forEach((row) => body.appendChild(row));
  }));

  const bands = Array.from(table.tHead.querySelectorAll("th.band[data-lead]"));
  const header = (col) => table.tHead.querySelector(`th[data-col="${col}"]`);
  const setFolded = (band, folded) => {
    const first = Number(band.dataset.first), last = Number(band.dataset.last), lead = Number(band.dataset.lead);
    for (let col = first; col <= last; col++) {
      if (col === lead) continue;
      header(col).hidden = folded;
      Array.from(table.tBodies[0].rows).forEach((row) => { row.cells[col].hidden = folded; });
    }
    band.colSpan = folded ? 1 : last - first + 1;
    band.dataset.folded = folded ? "true" : "false";
    const button = band.querySelector("button.fold");
    button.setAttribute("aria-expanded", folded ? "false" : "true");
    button.textContent = folded ? `+${last - first}` : "\\u2212";
    button.title = folded ? `show the ${last - first} folded columns` : "fold to the lead column";
  };
  bands.forEach((band) => {
    const button = band.querySelector("button.fold");
    button.hidden = false;
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      setFolded(band, band.dataset.folded !== "true");
    });
  });
  const controls = document.getElementById("fold-controls");
  if (bands.length) {
    controls.hidden = false;
    document.getElementById("unfold-all").addEventListener("click", () => bands.forEach((b) => setFolded(b, false)));
    document.getElementById("fold-all").addEventListener("click", () => bands.forEach((b) => setFolded(b, true)));
  }
  const widest = bands.slice().sort((a, b) => (b.dataset.last - b.dataset.first) - (a.dataset.last - a.dataset.first));
  for (const band of widest) {
    if (table.offsetWidth <= wrap.clientWidth) break;
    setFolded(band, true);
  }
})();
"""


@dataclass(frozen=True)
class Band:
    """Consecutive columns under one header: `first`..`last` are table column indices (the model
    column is 0); `lead`, where the band can fold, is the one it folds to."""

    name: str
    detail: str
    first: int
    last: int
    lead: int | None


def _marks(marks: tuple[int, ...]) -> str:
    return "".join(f'<sup><a href="#note-{m}">[{m}]</a></sup>' for m in marks)


def _band_key(c: BoardColumn) -> tuple[str, ...]:
    return (c.column.group, c.column.protocol, c.column.shots or "") if c.column.group in PROTOCOL_BANDS \
        else (c.column.group,)


def _band_name(group: str) -> str:
    return BAND_NAMES.get(group, group_name(group))


def _short_label(c: BoardColumn, band: str) -> str:
    """The label under its band's header: without the group's name ("Jaster NLI" -> "NLI",
    "MT-Bench" -> "overall"); in a protocol band also without the protocol, which the band shows."""
    label = c.column.label if c.column.group in PROTOCOL_BANDS else c.label
    if label == band:
        return "overall"
    rest = label.removeprefix(band + " ")
    return rest if rest != label and rest[:1].isalnum() else label


def _tasks_behind(board: Board, c: BoardColumn) -> int:
    """How many tasks a column's cells stand on (from their data signatures)."""
    return max((len(cell.data.split(";")) for (_, key), cell in board.cells.items() if key == c.key and cell.data),
               default=0)


def _bands(board: Board) -> list[Band]:
    """The table's bands, in column order. A group split into several protocol bands names each
    band's protocol (and few-shot count, where those differ too)."""
    columns = board.columns
    runs: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(columns) + 1):
        if i == len(columns) or _band_key(columns[i]) != _band_key(columns[start]):
            runs.append((start, i))
            start = i
    keys_by_group: dict[str, set[tuple[str, ...]]] = {}
    for first, _ in runs:
        keys_by_group.setdefault(columns[first].column.group, set()).add(_band_key(columns[first]))
    bands = []
    for first, end in runs:
        members = columns[first:end]
        lead = None
        if len(members) >= FOLDABLE:
            tasks = [_tasks_behind(board, c) for c in members]
            lead = first + 1 + tasks.index(max(tasks))
        group = members[0].column.group
        keys = keys_by_group[group]
        detail = ""
        if len(keys) > 1:
            column = members[0].column
            several_shots = len({k[2] for k in keys}) > 1
            detail = column.protocol + (f", {column.shots or '?'}-shot" if several_shots else "")
        bands.append(Band(_band_name(group), detail, first + 1, end, lead))
    return bands


def _band_header(band: Band) -> str:
    span = band.last - band.first + 1
    detail = escape(f"[{band.detail}]").replace("/", "/<wbr>") if band.detail else ""
    fold = ""
    attrs = f'class="band" scope="colgroup" colspan="{span}" data-first="{band.first}" data-last="{band.last}"'
    if band.lead is not None:
        attrs += f' data-lead="{band.lead}"'
        fold = '<button type="button" class="fold" hidden aria-expanded="true">\u2212</button>'
    protocol = f'<span class="protocol">{detail}</span>' if detail else ""
    return f"<th {attrs}>{escape(band.name)}{fold}{protocol}</th>"


def _column_header(c: BoardColumn, col: int, text: str, extra: str = "") -> str:
    return (f'<th data-kind="{c.kind}" data-key="{escape(c.key)}" data-col="{col}" scope="col"{extra} '
            f'title="{escape(c.label)} — {escape(c.column.protocol)}">{escape(text)}{_marks(c.marks)}</th>')


def _head(board: Board) -> str:
    """Two header rows: the bands, then the short labels under them; a band of one column (with
    nothing to add to its label) is one header over both rows."""
    bands = _bands(board)
    banded = [b for b in bands if b.last > b.first or b.detail]
    span = ' rowspan="2"' if banded else ""
    bands_row = [f'<th class="model"{span} data-kind="text" data-col="0" scope="col">Model</th>']
    labels_row: list[str] = []
    for band in bands:
        members = board.columns[band.first - 1:band.last]
        if band not in banded:
            bands_row.append(_column_header(members[0], band.first, members[0].label, span))
            continue
        bands_row.append(_band_header(band))
        labels_row.extend(_column_header(c, band.first + k, _short_label(c, band.name))
                          for k, c in enumerate(members))
    head = f'<tr class="bands">{"".join(bands_row)}</tr>'
    if labels_row:
        head += f'<tr class="labels">{"".join(labels_row)}</tr>'
    return f"<thead>{head}</thead>"


def _table(board: Board) -> str:
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
    controls = ('<div class="controls" id="fold-controls" hidden>Column groups: '
                '<button type="button" id="unfold-all">show every column</button>'
                '<button type="button" id="fold-all">fold every group</button></div>')
    return (f'{controls}<div class="wrap" id="board-wrap"><table id="leaderboard">{_head(board)}<tbody>'
            + "".join(rows) + "</tbody></table></div>")


def _radar_name(board: Board, model: str, columns: list[BoardColumn]) -> str:
    """A model's name in a radar's legend, marked where any of its plotted scores is incomplete."""
    return f"{model} (incomplete)" if any(board.is_incomplete(model, c.key) for c in columns) else model


def _legend(names: list[str]) -> str:
    items = "".join(f'<li><span class="swatch" style="background:{svg.color(k)}"></span>{escape(name)}</li>'
                    for k, name in enumerate(names))
    return f'<ul class="legend">{items}</ul>'


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
        out.append(f'<figure class="radar">{svg.radar(title, axes, series, float(board.scale))}{_legend(list(series))}'
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
            "to sort; missing results always sort last. Hover a header for its full name and protocol.</p>"
            f'{_table(board)}<h2>Notes</h2><ol class="notes">{notes}</ol>{figures}{_arena(board)}'
            f"{_correlation(correlation)}<script>{SCRIPT}</script></body></html>\n")
