"""Sentence-pair files (the NLI and STS datasets) read the way llm-jp-eval v1.4.1 reads them.

Its processors open a TSV file in text mode (universal newlines, so CR LF and a lone CR end a line
too), skip the header line and split each line on tabs without stripping the fields they use; they
read JSON Lines one object per line. (The seed-42 90/10 train/dev cut is protocol.train_dev.)

jeval checks what llm-jp-eval takes on trust: a row too short, a label outside the dataset's
labels, a header that does not name the expected columns. Each is an error naming file and line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import read_jsonl_numbered

NLI_LABELS = ("entailment", "contradiction", "neutral")


@dataclass(frozen=True)
class Row:
    """One data line of a TSV file: its fields as split, the header line being line 1."""

    path: Path
    line: int
    fields: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Record:
    """One JSON object of a JSON Lines file."""

    path: Path
    line: int
    data: dict[str, Any]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def premise_hypothesis(premise: str, hypothesis: str) -> str:
    return f"前提：{premise}\n仮説：{hypothesis}"


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as f:
            yield from enumerate(f, 1)
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None


def read_tsv(path: Path, header: Mapping[int, str]) -> list[Row]:
    """The data rows of a TSV file whose header names `header` (column index -> name); every row
    must reach the last of those columns."""
    width = max(header) + 1
    rows: list[Row] = []
    for line, text in _lines(path):
        fields = tuple(text.split("\t"))
        if line == 1:
            names = [f.strip() for f in fields]
            wrong = {i: n for i, n in header.items() if i >= len(names) or names[i] != n}
            if wrong:
                expected = ", ".join(f"column {i + 1} {n!r}" for i, n in sorted(wrong.items()))
                raise JevalError(f"{path}:1: the header does not name {expected}; not the expected upstream file")
            continue
        if len(fields) < width:
            raise JevalError(f"{path}:{line}: expected at least {width} tab-separated columns, found {len(fields)}")
        rows.append(Row(path, line, fields))
    if not rows:
        raise JevalError(f"{path}: no data rows")
    return rows


def read_json_lines(path: Path, text_fields: tuple[str, ...], other_fields: tuple[str, ...] = ()) -> list[Record]:
    """The objects of a JSON Lines file, each holding `text_fields` as strings and `other_fields`;
    blank lines are skipped."""
    fields = (*text_fields, *other_fields)
    records: list[Record] = []
    for line, data in read_jsonl_numbered(path):
        missing = [k for k in fields if k not in data]
        if missing:
            raise JevalError(f"{path}:{line}: the record lacks {', '.join(missing)}")
        wrong = [k for k in text_fields if not isinstance(data[k], str)]
        if wrong:
            raise JevalError(f"{path}:{line}: {', '.join(wrong)} must be text")
        records.append(Record(path, line, data))
    if not records:
        raise JevalError(f"{path}: no records")
    return records


def label(value: object, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise JevalError(f"{where}: label {value!r} is not one of {', '.join(allowed)}")
    return str(value)
