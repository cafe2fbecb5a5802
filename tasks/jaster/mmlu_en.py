"""MMLU (English), split the way llm-jp-eval v1.4.1 splits it (processor module `mmluen`).

llm-jp-eval reads Hendrycks' `data.tar`: the `dev` folder (5 per subject) becomes train, `val`
dev and `test` test. Each row becomes `Question: <q>\\nChoices: A.<a>, B.<b>, C.<c>, D.<d>` →
`<letter>`. Within a folder the subject files are taken in name order; each subject's rows are
shuffled by a generator freshly seeded 42, then the subjects are interleaved: the i-th row of
every subject in turn while every subject still has one, then each subject's remaining rows in
subject order.

These facts could not be checked against llm-jp-eval's file (no copy was reachable; they are
recalled from its source and are the most likely reading), and the archive's checksum could not
be established here, so it is unpinned (kept on first download, recorded in the manifest).
"""

from __future__ import annotations

import csv
import io
import random
import tarfile
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import NOT_CHECKED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

ARCHIVE = Source("https://people.eecs.berkeley.edu/~hendrycks/data.tar", "", "MIT (hendrycks/test)", status=NOT_CHECKED)
FOLDERS = {"train": "dev", "dev": "val", "test": "test"}
LETTERS = ("A", "B", "C", "D")


def read_rows(name: str, data: bytes) -> list[Example]:
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    except UnicodeDecodeError as e:
        raise JevalError(f"{name}: not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise JevalError(f"{name}: not readable CSV ({e})") from None
    examples = []
    for n, row in enumerate(rows, 1):
        if len(row) != 6 or row[5] not in LETTERS:
            raise JevalError(f"{name}: row {n} must be question,A,B,C,D,answer with the answer one of A-D")
        examples.append(Example(f"Question: {row[0]}\nChoices: A.{row[1]}, B.{row[2]}, C.{row[3]}, D.{row[4]}", row[5]))
    return examples


def interleave(subjects: list[list[Example]]) -> list[Example]:
    shortest = min(len(s) for s in subjects)
    out = [s[i] for i in range(shortest) for s in subjects]
    for s in subjects:
        out += s[shortest:]
    return out


def build_splits(files: dict[str, Path]) -> Splits:
    path = files[ARCHIVE.url]
    by_folder: dict[str, dict[str, bytes]] = {folder: {} for folder in FOLDERS.values()}
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                parts = member.name.split("/")
                if member.isfile() and len(parts) == 3 and parts[0] == "data" and parts[1] in by_folder \
                        and parts[2].endswith(".csv"):
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        by_folder[parts[1]][parts[2]] = extracted.read()
    except (tarfile.TarError, OSError) as e:
        raise JevalError(f"{path}: not a readable tar archive ({e})") from None
    splits: Splits = {}
    for split, folder in FOLDERS.items():
        if not by_folder[folder]:
            raise JevalError(f"{path}: no CSV files under data/{folder}/")
        subjects = []
        for name in sorted(by_folder[folder]):
            examples = read_rows(f"{path}:data/{folder}/{name}", by_folder[folder][name])
            random.Random(42).shuffle(examples)
            subjects.append(examples)
        splits[split] = interleave(subjects)
    return splits


TASKS = [JasterTask(
    name="mmlu_en",
    category="HE",
    module="mmluen",
    raw_sources=(ARCHIVE,),
    build_splits=build_splits,
    licence_note="MMLU: MIT",
)]
