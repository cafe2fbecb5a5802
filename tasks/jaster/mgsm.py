"""MGSM (Japanese), split the way llm-jp-eval v1.4.1 splits it.

llm-jp-eval takes Hugging Face `juletxara/mgsm` (config `ja`), which is built from the MGSM
release in google-research/url-nlp: the 8 Japanese exemplars of `exemplars.py` are its train
split, `mgsm_ja.tsv` its test split. Each item becomes `質問：<question>` → `<answer_number>`. The
exemplar questions keep their own `問題：` prefix and the answers of the TSV are integers written
with thousands separators (`2,125`), read as the integer. MGSM has no dev split: llm-jp-eval keeps
the release's train/test only (llm-jp/llm-jp-eval issue #110), so dev is empty. No shuffling.

`exemplars.py` is read as data (its literals, through `ast`), never run; it is pinned (checksum
taken from the repository at the pinned commit). It is optional: without it the test split is
prepared alone and MGSM runs zero-shot only.
"""

from __future__ import annotations

import ast
from pathlib import Path

from jeval.errors import JevalError
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.jaster.protocol import Example, JasterTask, Splits

COMMIT = "452a21ad3dae5668c06ceeac21ff073e1e40f9be"
BASE = f"https://raw.githubusercontent.com/google-research/url-nlp/{COMMIT}/mgsm"
LICENSE = "CC BY 4.0"
TEST = Source(f"{BASE}/mgsm_ja.tsv", "59a2b50debe77981fd784cb3b2bef1505e3abf2a37116dc9d7a366ab029b4637", LICENSE,
              status=GITHUB_PINNED)
EXEMPLARS = Source(f"{BASE}/exemplars.py", "239dda1557bb2ba76b71e5ef744ddd0b454da0b453e5f8b909498ceff690a919", LICENSE,
                   optional=(
    "the train split (MGSM's 8 exemplars) comes only from url-nlp's mgsm/exemplars.py, the Python module whose "
    "MGSM_EXEMPLARS['ja'] and EXEMPLAR_NUMBER_ANSWERS literals jeval reads (a JSON re-serialisation of them is not "
    "accepted: its bytes cannot be checked against the module's); without it MGSM runs zero-shot only"),
                   status=GITHUB_PINNED)
LANGUAGE = "ja"


def _number(text: str, where: str) -> int:
    try:
        return int(text.replace(",", ""))
    except ValueError:
        raise JevalError(f"{where}: the answer {text!r} is not an integer") from None


def read_test(path: Path) -> list[Example]:
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    if lines and lines[-1] == "":
        lines.pop()
    examples = []
    for n, line in enumerate(lines, 1):
        fields = line.split("\t")
        if len(fields) != 2:
            raise JevalError(f"{path}:{n}: expected question<TAB>answer, found {len(fields)} fields")
        examples.append(Example(f"質問：{fields[0]}", str(_number(fields[1], f"{path}:{n}"))))
    if not examples:
        raise JevalError(f"{path}: no questions in the file")
    return examples


def _literals(path: Path) -> dict[str, object]:
    """Module-level `NAME = <literal>` assignments of a Python file, evaluated as literals only."""
    try:
        module = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise JevalError(f"{path}: not a readable Python source file ({e})") from None
    found: dict[str, object] = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                found[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                raise JevalError(f"{path}:{stmt.lineno}: {stmt.targets[0].id} is not a literal") from None
    return found


def read_exemplars(path: Path) -> list[Example]:
    literals = _literals(path)
    exemplars = literals.get("MGSM_EXEMPLARS")
    numbers = literals.get("EXEMPLAR_NUMBER_ANSWERS")
    if not isinstance(exemplars, dict) or not isinstance(exemplars.get(LANGUAGE), dict):
        raise JevalError(f"{path}: no MGSM_EXEMPLARS[{LANGUAGE!r}] mapping")
    items = list(exemplars[LANGUAGE].values())
    if not isinstance(numbers, list) or len(numbers) != len(items) or not all(isinstance(x, int) for x in numbers):
        raise JevalError(f"{path}: EXEMPLAR_NUMBER_ANSWERS must list one integer per exemplar ({len(items)})")
    examples = []
    for n, (item, number) in enumerate(zip(items, numbers), 1):
        if not isinstance(item, dict) or not isinstance(item.get("q"), str):
            raise JevalError(f"{path}: exemplar {n} of {LANGUAGE!r} has no question 'q'")
        examples.append(Example(f"質問：{item['q']}", str(number)))
    return examples


def build_splits(files: dict[str, Path]) -> Splits:
    """Without the exemplars module (optional), train is empty."""
    train = read_exemplars(files[EXEMPLARS.url]) if EXEMPLARS.url in files else []
    return {"train": train, "dev": [], "test": read_test(files[TEST.url])}


TASKS = [JasterTask(
    name="mgsm",
    category="MR",
    module="mgsm",
    raw_sources=(TEST, EXEMPLARS),
    build_splits=build_splits,
    number_answers=True,
    licence_note="MGSM: CC BY 4.0",
)]
