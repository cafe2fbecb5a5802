"""Cells -> one leaderboard: one row per model (per fingerprint: models that share a name get the
fingerprint's short form beside it), the latest result per model and column, columns kept apart by
protocol and few-shot count, one declared scale, best marks, combined scores and numbered notes.

Nothing is filled in: a model without a result in a column has no value there (NaN in the frame,
shown as missing). The only zeros that enter a number are those a protocol itself prescribes
(llm-jp-eval's AVG), and those cells carry a note saying so. An incomplete score (a judge score
below its coverage rule, and a combined score built on one) keeps its value but is never best,
sorts after the complete ones and is left out of correlations; the renderers mark it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from jeval.errors import JevalError
from jeval.leaderboard.arena_input import ArenaRatings
from jeval.leaderboard.cells import KNOWN_GROUPS, LOWER_IS_BETTER, Cell, Column, judge_cells, run_cells
from jeval.leaderboard.collect import Collection, Problem
from jeval.provenance import suffix_notes

NEJUMI = "Combined (Nejumi)"
WEIGHTED = "Combined (weighted)"
FORMULA = "formula"
SCORE_KINDS = ("score", "score_low")
RANKED_KINDS = (*SCORE_KINDS, "rating", "bits")
PROTOCOL_BANDS = ("jaster", "jaster_lenient", "mtbench")
"""Groups whose columns stand together by protocol (variant, judge) and few-shot count, each such
band led by its own summary column (AVG, overall)."""
GROUP_NAMES = {"jaster": "Jaster", "jaster_lenient": "Answer-format diagnostics", "jglue": "JGLUE",
               "mgsm": "MGSM", "xlsum": "XL-Sum", "ja_leaderboard": "ja_leaderboard", "mtbench": "MT-Bench",
               "arena": "Arena", "ppl": "Perplexity"}


@dataclass(frozen=True)
class TableOptions:
    scale: Literal[100, 1] = 100
    models: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    lenient: bool = False
    combined: Literal["nejumi", "none"] = "nejumi"
    weights: tuple[tuple[str, float], ...] = ()
    sort: str | None = None
    aliases: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.scale not in (100, 1):
            raise JevalError(f"--scale is 100 or 1, got {self.scale}")
        if any(w < 0 for _, w in self.weights) or (self.weights and sum(w for _, w in self.weights) <= 0):
            raise JevalError("--weights must be 0 or more and not all 0")


@dataclass(frozen=True)
class BoardColumn:
    column: Column
    label: str
    marks: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        return self.column.key

    @property
    def kind(self) -> str:
        return self.column.kind


@dataclass
class Board:
    """The finished table: `values` (models x column keys) already on the display scale."""

    scale: int
    columns: list[BoardColumn]
    models: list[str]
    values: pd.DataFrame
    cells: dict[tuple[str, str], Cell]
    best: dict[str, set[str]]
    cell_marks: dict[tuple[str, str], tuple[int, ...]]
    notes: list[str]
    problems: list[Problem] = field(default_factory=list)
    incomplete: set[tuple[str, str]] = field(default_factory=set)
    """(model, column key) of the scores that stand on less of the benchmark than their rule asks."""

    def digits(self, kind: str) -> int:
        if kind in SCORE_KINDS:
            return 2 if self.scale == 100 else 4
        return {"count": 0, "bits": 3}.get(kind, 1)

    def value(self, model: str, key: str) -> float | None:
        v = self.values.at[model, key]
        return None if pd.isna(v) else float(v)

    def is_incomplete(self, model: str, key: str) -> bool:
        return (model, key) in self.incomplete

    def ranked(self, key: str) -> pd.Series:
        """A column's values that may be ranked or compared: incomplete ones are left out (NaN)."""
        values = self.values[key].copy()
        for model in values.index:
            if (model, key) in self.incomplete:
                values[model] = float("nan")
        return values

    def interval(self, model: str, key: str) -> tuple[float, float] | None:
        cell = self.cells.get((model, key))
        if cell is None or cell.lower is None or cell.upper is None:
            return None
        return cell.lower, cell.upper

    def column(self, label: str) -> BoardColumn:
        return next(c for c in self.columns if c.label == label)


