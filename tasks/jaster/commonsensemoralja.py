"""JCommonsenseMorality, built as llm-jp-eval v1.4.1 builds it.

The official train/val/test CSV files (`,sent,label`: row number, sentence, 0 permissible /
1 wrong) become train/dev/test. Input `文章：{sent}`, output the label. Each split is shuffled: one
generator seeded 42 shuffles train, then dev, then test, in that order.

Established from llm-jp-eval's source: the three files, the processor's fields, that it reads them
with the csv module (quoted commas inside sentences stay in the sentence) and that it shuffles.
Recalled rather than read (no copy of v1.4.1's method body was reachable): the single seeding
before the three shuffles and the input prefix.
llm-jp-eval downloads the files from the `main` branch; jeval pins the last commit that changed them.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

COMMIT = "fe772371ef9f893325cd1794bfb42f4cdffdaa9e"
BASE = f"https://raw.githubusercontent.com/Language-Media-Lab/commonsense-moral-ja/{COMMIT}/data"
LICENSE = "MIT (commonsense-moral-ja, Copyright 2022 Masashi Takeshita)"
TRAIN = Source(f"{BASE}/data_train.csv", "46c01bdb6e2f79c2bb2c553606813bc887bda3670949a188b764ccc70b96c828", LICENSE,
               status=GITHUB_PINNED)
DEV = Source(f"{BASE}/data_val.csv", "28872666ba47ac057b3ffffb8554bdd692db39425089719f8e137d683e81e7f8", LICENSE,
             status=GITHUB_PINNED)
TEST = Source(f"{BASE}/data_test.csv", "00bc1e92d40268f3516cb1b0f648381bbf3df622ac63d5268daefa6344ceb2a7", LICENSE,
              status=GITHUB_PINNED)
SEED = 42
HEADER = ["", "sent", "label"]


def read_examples(path: Path) -> list[Example]:
    examples = []
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            if next(reader, None) != HEADER:
                raise JevalError(f"{path}:1: expected the header {','.join(HEADER)!r}")
            for row in reader:
                if len(row) != 3:
                    raise JevalError(f"{path}:{reader.line_num}: expected 3 columns (number, sentence, label), "
                                     f"found {len(row)}")
                if row[2] not in ("0", "1"):
                    raise JevalError(f"{path}:{reader.line_num}: label must be 0 or 1, got {row[2]!r}")
                examples.append(Example(f"文章：{row[1]}", row[2]))
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise JevalError(f"{path}: not a readable CSV file ({e})") from None
    if not examples:
        raise JevalError(f"{path}: no sentences in the file")
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    rng = random.Random(SEED)
    splits: Splits = {}
    for split, source in (("train", TRAIN), ("dev", DEV), ("test", TEST)):
        examples = read_examples(files[source.url])
        rng.shuffle(examples)
        splits[split] = examples
    return splits


TASKS = [JasterTask(name="commonsensemoralja", category="MC", module="commonsensemoralja",
                    raw_sources=(TRAIN, DEV, TEST), build_splits=build_splits)]
