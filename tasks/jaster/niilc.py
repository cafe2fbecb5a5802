"""NIILC question answering, converted the way llm-jp-eval v1.4.1 converts it.

llm-jp-eval parses the XML with xmltodict (text stripped of surrounding whitespace, empty text
read as nothing): each question becomes `質問：<text>`; its answers are joined with `,`, empty ones
left out; a question whose only answer is `-` (no answer) is dropped. The dev file, shuffled with
seed 42, gives 90 % train and 10 % dev; the test file is the test split in file order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits, official_dev_as_test

COMMIT = "b6d47968b2e301a5e953fb1922a08ed56099646b"
BASE = f"https://raw.githubusercontent.com/mynlp/niilc-qa/{COMMIT}/data"
LICENSE = "CC BY-SA 4.0"
DEV = Source(f"{BASE}/NIILC-ECQA2015_dev.xml", "983dcaeb9ef38ca45d1114e8b420fdd4b358e827c235b1bfb4fc5e50ca70caf3",
             LICENSE, status=GITHUB_PINNED)
TEST = Source(f"{BASE}/NIILC-ECQA2015_test.xml", "4a787463961db87e56e496c49cb40ca59f26d220e3ccc48588ad65b0dd4ce0d2",
              LICENSE, status=GITHUB_PINNED)
NO_ANSWER = "-"


def _text(element: ET.Element | None) -> str | None:
    if element is None:
        return None
    return "".join(element.itertext()).strip() or None


def _answer(question: ET.Element, where: str) -> str | None:
    answers = question.find("answers")
    values = [_text(a) for a in answers.findall("answer")] if answers is not None else []
    if not values:
        raise JevalError(f"{where} has no <answers><answer> element")
    if len(values) > 1:
        return ",".join(v for v in values if v)
    if values[0] is None:
        raise JevalError(f"{where} has an empty <answer>")
    return None if values[0] == NO_ANSWER else values[0]


def read_examples(path: Path) -> list[Example]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise JevalError(f"{path}:{e.position[0]}: not well-formed XML ({e})") from None
    except OSError as e:
        raise JevalError(f"{path}: cannot be read ({e})") from None
    questions = root.findall("question")
    if root.tag != "questions" or not questions:
        raise JevalError(f"{path}: expected <questions> holding <question> elements")
    examples = []
    for n, question in enumerate(questions, 1):
        where = f"{path}: question {n} ({question.get('id', 'no id')})"
        text = _text(question.find("text"))
        if text is None:
            raise JevalError(f"{where} has no <text>")
        answer = _answer(question, where)
        if answer is not None:
            examples.append(Example(f"質問：{text}", answer))
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    return official_dev_as_test(read_examples(files[DEV.url]), read_examples(files[TEST.url]))


TASKS = [JasterTask(
    name="niilc",
    category="QA",
    module="niilc",
    raw_sources=(DEV, TEST),
    build_splits=build_splits,
    licence_note="NIILC-ECQA2015: CC BY-SA 4.0",
)]
