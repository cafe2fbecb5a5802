"""Jamp (controlled Japanese temporal NLI), built as llm-jp-eval v1.4.1 builds it.

`dataset/train_all.tsv` is shuffled with seed 42 and cut 90/10 into train and dev; `test_2.tsv`
is the test split in file order. Columns 2-4 (premise, hypothesis, gold_label) give the input
`前提：{premise}\\n仮説：{hypothesis}` and the output, the label as written.

llm-jp-eval downloads the files from the repository's `main` branch; jeval pins the commit whose
files were checked (the latest on record when jeval was written).
"""

from __future__ import annotations

from pathlib import Path

from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.pair_files import NLI_LABELS, label, premise_hypothesis, read_tsv
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, train_dev

COMMIT = "f578b5daac7bff3855d238c032a60fd047cddd9c"
BASE = f"https://raw.githubusercontent.com/tomo-ut/temporalNLI_dataset/{COMMIT}/dataset"
LICENSE = "CC BY-SA 4.0"
TRAIN = Source(f"{BASE}/train_all.tsv", "711f496ffd7806b83e13502af6b91774f8e05f1fb13215bd33c6824607e3b07b", LICENSE,
               status=GITHUB_PINNED)
TEST = Source(f"{BASE}/test_2.tsv", "10001a07e00b8a21f370838f6cd3869c7edfb1fd2b7b69cfcefebea68009bf07", LICENSE,
              status=GITHUB_PINNED)
HEADER = {1: "premise", 2: "hypothesis", 3: "gold_label"}


def read_examples(path: Path) -> list[Example]:
    return [Example(premise_hypothesis(r.fields[1], r.fields[2]), label(r.fields[3], NLI_LABELS, r.where))
            for r in read_tsv(path, HEADER)]


def build_splits(files: dict[str, Path]) -> Splits:
    train, dev = train_dev(read_examples(files[TRAIN.url]))
    return {"train": train, "dev": dev, "test": read_examples(files[TEST.url])}


TASKS = [JasterTask(name="jamp", category="NLI", module="jamp", raw_sources=(TRAIN, TEST), build_splits=build_splits)]
