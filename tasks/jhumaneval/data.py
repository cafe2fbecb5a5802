"""JHumanEval's data file, read strictly, and the prepared file built from it.

Upstream (KuramitsuLab/jhuman-eval, `data/jhuman-eval.jsonl.gz`) holds HumanEval's 164 problems in
HumanEval's format: `task_id`, `prompt` (the stub with a Japanese docstring), `prompt_en` (the
original English stub), `entry_point`, `canonical_solution`, `test` (defines `check(candidate)`).

Every record is checked: each field a string, task ids unique, both prompts valid Python that
define `entry_point` at top level, the test valid Python that defines `check`, prompt plus
canonical solution valid Python, and neither prompt nor test calling eval, exec, compile or
__import__ (they run on the candidate's values in the scorer's trusted sandbox; no JHumanEval
problem does). A record that is not is an error naming the file and line.

Repairs: at the pinned commit, JHumanEval/64's prompts (both languages) are not valid Python: the
newlines between the module constant `FIX = \"\"\"...\"\"\"` and `def vowels_count` were lost (HumanEval's
own prompt has them), so no completion could ever compile. `REPAIRS` puts them back; a repaired
record says so in its `repairs` field of the prepared file. Nothing else is changed.
"""

from __future__ import annotations

import ast
import gzip
import zlib
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl, jsonl_numbered, read_jsonl_numbered
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source

COMMIT = "def32e75b363aa663d19c0f6d83ef300feeeea0e"
DATA = Source(f"https://raw.githubusercontent.com/KuramitsuLab/jhuman-eval/{COMMIT}/data/jhuman-eval.jsonl.gz",
              "e025987ea1df0678cbcb4c4a7a9b5f123a4ea7f8e5dbdca0aa635b92dfaa7498",
              "MIT (KuramitsuLab/jhuman-eval; HumanEval by OpenAI, MIT)", status=GITHUB_PINNED)
PREPARED = "problems.jsonl"
FIELDS = ("task_id", "prompt", "prompt_en", "entry_point", "canonical_solution", "test")
PROMPTS = ("prompt", "prompt_en")
CODE_RUNNERS = ("eval", "exec", "compile", "__import__")
REPAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "JHumanEval/64": (('"""def vowels_count(', '"""\n\n\ndef vowels_count('),),
}
"""task_id -> (text found, its replacement) pairs, applied to both prompts where the text is there."""


def _parse(source: str) -> ast.Module | str:
    """The module, or why it does not parse."""
    try:
        return ast.parse(source)
    except SyntaxError as e:
        return f"{e.msg} (line {e.lineno})"
    except (ValueError, RecursionError, MemoryError) as e:
        return type(e).__name__


def _defines(module: ast.Module, name: str) -> bool:
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in module.body)


def _runs_code(module: ast.Module) -> str | None:
    """The first builtin the module calls that runs text as code (the scorer's trusted side runs
    the prompt and the test on the candidate's values, so neither may turn them into code)."""
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CODE_RUNNERS:
            return node.func.id
    return None


def _repaired(record: dict[str, Any]) -> list[str]:
    done = []
    for old, new in REPAIRS.get(record["task_id"], ()):
        for name in PROMPTS:
            if old in record[name]:
                record[name] = record[name].replace(old, new)
                done.append(f"{name}: {old!r} -> {new!r}")
    return done


def check_record(row: dict[str, Any], where: str) -> dict[str, Any]:
    """The record's fields (repaired where REPAIRS says), or a JevalError naming `where`."""
    missing = [k for k in FIELDS if k not in row]
    if missing:
        raise JevalError(f"{where}: a problem needs {', '.join(missing)}")
    wrong = [k for k in FIELDS if not isinstance(row[k], str)]
    if wrong:
        raise JevalError(f"{where}: {', '.join(wrong)} must be text")
    record: dict[str, Any] = {k: row[k] for k in FIELDS}
    task_id, entry_point = record["task_id"], record["entry_point"]
    if not task_id:
        raise JevalError(f"{where}: task_id is empty")
    if not entry_point.isidentifier():
        raise JevalError(f"{where}: {task_id}: entry_point {entry_point!r} is not a Python name")
    repairs = _repaired(record)
    for name in PROMPTS:
        module = _parse(record[name])
        if isinstance(module, str):
            raise JevalError(f"{where}: {task_id}: {name} is not valid Python ({module})")
        if not _defines(module, entry_point):
            raise JevalError(f"{where}: {task_id}: {name} does not define the entry point {entry_point}()")
    test = _parse(record["test"])
    if isinstance(test, str):
        raise JevalError(f"{where}: {task_id}: test is not valid Python ({test})")
    if not _defines(test, "check"):
        raise JevalError(f"{where}: {task_id}: test does not define check(candidate)")
    for name, module in (("prompt", _parse(record["prompt"])), ("test", test)):
        runner = _runs_code(module) if isinstance(module, ast.Module) else None
        if runner is not None:
            raise JevalError(f"{where}: {task_id}: {name} calls {runner}(), which would run the candidate's values "
                             "as code where the verdict is made")
    solved = _parse(record["prompt"] + record["canonical_solution"])
    if isinstance(solved, str):
        raise JevalError(f"{where}: {task_id}: prompt + canonical_solution is not valid Python ({solved})")
    if repairs:
        record["repairs"] = repairs
    return record


def read_upstream(path: Path) -> list[dict[str, Any]]:
    """Every problem of the upstream file (gzipped JSON Lines), checked and repaired."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = jsonl_numbered(f, path)
    except (OSError, EOFError, zlib.error) as e:
        raise JevalError(f"{path}: not a gzip file of JSON Lines ({e})") from None
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    records, seen = [], set()
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        record = check_record(row, where)
        if record["task_id"] in seen:
            raise JevalError(f"{where}: task_id {record['task_id']} appears twice")
        seen.add(record["task_id"])
        records.append(record)
    if not records:
        raise JevalError(f"{path}: the file holds no problems")
    return records


def write_prepared(records: list[dict[str, Any]], out_dir: Path) -> None:
    atomic_write_jsonl(out_dir / PREPARED, records)


def read_prepared(task_dir: Path) -> list[dict[str, Any]]:
    """The prepared problems (written by `jeval data prepare jhumaneval`), checked again."""
    path = task_dir / PREPARED
    return [{**check_record(row, f"{path}:{lineno}"), **({"repairs": row["repairs"]} if "repairs" in row else {})}
            for lineno, row in read_jsonl_numbered(path)]
