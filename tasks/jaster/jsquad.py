"""JSQuAD (JGLUE), converted the way llm-jp-eval v1.4.1 converts it.

Each question becomes `文章：<context>\\n質問：<question>` (the context as JGLUE has it, title and
`[SEP]` included) → the text of its first answer. JGLUE's train file, shuffled with seed 42,
gives 90 % train and 10 % dev; JGLUE's valid file is the test split in file order.

The train file's checksum could not be established here, so it is unpinned (kept on first
download, recorded in the manifest) and optional: without it the test split is prepared alone and
JSQuAD runs zero-shot only. The valid file is pinned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import read_json
from jeval.source_status import GITHUB_PINNED, GITHUB_UNPINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, official_dev_as_test

BASE = "https://raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jsquad-v1.1"
LICENSE = "CC BY-SA 4.0"
TRAIN = Source(f"{BASE}/train-v1.1.json", "", LICENSE,
               optional="JGLUE's train file gives JSQuAD's train and dev splits; without it JSQuAD runs zero-shot only",
               status=GITHUB_UNPINNED)
VALID = Source(f"{BASE}/valid-v1.1.json", "fb0a57a35281ff03bbe7f0e878cff5b577985fbe6fcb242e7e8ddb63d1c0ab11", LICENSE,
               status=GITHUB_PINNED)


def _list(value: Any, where: str, key: str) -> list:
    if not isinstance(value, dict) or not isinstance(value.get(key), list):
        raise JevalError(f"{where}: expected an object with a {key!r} list")
    return value[key]


def read_examples(path: Path) -> list[Example]:
    examples = []
    for a, article in enumerate(_list(read_json(path), str(path), "data"), 1):
        for p, paragraph in enumerate(_list(article, f"{path}: article {a}", "paragraphs"), 1):
            where = f"{path}: article {a} paragraph {p}"
            qas = _list(paragraph, where, "qas")
            if not isinstance(paragraph.get("context"), str):
                raise JevalError(f"{where} has no string 'context'")
            for q, qa in enumerate(qas, 1):
                at = f"{where} question {q} ({qa.get('id', 'no id') if isinstance(qa, dict) else 'not an object'})"
                answers = _list(qa, at, "answers")
                if not isinstance(qa.get("question"), str):
                    raise JevalError(f"{at} has no string 'question'")
                if not answers or not isinstance(answers[0], dict) or not isinstance(answers[0].get("text"), str):
                    raise JevalError(f"{at} has no answer text")
                examples.append(Example(f"文章：{paragraph['context']}\n質問：{qa['question']}", answers[0]["text"]))
    if not examples:
        raise JevalError(f"{path}: no questions in the file")
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    """Without JGLUE's train file (optional), train and dev are empty."""
    if TRAIN.url not in files:
        return {"train": [], "dev": [], "test": read_examples(files[VALID.url])}
    return official_dev_as_test(read_examples(files[TRAIN.url]), read_examples(files[VALID.url]))


TASKS = [JasterTask(
    name="jsquad",
    category="RC",
    module="jsquad",
    raw_sources=(TRAIN, VALID),
    build_splits=build_splits,
    licence_note="JGLUE JSQuAD: CC BY-SA 4.0",
)]
