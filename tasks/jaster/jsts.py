"""JSTS (JGLUE), built as llm-jp-eval v1.4.1 builds it: JGLUE's train file shuffled with seed 42
and cut 90/10 into train and dev, its valid file as test in file order. Input
`文1：{sentence1}\\n文2：{sentence2}`, output Python's `str()` of the JSON label (`3.8`, `0.0`).

llm-jp-eval reads `datasets/jsts-v1.1/` from JGLUE's `main` branch; jeval pins the last commit
before JGLUE v1.2 (JSTS's train and valid data are unchanged in v1.3).
"""

from __future__ import annotations

from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.pair_files import Record, read_json_lines
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, train_dev

COMMIT = "c35b43c73056f6898837de0dcc5ba11cc7dc3ecc"
BASE = f"https://raw.githubusercontent.com/yahoojapan/JGLUE/{COMMIT}/datasets/jsts-v1.1"
LICENSE = "CC BY-SA 4.0"
TRAIN = Source(f"{BASE}/train-v1.1.json", "db6bd653270ac9786759920413a48973164d322998f34dd4ae32202af5e66969", LICENSE,
               status=GITHUB_PINNED)
VALID = Source(f"{BASE}/valid-v1.1.json", "7c0bdcb381179f01096c635d058853d96da1e1248d23fe3f5c2beed5dc2d9b1a", LICENSE,
               status=GITHUB_PINNED)
MAX_SCORE = 5.0


def similarity(record: Record) -> str:
    value = record.data["label"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_SCORE:
        raise JevalError(f"{record.where}: label must be a similarity from 0 to {MAX_SCORE}, got {value!r}")
    return str(value)


def read_examples(path: Path) -> list[Example]:
    return [Example(f"文1：{r.data['sentence1']}\n文2：{r.data['sentence2']}", similarity(r))
            for r in read_json_lines(path, ("sentence1", "sentence2"), ("label",))]


def build_splits(files: dict[str, Path]) -> Splits:
    train, dev = train_dev(read_examples(files[TRAIN.url]))
    return {"train": train, "dev": dev, "test": read_examples(files[VALID.url])}


TASKS = [JasterTask(name="jsts", category="STS", module="jsts", raw_sources=(TRAIN, VALID), build_splits=build_splits)]
