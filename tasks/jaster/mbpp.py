"""MBPP (Japanese translation, llm-jp/mbpp-ja), built as llm-jp-eval v1.4.1 builds mbpp.

`mbpp_translation.jsonl` holds MBPP's 974 problems in MBPP's order with a Japanese task text
(`text_jpn`) beside the original fields. Each problem becomes the input
`<text_jpn>\\n\\n### テストケース:\\n<the test_list asserts, one a line>` and the output the Python
repr of its `test_list` (the list llm-jp-eval's code_exec metric runs against the generated code).
MBPP's own split is taken by position: problems 11-510 are test, 511-600 dev, 601-974 train
(1-10, MBPP's prompt problems, are unused); in each split an input longer than MAX_INPUT_CHARS
characters is left out, and each split is shuffled with a fresh seed 42.

Uncertainties: llm-jp-eval's processor body could not be read where this was written. Its file
name, the input layout, the list-repr output and the position-based MBPP split are jeval's best
knowledge of it; the 1,000-character input filter and the per-split seed-42 shuffle are less
certain (the filter's existence is attested by llm-jp-eval's pull request #103, which cites MBPP
as filtering by length). llm-jp-eval downloads the file from the dataset's `main` branch; jeval
names the revision that was `main` when it was written (the file has not changed since its
upload) and leaves the checksum unpinned (kept on first download, recorded).
"""

from __future__ import annotations

import random
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import NOT_CHECKED
from jeval.task import Source
from jeval.tasks.jaster.pair_files import read_json_lines
from jeval.tasks.jaster.protocol import SEED, Example, JasterTask, Splits

REVISION = "94afe76bc974b12e475f72cba00c98ce9d3a3c45"
FILE = Source(f"https://huggingface.co/datasets/llm-jp/mbpp-ja/resolve/{REVISION}/mbpp_translation.jsonl", "",
              "CC BY 4.0 (mbpp-ja, LLM-jp; MBPP by Google Research)", status=NOT_CHECKED)
MAX_INPUT_CHARS = 1000
POSITIONS = {"test": (10, 510), "dev": (510, 600), "train": (600, None)}


def read_problems(path: Path) -> list[Example]:
    examples = []
    for record in read_json_lines(path, ("text_jpn",), ("test_list",)):
        tests = record.data["test_list"]
        if not (isinstance(tests, list) and tests and all(isinstance(t, str) for t in tests)):
            raise JevalError(f"{record.where}: test_list must be a non-empty list of assert statements")
        test_cases = "\n".join(tests)
        examples.append(Example(f"{record.data['text_jpn']}\n\n### テストケース:\n{test_cases}", repr(tests)))
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    path = files[FILE.url]
    problems = read_problems(path)
    if len(problems) <= POSITIONS["train"][0]:
        raise JevalError(f"{path}: {len(problems)} problems; MBPP's split needs more than {POSITIONS['train'][0]} "
                         "(not the full mbpp-ja file)")
    splits: Splits = {}
    for split, (start, end) in POSITIONS.items():
        kept = [p for p in problems[start:end] if len(p.input) <= MAX_INPUT_CHARS]
        random.Random(SEED).shuffle(kept)
        splits[split] = kept
    return splits


TASKS = [JasterTask(
    name="mbpp",
    category="CG",
    module="mbpp",
    raw_sources=(FILE,),
    build_splits=build_splits,
    licence_note="mbpp-ja: CC BY 4.0",
)]
