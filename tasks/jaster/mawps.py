"""MAWPS (Japanese, from the chain-of-thought-ja dataset), split the way llm-jp-eval v1.4.1 splits it.

llm-jp-eval downloads `zero_shot_example.json`, `shot_example.json` and `test.json` of
nlp-waseda/chain-of-thought-ja-dataset at commit 2ad9fcbc. The two example files (lists of
`{"shot_example": "問題：...\\n解答：...答えは<N>です。\\n"}`) become the train split, zero-shot
file first: the question is the text before the `\\n解答：` delimiter (its `問題：` prefix kept), the
answer the number between `答えは` and `です。`. The test file (`{"question": "問題：...\\n解答：",
"answer": "<N>"}`) is shuffled with seed 42 and halved: the first half is dev, the rest test.

Uncertainty: llm-jp-eval's processor body could not be read where this was written; the split
rule above is jeval's best knowledge of it (the URLs and file formats were checked against the
upstream repository at that commit, whose files are pinned here).
"""

from __future__ import annotations

import random
from pathlib import Path

from jeval.errors import JevalError
from jeval.io import read_json
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import SEED, Example, JasterTask, Splits

COMMIT = "2ad9fcbc597e70424f0b40ee2749570ba3f581bf"
BASE = f"https://raw.githubusercontent.com/nlp-waseda/chain-of-thought-ja-dataset/{COMMIT}/dataset/mawps"
LICENSE = "Apache-2.0 (nlp-waseda/chain-of-thought-ja-dataset)"
ZERO_SHOT = Source(f"{BASE}/zero_shot_example.json",
                   "3f2c5d2f6263133b1bfda2b0b9ae1baf98746da2c1402ba20f52ebc6b2b3d186", LICENSE, status=GITHUB_PINNED)
SHOT = Source(f"{BASE}/shot_example.json", "737554c857d3433b1340abd3a2ae2aaf80ff0921d8ad68d765d34501b94c437b", LICENSE,
              status=GITHUB_PINNED)
TEST = Source(f"{BASE}/test.json", "0fde5adf64075da1157a866e991555e8aef2fb816ee5ce053302744741970fd7", LICENSE,
              status=GITHUB_PINNED)
QA_DELIMITER = "\n解答："
ANSWER_OPEN, ANSWER_CLOSE = "答えは", "です。"


def _records(path: Path, keys: tuple[str, ...]) -> list[dict[str, str]]:
    records = read_json(path)
    if not isinstance(records, list) or not records:
        raise JevalError(f"{path}: expected a non-empty JSON array of examples")
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in keys):
            raise JevalError(f"{path}: example {n} needs string {', '.join(repr(k) for k in keys)}")
    return records


def read_examples(path: Path) -> list[Example]:
    """Worked examples: the question before the delimiter, the number the answer states."""
    examples = []
    for n, record in enumerate(_records(path, ("shot_example",)), 1):
        parts = record["shot_example"].split(QA_DELIMITER)
        if len(parts) != 2:
            raise JevalError(f"{path}: example {n} must hold exactly one {QA_DELIMITER!r} between question and answer")
        question, answer = parts
        if ANSWER_OPEN not in answer or ANSWER_CLOSE not in answer.split(ANSWER_OPEN, 1)[1]:
            raise JevalError(f"{path}: example {n}'s answer does not state {ANSWER_OPEN}<number>{ANSWER_CLOSE}")
        examples.append(Example(question, answer.split(ANSWER_OPEN, 1)[1].split(ANSWER_CLOSE, 1)[0]))
    return examples


def read_test(path: Path) -> list[Example]:
    return [Example(r["question"].split(QA_DELIMITER)[0], r["answer"]) for r in _records(path, ("question", "answer"))]


def build_splits(files: dict[str, Path]) -> Splits:
    train = read_examples(files[ZERO_SHOT.url]) + read_examples(files[SHOT.url])
    test = read_test(files[TEST.url])
    random.Random(SEED).shuffle(test)
    half = len(test) // 2
    return {"train": train, "dev": test[:half], "test": test[half:]}


TASKS = [JasterTask(
    name="mawps",
    category="MR",
    module="mawps",
    raw_sources=(ZERO_SHOT, SHOT, TEST),
    build_splits=build_splits,
    number_answers=True,
    licence_note="chain-of-thought-ja-dataset (MAWPS ja): Apache-2.0",
)]
