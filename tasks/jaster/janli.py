"""JaNLI (Japanese adversarial NLI), built as llm-jp-eval v1.4.1 builds it.

`janli.tsv` carries its own split in the last column: the rows marked `test` are the test split
in file order; the others are shuffled with seed 42 and cut 90/10 into train and dev. Columns 2-4
(sentence_A_Ja, sentence_B_Ja, entailment_label_Ja) give the input
`前提：{A}\\n仮説：{B}` and the output (`entailment` or `non-entailment`).

llm-jp-eval downloads the file from the repository's `main` branch; jeval pins the commit whose
file was checked.
"""

from __future__ import annotations

from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.pair_files import label, premise_hypothesis, read_tsv
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, train_dev

COMMIT = "2bbb63622570f7b20abc118146141b501efe5183"
DATA = Source(f"https://raw.githubusercontent.com/verypluming/JaNLI/{COMMIT}/janli.tsv",
              "19e324626dd2229c372cce6c84de0658b290eae5bfa28f9476d4066705151a4f", "CC BY-SA 4.0",
              status=GITHUB_PINNED)
HEADER = {1: "sentence_A_Ja", 2: "sentence_B_Ja", 3: "entailment_label_Ja", 7: "split"}
LABELS = ("entailment", "non-entailment")
SPLIT_NAMES = ("train", "test")


def build_splits(files: dict[str, Path]) -> Splits:
    train_dev_part: list[Example] = []
    test: list[Example] = []
    for row in read_tsv(files[DATA.url], HEADER):
        split = row.fields[-1].strip()
        if split not in SPLIT_NAMES:
            raise JevalError(f"{row.where}: split {split!r} is not one of {', '.join(SPLIT_NAMES)}")
        example = Example(premise_hypothesis(row.fields[1], row.fields[2]), label(row.fields[3], LABELS, row.where))
        (test if split == "test" else train_dev_part).append(example)
    train, dev = train_dev(train_dev_part)
    return {"train": train, "dev": dev, "test": test}


TASKS = [JasterTask(name="janli", category="NLI", module="janli", raw_sources=(DATA,), build_splits=build_splits)]
