"""JEMHopQA, split the way llm-jp-eval v1.4.1 splits it.

llm-jp-eval reads the corpus's original release (`corpus/train.json`, `corpus/dev.json`; not the
later `corpus_ver1.1`/`corpus_ver1.2` revisions): each item becomes `質問：<question>` → `<answer>`;
the train file, shuffled with seed 42, gives 90 % train and 10 % dev, the dev file is the test
split in file order.

Both files are pinned: their checksums were taken from the repository at the pinned commit (the
later revisions differ from them in 44/93 train and 3/12 dev questions, so a mirror holding a
revision in their place is refused).
"""

from __future__ import annotations

from pathlib import Path

from jeval.errors import JevalError
from jeval.io import read_json
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, official_dev_as_test

COMMIT = "fed5024f4f39f02727e699cb7ccb67935a779a5a"
BASE = f"https://raw.githubusercontent.com/aiishii/JEMHopQA/{COMMIT}/corpus"
LICENSE = "CC BY-SA 4.0"
EXPECTED_FORM = (
    "JEMHopQA's first release, corpus/train.json and corpus/dev.json (each one JSON array of objects with "
    "'question' and 'answer'), is what llm-jp-eval v1.4.1 reads; the later corpus_ver1.1/ and corpus_ver1.2/ "
    "revisions change answers and are not accepted in its place"
)
TRAIN = Source(f"{BASE}/train.json", "c64392b4087299bcfaa02fe2584128b5dc50fe5ea83e1bd600cadfc984669e65", LICENSE,
               unavailable=EXPECTED_FORM, status=GITHUB_PINNED)
DEV = Source(f"{BASE}/dev.json", "2f3b8a518ca3051fc002f343ba3c26f6f3be902464061b43c30c5a1d37a9269a", LICENSE,
             unavailable=EXPECTED_FORM, status=GITHUB_PINNED)


def read_examples(path: Path) -> list[Example]:
    records = read_json(path)
    if not isinstance(records, list):
        raise JevalError(f"{path}: expected a JSON array of questions, got {type(records).__name__}")
    examples = []
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise JevalError(f"{path}: record {n} is not an object")
        for key in ("question", "answer"):
            if not isinstance(record.get(key), str):
                raise JevalError(f"{path}: record {n} ({record.get('qid', 'no qid')}) needs a string {key!r}")
        examples.append(Example(f"質問：{record['question']}", record["answer"]))
    if not examples:
        raise JevalError(f"{path}: no questions in the file")
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    return official_dev_as_test(read_examples(files[TRAIN.url]), read_examples(files[DEV.url]))


TASKS = [JasterTask(
    name="jemhopqa",
    category="QA",
    module="jemhopqa",
    raw_sources=(TRAIN, DEV),
    build_splits=build_splits,
    licence_note="JEMHopQA: CC BY-SA 4.0",
)]