@dataclass(frozen=True)
class Derived:
    """A combined-score column: its values (0-1), the note giving its formula and the columns it is
    computed from."""

    column: Column
    series: pd.Series
    note: str
    terms: tuple[str, ...]


class Notes:
    """Numbered notes, each text once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> int:
        if text not in self.items:
            self.items.append(text)
        return self.items.index(text) + 1


def _all_cells(found: Collection, arena: ArenaRatings | None, options: TableOptions) -> list[Cell]:
    cells = [c for run in found.runs for c in run_cells(run, options.lenient)]
    cells += [c for record in found.judgments for c in judge_cells(record)]
    if arena is not None:
        cells += arena.cells()
    aliases = dict(options.aliases)
    return [replace(c, model=aliases.get(c.model, c.model)) for c in cells]


def _short(fingerprint: str) -> str:
    return fingerprint.split(":", 1)[-1][:8]


def _rows(cells: list[Cell]) -> tuple[list[Cell], list[str]]:
    """Each cell's `model` set to its row: a run's model by its fingerprint (named by its latest
    run; `name [abcd1234]` where several fingerprints share a name), a judge or arena cell by its
    name, joined to the run row of that name where exactly one model has it. Notes on names that
    could not be joined."""
    latest: dict[str, Cell] = {}
    for c in cells:
        if c.identity and (c.identity not in latest or (c.created, c.run_id) > (latest[c.identity].created,
                                                                              latest[c.identity].run_id)):
            latest[c.identity] = c
    by_name: dict[str, set[str]] = defaultdict(set)
    for identity, c in latest.items():
        by_name[c.model].add(identity)
    label = {identity: c.model if len(by_name[c.model]) == 1 else f"{c.model} [{_short(identity)}]"
             for identity, c in latest.items()}
    out, ambiguous = [], {}
    for c in cells:
        if c.identity:
            out.append(replace(c, model=label[c.identity]))
            continue
        if len(by_name.get(c.model, ())) > 1:
            ambiguous[c.model] = len(by_name[c.model])
        out.append(c)
    notes = [f"{name!r}: {n} models of this name were run (told apart by fingerprint); judge and arena results "
             f"known only by the name are shown in a row of their own." for name, n in sorted(ambiguous.items())]
    return out, notes


def _pinned(cells: list[Cell], run_ids: tuple[str, ...]) -> list[Cell]:
    """With --run-id: a model that has one of these runs is shown from those runs only."""
    if not run_ids:
        return cells
    known = {c.run_id for c in cells}
    unknown = [r for r in run_ids if r not in known]
    if unknown:
        raise JevalError(f"--run-id {', '.join(unknown)}: no such run among the results read")
    pinned_models = {c.model for c in cells if c.run_id in run_ids}
    return [c for c in cells if c.model not in pinned_models or c.column.group == "arena" or c.run_id in run_ids]


def _latest(cells: list[Cell]) -> tuple[dict[tuple[str, str], Cell], dict[str, int]]:
    """The latest cell per (model, column); and per column, how many older cells were passed over."""
    chosen: dict[tuple[str, str], Cell] = {}
    superseded: dict[str, int] = defaultdict(int)
    for c in cells:
        key = (c.model, c.column.key)
        old = chosen.get(key)
        if old is None:
            chosen[key] = c
            continue
        superseded[c.column.key] += 1
        if (c.created, c.run_id) > (old.created, old.run_id):
            chosen[key] = c
    return chosen, superseded


def _group_rank(group: str) -> tuple[int, str]:
    return (KNOWN_GROUPS.index(group), "") if group in KNOWN_GROUPS else (len(KNOWN_GROUPS), group)


def _column_order(c: Column) -> tuple[Any, ...]:
    """Groups in KNOWN_GROUPS order, then others by name; Jaster and MT-Bench columns of one protocol
    (variant, judge) and few-shot count together; elsewhere tasks before their suite mean, whatever
    protocol the mean is recorded under."""
    by_protocol = c.group in PROTOCOL_BANDS
    return (_group_rank(c.group), c.protocol if by_protocol else "", c.shots or "" if by_protocol else "", c.order,
            c.label, c.protocol, c.shots or "")


def group_name(group: str) -> str:
    return GROUP_NAMES.get(group, group)


def _shots_shown(shots: str | None) -> str:
    if shots is None:
        return "shots unknown"
    head, _, rest = shots.partition(";")
    return f"{head}-shot" + (f" ({rest.strip()})" if rest else "")


def _display_labels(columns: list[Column]) -> dict[str, str]:
    """A column's label, with its protocol where the label is reported under several protocols and
    its few-shot count where under several counts."""
    protocols: dict[str, set[str]] = defaultdict(set)
    shots: dict[str, set[str | None]] = defaultdict(set)
    for c in columns:
        protocols[c.label].add(c.protocol)
        shots[c.label].add(c.shots)
    labels = {}
    for c in columns:
        parts = [c.protocol] if len(protocols[c.label]) > 1 else []
        if len(shots[c.label]) > 1:
            parts.append(_shots_shown(c.shots))
        labels[c.key] = f"{c.label} [{', '.join(parts)}]" if parts else c.label
    return labels


def _resolve(name: str, columns: list[Column], labels: dict[str, str], flag: str) -> Column:
    exact = [c for c in columns if labels[c.key] == name]
    if exact:
        return exact[0]
    base = [c for c in columns if c.label == name]
    if len(base) == 1:
        return base[0]
    if len(base) > 1:
        raise JevalError(f"{flag} {name!r} is reported under several protocols; name one of: "
                         + ", ".join(repr(labels[c.key]) for c in base))
    raise JevalError(f"{flag} {name!r}: no such column; columns: " + ", ".join(repr(labels[c.key]) for c in columns))


def _combined(frame: pd.DataFrame, columns: list[Column], labels: dict[str, str], options: TableOptions
              ) -> tuple[list[Derived], list[str]]:
    """Combined-score columns (on 0-1) with the note giving their formula, and notes on those
    that could not be computed."""
    out, absent = [], []
    if options.combined == "nejumi":
        jaster = [c for c in columns if c.label == "Jaster AVG"]
        mt = [c for c in columns if c.label == "MT-Bench"]
        if len(jaster) == 1 and len(mt) == 1:
            series = (frame[jaster[0].key] + frame[mt[0].key]) / 2
            out.append(Derived(Column(NEJUMI, "combined", FORMULA, order=0), series,
                               f"{NEJUMI} = (Jaster AVG + MT-Bench/10) / 2, Nejumi leaderboard style: computed on "
                               "0–1 with MT-Bench's 1–10 score divided by 10, shown on the table's scale; missing "
                               "where either score is missing.", (jaster[0].key, mt[0].key)))
        else:
            why = ("there is no Jaster AVG" if not jaster else "there is no MT-Bench score" if not mt else
                   "Jaster AVG or MT-Bench is reported under several protocols (name the columns with --weights)")
            absent.append(f"{NEJUMI} = (Jaster AVG + MT-Bench/10) / 2 is not shown: {why}.")
    if options.weights:
        terms = [(_resolve(name, columns, labels, "--weights"), w) for name, w in options.weights]
        for column, _ in terms:
            if column.kind not in SCORE_KINDS:
                raise JevalError(f"--weights {labels[column.key]!r}: only score columns can be weighted "
                                 "(arena ratings and bits per byte are on other scales)")
        total = sum(w for _, w in terms)
        series = sum(frame[c.key] * w for c, w in terms) / total
        formula = " + ".join(f"{w:g}×{labels[c.key]}" for c, w in terms)
        out.append(Derived(Column(WEIGHTED, "combined", FORMULA, order=1), series,
                           f"{WEIGHTED} = ({formula}) / {total:g}, on the table's scale (MT-Bench as score/10); "
                           "missing where any term is missing.", tuple(c.key for c, _ in terms)))
    return out, absent


def _select(columns: list[Column], labels: dict[str, str], wanted: tuple[str, ...]) -> list[Column]:
    if not wanted:
        return columns
    chosen: list[Column] = []
    groups = list(dict.fromkeys([*KNOWN_GROUPS, *(c.group for c in columns)]))
    for name in wanted:
        if name in groups:
            matched = [c for c in columns if c.group == name]
        else:
            matched = [c for c in columns if labels[c.key] == name] or [c for c in columns if c.label == name]
        if not matched:
            offered = ", ".join([*groups, *dict.fromkeys(labels[c.key] for c in columns)])
            raise JevalError(f"--columns {name!r}: no such column or group here; choose from: {offered}")
        chosen += [c for c in matched if c not in chosen]
    return chosen


def _scale_note(scale: int, elyza: bool) -> str:
    if scale == 100:
        shown = "Scores are on a 0–100 scale: 0–1 scores ×100, MT-Bench's 1–10 ×10" + \
            (", ELYZA-tasks-100's 1–5 ×20." if elyza else ".")
    else:
        shown = "Scores are on a 0–1 scale: MT-Bench's 1–10 divided by 10" + \
            (", ELYZA-tasks-100's 1–5 by 5." if elyza else ".")
    return (f"{shown} Arena ratings are Bradley-Terry ratings on the Elo scale (400 points = 10× odds) with 95% "
            "bootstrap intervals. Best in each column: bold (CSV: the `# best` line). No result: – (empty in CSV), "
            "never counted as 0.")


def _data_differences(key: str, models: list[str], chosen: dict[tuple[str, str], Cell]) -> list[tuple[str, str]]:
    """The tasks behind a column that different models ran on different data, each with the models
    grouped by the data they had: [("jl_jnli", "alpha | beta")]; empty when every shared task agrees."""
    by_task: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for m in models:
        cell = chosen.get((m, key))
        for part in (cell.data.split(";") if cell and cell.data else ()):
            task, _, signature = part.partition(":")
            by_task[task][signature].append(m)
    return [(task, " | ".join(", ".join(ms) for ms in sorted(sigs.values())))
            for task, sigs in sorted(by_task.items()) if len(sigs) > 1]


def _column_list(columns: list[Column], labels: dict[str, str]) -> str:
    """Column labels for a sentence, a run of one group under one protocol written once:
    "Jaster AVG, NLI, QA [llm-jp-eval-1.4.1], JNLI"."""
    runs: list[tuple[Column, str, list[str]]] = []
    for c in columns:
        suffix = labels[c.key][len(c.label):]
        if runs and runs[-1][0].group == c.group and runs[-1][1] == suffix:
            prefix = group_name(c.group) + " "
            runs[-1][2].append(c.label.removeprefix(prefix) if runs[-1][0].label.startswith(prefix) else c.label)
        else:
            runs.append((c, suffix, [c.label]))
    return ", ".join(", ".join(names) + suffix for _, suffix, names in runs)


def _data_note(columns: list[Column], labels: dict[str, str], differences: list[tuple[str, str]]) -> str:
    """One note for every column whose tasks were run on different data: the columns, then the
    tasks, those that split the models the same way together ("jamp, jnli (alpha | beta)")."""
    tasks_by_split: dict[str, list[str]] = defaultdict(list)
    for task, split in dict.fromkeys(differences):
        tasks_by_split[split].append(task)
    details = "; ".join(f"{', '.join(tasks)} ({split})" for split, tasks in tasks_by_split.items())
    return (f"Compare with care: {_column_list(columns, labels)} "
            f"{'stands' if len(columns) == 1 else 'stand'} on different data or numbers of items for different "
            f"models (data fingerprint or item count differs for {details}).")


def _protocol_note(variants_by_group: dict[str, tuple[str, list[str]]]) -> str:
    """One note for every group whose results under several protocols (or few-shot counts) are kept
    apart: group -> (what differs, the variants)."""
    if len(variants_by_group) == 1:
        [(group, (what, variants))] = variants_by_group.items()
        return (f"{group_name(group)} results under different {what} are kept in separate columns and never "
                f"averaged together: {', '.join(variants)}.")
    return ("Results under different protocols or few-shot counts are kept in separate columns and never averaged "
            "together: " + "; ".join(f"{group_name(g)}: {', '.join(v)}" for g, (_, v) in variants_by_group.items())
            + ".")


def _filter_models(cells: list[Cell], models: tuple[str, ...]) -> list[Cell]:
    if not models:
        return cells
    present = {c.model for c in cells}
    unknown = [m for m in models if m not in present]
    if unknown:
        raise JevalError(f"--models {', '.join(unknown)}: no results for them; models found: "
                         + ", ".join(sorted(present)))
    return [c for c in cells if c.model in models]


def build(found: Collection, arena: ArenaRatings | None = None, options: TableOptions = TableOptions()) -> Board:
    rows, row_notes = _rows(_all_cells(found, arena, options))
    cells = _filter_models(_pinned(rows, options.run_ids), options.models)
    if not cells:
        raise JevalError("no results to tabulate: no readable jeval run, judge or arena results were found"
                         + (f" ({len(found.problems)} file(s) skipped, see the warnings)" if found.problems else ""))
    chosen, superseded_by_key = _latest(cells)
    models = sorted({m for m, _ in chosen})
    long = pd.DataFrame([(m, k, c.value) for (m, k), c in chosen.items()], columns=["model", "key", "value"])
    frame = long.pivot(index="model", columns="key", values="value").reindex(index=models).astype(float)
    present = {c.column for c in chosen.values()}
    columns = sorted((c for c in present if frame[c.key].notna().any()),
                     key=_column_order)
    labels = _display_labels(columns)
    combined, absent = _combined(frame, columns, labels, options)
    for d in combined:
        frame[d.column.key] = d.series
        labels[d.column.key] = d.column.label
    incomplete = {k for k, c in chosen.items() if c.incomplete}
    built_on_incomplete = _built_on_incomplete(frame, combined, incomplete)
    incomplete |= {(m, d.column.key) for d, ms in built_on_incomplete for m in ms}
    shown = _select([d.column for d in combined] + columns, labels, options.columns)
    notes = Notes()
    notes.add(_scale_note(options.scale, any(c.group == "elyza" for c in shown)))
    by_group: dict[str, list[str]] = defaultdict(list)
    for c in shown:
        if c.group != "combined" and c.protocol not in by_group[c.group]:
            by_group[c.group].append(c.protocol)
    if any(c.kind == "bits" for c in shown):
        notes.add("Perplexity columns give bits per UTF-8 byte of the evaluated corpus per language (comparable "
                  "across tokenizers), as measured, not on the score scale; lower is better.")
    notes.add("Protocols: " + "; ".join(f"{group_name(g)}: {', '.join(p)}" for g, p in by_group.items()) + ".")
    for text in suffix_notes(c.protocol for c in shown):
        notes.add(text)
    for text in row_notes:
        notes.add(text)
    header_marks: dict[str, list[int]] = defaultdict(list)
    for d in combined:
        if d.column in shown:
            header_marks[d.column.key].append(notes.add(d.note))
    if not options.columns or "combined" in options.columns:
        for text in absent:
            notes.add(text)

    split: dict[str, list[Column]] = defaultdict(list)
    for c in shown:
        if labels[c.key] != c.label and c not in split[c.group]:
            split[c.group].append(c)
    variants_by_group: dict[str, tuple[str, list[str]]] = {}
    for group, members in split.items():
        several_shots = len({c.shots for c in members}) > 1
        variants = list(dict.fromkeys(c.protocol + (f" ({_shots_shown(c.shots)})" if several_shots else "")
                                      for c in members))
        variants_by_group[group] = ("protocols or few-shot counts" if several_shots else "protocols", variants)
    if variants_by_group:
        mark = notes.add(_protocol_note(variants_by_group))
        for c in shown:
            if c.group in variants_by_group and labels[c.key] != c.label:
                header_marks[c.key].append(mark)
    differing = {c.key: _data_differences(c.key, models, chosen) for c in shown}
    affected = [c for c in shown if differing[c.key]]
    if affected:
        mark = notes.add(_data_note(affected, labels, [d for c in affected for d in differing[c.key]]))
        for c in affected:
            header_marks[c.key].append(mark)
    cell_marks: dict[tuple[str, str], list[int]] = defaultdict(list)
    grouped: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for c in shown:
        for m in models:
            cell = chosen.get((m, c.key))
            for text, detail in (cell.notes if cell else ()):
                grouped[text].append((m, c.key, detail))
    for text, entries in grouped.items():
        models_by_detail: dict[str, list[str]] = defaultdict(list)
        for m, _, detail in entries:
            if m not in models_by_detail[detail]:
                models_by_detail[detail].append(m)
        mark = notes.add(f"{text}: " + "; ".join(f"{ms[0]} {detail}" if len(ms) == 1 else f"{', '.join(ms)}: {detail}"
                                                 for detail, ms in models_by_detail.items()) + ".")
        for m, key, _ in entries:
            cell_marks[(m, key)].append(mark)
    for d, ms in built_on_incomplete:
        if d.column in shown:
            mark = notes.add(f"{d.column.label} is built on an incomplete score and is marked incomplete too: "
                             f"{', '.join(ms)}.")
            for m in ms:
                cell_marks[(m, d.column.key)].append(mark)
    superseded = sum(superseded_by_key.get(c.key, 0) for c in shown)
    if superseded:
        notes.add(f"{superseded} older result(s) were superseded by the latest run of the same model, protocol and "
                  "few-shot count (choose runs with --run-id).")
    if found.problems:
        notes.add(f"{len(found.problems)} file(s) were skipped and not counted: "
                  + "; ".join(f"{p.shown} ({p.reason})" for p in found.problems) + ".")

    frame = frame[[c.key for c in shown]].copy()
    if options.columns and not options.models:
        empty_rows = [m for m in models if frame.loc[m].isna().all()]
        if empty_rows:
            notes.add(f"Left out, no result in the columns shown: {', '.join(empty_rows)}.")
            models = [m for m in models if m not in empty_rows]
            frame = frame.loc[models]
    for c in shown:
        if c.kind in SCORE_KINDS:
            frame[c.key] = frame[c.key] * options.scale
    board_columns = [BoardColumn(c, labels[c.key], tuple(header_marks.get(c.key, ()))) for c in shown]
    sort_column = _sort_column(board_columns, options.sort, labels)
    if sort_column is not None:
        models = _sorted_models(frame, sort_column, incomplete)
    frame = frame.reindex(models)
    board = Board(options.scale, board_columns, models, frame, {}, {},
                  {k: tuple(v) for k, v in cell_marks.items()}, notes.items, list(found.problems),
                  {k for k in incomplete if k[1] in frame.columns and k[0] in models})
    board.cells = {k: v for k, v in chosen.items() if k[1] in frame.columns}
    board.best = _best(board)
    return board


def _built_on_incomplete(frame: pd.DataFrame, combined: list[Derived], incomplete: set[tuple[str, str]]
                         ) -> list[tuple[Derived, list[str]]]:
    """Per combined column, the models whose combined score has an incomplete term."""
    out = []
    for d in combined:
        models = [m for m in frame.index if pd.notna(frame.at[m, d.column.key])
                  and any((m, t) in incomplete for t in d.terms)]
        if models:
            out.append((d, models))
    return out


def _sorted_models(frame: pd.DataFrame, column: BoardColumn, incomplete: set[tuple[str, str]]) -> list[str]:
    """Rows by a column's value, best first; incomplete scores after the complete ones, then missing."""
    ascending = column.kind in LOWER_IS_BETTER
    keyed = frame.assign(_model=frame.index,
                         _incomplete=[(m, column.key) in incomplete for m in frame.index])
    ordered = keyed.sort_values([column.key, "_model"], ascending=[ascending, True], na_position="last",
                                kind="mergesort")
    ordered = ordered.sort_values("_incomplete", kind="mergesort")
    missing = ordered[column.key].isna()
    return list(ordered.index[~missing]) + list(ordered.index[missing])


def _best(board: Board) -> dict[str, set[str]]:
    """Per ranked column, the models whose shown (rounded) value is the best one; an incomplete
    score is never best."""
    best = {}
    for c in board.columns:
        if c.kind not in RANKED_KINDS:
            continue
        rounded = board.ranked(c.key).round(board.digits(c.kind)).dropna()
        if not rounded.empty:
            target = rounded.min() if c.kind in LOWER_IS_BETTER else rounded.max()
            best[c.key] = set(rounded.index[rounded == target])
    return best


def _sort_column(columns: list[BoardColumn], name: str | None, labels: dict[str, str]) -> BoardColumn | None:
    if name is not None:
        column = _resolve(name, [c.column for c in columns], labels, "--sort")
        return next(c for c in columns if c.key == column.key)
    return next((c for c in columns if c.kind in RANKED_KINDS), None)
