"""JNLI (JGLUE), built as llm-jp-eval v1.4.1 builds it: JGLUE's train file shuffled with seed 42
and cut 90/10 into train and dev, its valid file (the test set was not public) as test in file
order. Input `前提：{sentence1}\\n仮説：{sentence2}`, output the label as written.

llm-jp-eval reads `datasets/jnli-v1.1/` from JGLUE's `main` branch; jeval pins the last commit
before JGLUE v1.2, i.e. the v1.1 labels (v1.3's valid file differs in 28 labels). The train file's
bytes could not be checked where jeval was written, so it is unpinned: accepted on first download
and its SHA-256 recorded in the prepared manifest. It is optional: without it the test split is
prepared alone and JNLI runs zero-shot only.
"""

from __future__ import annotations

from pathlib import Path

from jeval.source_status import GITHUB_PINNED, GITHUB_UNPINNED
from jeval.task import Source
from jeval.tasks.jaster.pair_files import NLI_LABELS, label, premise_hypothesis, read_json_lines
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, train_dev

COMMIT = "c35b43c73056f6898837de0dcc5ba11cc7dc3ecc"
BASE = f"https://raw.githubusercontent.com/yahoojapan/JGLUE/{COMMIT}/datasets/jnli-v1.1"
LICENSE = "CC BY-SA 4.0"
TRAIN = Source(f"{BASE}/train-v1.1.json", "", LICENSE,
               optional="JGLUE's train file gives JNLI's train and dev splits; without it JNLI runs zero-shot only",
               status=GITHUB_UNPINNED)
VALID = Source(f"{BASE}/valid-v1.1.json", "39a41d5a112cc6c5baafa7d2464e579843e904a4b7206a4e905517a257f6459c", LICENSE,
               status=GITHUB_PINNED)


def read_examples(path: Path) -> list[Example]:
    return [Example(premise_hypothesis(r.data["sentence1"], r.data["sentence2"]),
                    label(r.data["label"], NLI_LABELS, r.where))
            for r in read_json_lines(path, ("sentence1", "sentence2"), ("label",))]


def build_splits(files: dict[str, Path]) -> Splits:
    """Without JGLUE's train file (optional), train and dev are empty."""
    train, dev = train_dev(read_examples(files[TRAIN.url])) if TRAIN.url in files else ([], [])
    return {"train": train, "dev": dev, "test": read_examples(files[VALID.url])}


TASKS = [JasterTask(name="jnli", category="NLI", module="jnli", raw_sources=(TRAIN, VALID), build_splits=build_splits)]
