"""JSICK (Japanese SICK), built as llm-jp-eval v1.4.1 builds it.

`jsick/train.tsv` is shuffled with seed 42 and cut 90/10 into train and dev; `jsick/test.tsv` is
the test split in file order. Columns 9-11 (sentence_A_Ja, sentence_B_Ja, entailment_label_Ja)
give the input `前提：{A}\\n仮説：{B}` and the output. (train.tsv leaves the English and
relatedness columns empty but keeps all sixteen.)

llm-jp-eval downloads the files from the repository's `main` branch; jeval pins the commit whose
files were checked. The repository's README says CC BY 4.0, its LICENSE file is CC BY-SA 4.0:
jeval records the stricter one.
"""

from __future__ import annotations

from pathlib import Path

from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.pair_files import NLI_LABELS, label, premise_hypothesis, read_tsv
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, train_dev

COMMIT = "b3034994192fae2f41b5937bcf69544e4282fc39"
BASE = f"https://raw.githubusercontent.com/verypluming/JSICK/{COMMIT}/jsick"
LICENSE = "CC BY-SA 4.0 (LICENSE file; the README says CC BY 4.0)"
TRAIN = Source(f"{BASE}/train.tsv", "5aee77c7cb5e598c35cadc99f54eb53f980cf554219f497871fbdcc5a25b71be", LICENSE,
               status=GITHUB_PINNED)
TEST = Source(f"{BASE}/test.tsv", "173a6d34939d02d82ff655dbea8e21286048afb13fcd92513e9f7dd38c621bdc", LICENSE,
              status=GITHUB_PINNED)
HEADER = {8: "sentence_A_Ja", 9: "sentence_B_Ja", 10: "entailment_label_Ja"}


def read_examples(path: Path) -> list[Example]:
    return [Example(premise_hypothesis(r.fields[8], r.fields[9]), label(r.fields[10], NLI_LABELS, r.where))
            for r in read_tsv(path, HEADER)]


def build_splits(files: dict[str, Path]) -> Splits:
    train, dev = train_dev(read_examples(files[TRAIN.url]))
    return {"train": train, "dev": dev, "test": read_examples(files[TEST.url])}


TASKS = [JasterTask(name="jsick", category="NLI", module="jsick", raw_sources=(TRAIN, TEST),
                    build_splits=build_splits,
                    licence_note="JSICK's README says CC BY 4.0, its LICENSE file CC BY-SA 4.0")]
