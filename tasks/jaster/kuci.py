"""KUCI (Kyoto University Commonsense Inference dataset), built as llm-jp-eval v1.4.1 builds it.

The official train/dev/test JSON Lines files become train/dev/test in file order (no shuffle).
KUCI's texts are Juman++ morphemes separated by spaces; the spaces are removed. Input
`文脈：{context}\\n選択肢：0.{choice_a},1.{choice_b},2.{choice_c},3.{choice_d}`; output the
correct choice's number (label a-d as 0-3).

Established from llm-jp-eval's source: the three files, the processor's fields (an answer is one
digit) and that it does not shuffle. Recalled rather than read (no copy of v1.4.1's method body
was reachable): the input layout, which follows llm-jp-eval's JCommonsenseQA layout.
llm-jp-eval downloads the files from the `main` branch; jeval pins its only commit. Their bytes
could not be fetched here (too large for the snapshot store), so they are unpinned.
"""

from __future__ import annotations

from pathlib import Path

from jeval.errors import JevalError
from jeval.io import read_jsonl
from jeval.source_status import GITHUB_UNPINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

COMMIT = "79afa1d63d1f262e6709e9be714d9ad5dae8d6f6"
BASE = f"https://raw.githubusercontent.com/ku-nlp/KUCI/{COMMIT}/dataset"
LICENSE = "CC BY-SA 4.0 (KUCI)"
TRAIN = Source(f"{BASE}/train.jsonl", "", LICENSE, status=GITHUB_UNPINNED)
DEV = Source(f"{BASE}/dev.jsonl", "", LICENSE, status=GITHUB_UNPINNED)
TEST = Source(f"{BASE}/test.jsonl", "", LICENSE, status=GITHUB_UNPINNED)
TEXTS = ("context", "choice_a", "choice_b", "choice_c", "choice_d")
LABELS = ("a", "b", "c", "d")


def read_examples(path: Path) -> list[Example]:
    examples = []
    for n, row in enumerate(read_jsonl(path), 1):
        missing = [k for k in (*TEXTS, "label") if not isinstance(row.get(k), str)]
        if missing:
            raise JevalError(f"{path}: record {n} lacks string {', '.join(missing)}")
        if row["label"] not in LABELS:
            raise JevalError(f"{path}: record {n}: label must be one of a, b, c, d, got {row['label']!r}")
        context, *choices = (row[k].replace(" ", "") for k in TEXTS)
        listed = ",".join(f"{i}.{choice}" for i, choice in enumerate(choices))
        examples.append(Example(f"文脈：{context}\n選択肢：{listed}", str(LABELS.index(row["label"]))))
    if not examples:
        raise JevalError(f"{path}: no problems in the file")
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    return {split: read_examples(files[source.url])
            for split, source in (("train", TRAIN), ("dev", DEV), ("test", TEST))}


TASKS = [JasterTask(name="kuci", category="MC", module="kuci", raw_sources=(TRAIN, DEV, TEST),
                    build_splits=build_splits)]
