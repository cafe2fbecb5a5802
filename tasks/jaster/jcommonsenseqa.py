"""JCommonsenseQA (JGLUE), answered by choice number, split the way llm-jp-eval splits it:
JGLUE's train file shuffled with seed 42 into 90 % train / 10 % dev, JGLUE's valid file as test."""

from __future__ import annotations

from pathlib import Path

from jeval.errors import JevalError
from jeval.io import read_jsonl
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, official_dev_as_test

BASE = "https://raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jcommonsenseqa-v1.1"
TRAIN = Source(f"{BASE}/train-v1.1.json", "9b55fae5ecb3aedd6f8ce5bc09196c3b629864668ec6c18eee4d65c0aa48229e",
               "CC BY-SA 4.0", status=GITHUB_PINNED)
VALID = Source(f"{BASE}/valid-v1.1.json", "0d8d76f3bfa0d174866939882faccdd01fbc2bcd5a76c43748ba0c40a7b3b8d4",
               "CC BY-SA 4.0", status=GITHUB_PINNED)
FIELDS = ("question", "choice0", "choice1", "choice2", "choice3", "choice4", "label")


def read_examples(path: Path) -> list[Example]:
    examples = []
    for n, row in enumerate(read_jsonl(path), 1):
        missing = [k for k in FIELDS if k not in row]
        if missing:
            raise JevalError(f"{path}: record {n} lacks {', '.join(missing)}")
        if not (isinstance(row["label"], int) and 0 <= row["label"] <= 4):
            raise JevalError(f"{path}: record {n}: label must be an integer 0-4, got {row['label']!r}")
        choices = ",".join(f"{i}.{row[f'choice{i}']}" for i in range(5))
        examples.append(Example(f"質問：{row['question']}\n選択肢：{choices}", str(row["label"])))
    if not examples:
        raise JevalError(f"{path}: no examples in the file")
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    return official_dev_as_test(read_examples(files[TRAIN.url]), read_examples(files[VALID.url]))


TASK = JasterTask(
    name="jcommonsenseqa",
    category="MC",
    module="jcommonsenseqa",
    raw_sources=(TRAIN, VALID),
    build_splits=build_splits,
)
