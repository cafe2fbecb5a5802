"""AI王 (AIO, the first competition's quiz questions from JAQKET), built as llm-jp-eval v1.4.1
builds it.

llm-jp-eval downloads only the competition's dev and test files. The dev file is its training
material: shuffled with seed 42 and cut 90/10 into train and dev (the rule llm-jp-eval's README
gives for data released as train and test); the test file is the test split, in file order.
Input `質問：{question}`; output the first of `answers`.

Established from llm-jp-eval's source: the two URLs, the processor's fields and that it shuffles.
Recalled rather than read (no copy of v1.4.1's method body was reachable): the 90/10 cut and the
input prefix; both follow llm-jp-eval's conventions for its other QA sets (JEMHopQA, NIILC).
The files live on an S3 bucket whose bytes could not be fetched here, so they are unpinned.
"""

from __future__ import annotations

import random
from pathlib import Path

from jeval.errors import JevalError
from jeval.io import read_jsonl
from jeval.source_status import NOT_CHECKED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

BASE = "https://jaqket.s3.ap-northeast-1.amazonaws.com/data/aio_02"
LICENSE = "CC BY-SA 4.0 (JAQKET; quoted articles from company or organisation websites are excluded)"
DEV = Source(f"{BASE}/aio_01_dev.jsonl", "", LICENSE, status=NOT_CHECKED)
TEST = Source(f"{BASE}/aio_01_test.jsonl", "", LICENSE, status=NOT_CHECKED)
SEED = 42
TRAIN_SHARE = 0.9


def read_examples(path: Path) -> list[Example]:
    examples = []
    for n, row in enumerate(read_jsonl(path), 1):
        question, answers = row.get("question"), row.get("answers")
        if not isinstance(question, str):
            raise JevalError(f"{path}: record {n} has no string 'question'")
        if not (isinstance(answers, list) and answers and isinstance(answers[0], str)):
            raise JevalError(f"{path}: record {n}: 'answers' must be a non-empty list of strings")
        examples.append(Example(f"質問：{question}", answers[0]))
    if not examples:
        raise JevalError(f"{path}: no questions in the file")
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    train_dev = read_examples(files[DEV.url])
    random.Random(SEED).shuffle(train_dev)
    cut = int(len(train_dev) * TRAIN_SHARE)
    return {"train": train_dev[:cut], "dev": train_dev[cut:], "test": read_examples(files[TEST.url])}


TASKS = [JasterTask(name="aio", category="QA", module="aio", raw_sources=(DEV, TEST), build_splits=build_splits)]
