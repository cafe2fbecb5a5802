"""FastChat's llm_judge file formats, read strictly: questions, answers, judge prompts.

- question: `{"question_id": int|str, "category": str, "turns": [str, ...]}`
- answer (model or reference): `{"question_id", "answer_id", "model_id", "choices": [{"index": 0,
  "turns": [str, ...]}], "tstamp"}`; the first choice is the answer, as FastChat's judge reads it
- judge prompt: `{"name", "type": "single"|"pairwise", "category", "output_format",
  "system_prompt", "prompt_template", "description"}`

A malformed record is an error naming the file and line. Question ids are of one kind per
benchmark: `int` (MT-Bench, Vicuna QA, ELYZA-tasks-100; upstream files hold both `1` and `"1"`,
read as 1) or `str` (Rakuda's short UUIDs, kept exactly).

One implementation for every benchmark in this format (jeval.tasks.jmt_bench.files,
jeval.tasks.chat_bench.files and the judge read through it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from jeval.errors import JevalError
from jeval.io import read_jsonl_numbered

IdKind = Literal["int", "str"]
QuestionId = int | str
QUESTION_FIELDS = ("question_id", "category", "turns")
PROMPT_FIELDS = ("name", "type", "system_prompt", "prompt_template", "output_format")


@dataclass(frozen=True)
class Question:
    question_id: QuestionId
    category: str
    turns: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    question_id: QuestionId
    model_id: str
    turns: tuple[str, ...]
    answer_id: str = ""
    tstamp: float | None = None

    def record(self) -> dict[str, Any]:
        return {"question_id": self.question_id, "answer_id": self.answer_id, "model_id": self.model_id,
                "choices": [{"index": 0, "turns": list(self.turns)}], "tstamp": self.tstamp}


def answer_id(fingerprint: str, question: QuestionId, turns: list[str]) -> str:
    """The id a run gives its answer to a question: the same model, question and turns, the same id."""
    return hashlib.sha256(f"{fingerprint}|{question}|{turns}".encode()).hexdigest()[:22]


def run_answer_record(question: QuestionId, turns: list[str], model: Mapping[str, Any], tstamp: float,
                      generate_params: dict[str, Any]) -> dict[str, Any]:
    """A run's answer as FastChat's answer file has it (`model`: the run's model record, its
    `name` and `fingerprint`), with the settings that generated it."""
    answer = Answer(question, model["name"], tuple(turns), answer_id(model["fingerprint"], question, turns), tstamp)
    return {**answer.record(), "generate_params": generate_params}


def records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    out = read_jsonl_numbered(path)
    if not out:
        raise JevalError(f"{path}: the file holds no records")
    return out


def question_id(value: Any, where: str, kind: IdKind = "int") -> QuestionId:
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise JevalError(f"{where}: question_id must be a non-empty string, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise JevalError(f"{where}: question_id must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise JevalError(f"{where}: question_id must be an integer, got {value!r}") from None


def text(value: Any, where: str, name: str, *, empty: bool = False) -> str:
    """`value` as a string, which must hold more than white space unless `empty`."""
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise JevalError(f"{where}: {name} must be a {'' if empty else 'non-empty '}string, got {value!r:.60}")
    return value


def texts(value: Any, where: str, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise JevalError(f"{where}: {name} must be a non-empty list of strings")
    return tuple(value)


def question_rows(path: Path, kind: IdKind = "int", fields: Iterable[str] = ()
                  ) -> Iterator[tuple[str, dict[str, Any], Question]]:
    """Each question with where it stands (`file:line`) and its record as it is; `fields` are
    further fields every record must hold."""
    seen: dict[QuestionId, int] = {}
    for lineno, row in records(path):
        where = f"{path}:{lineno}"
        missing = [k for k in (*QUESTION_FIELDS, *fields) if k not in row]
        if missing:
            raise JevalError(f"{where}: a question needs {', '.join(missing)}")
        qid = question_id(row["question_id"], where, kind)
        if qid in seen:
            raise JevalError(f"{where}: question_id {qid!r} appears twice (first on line {seen[qid]})")
        seen[qid] = lineno
        yield where, row, Question(qid, text(row["category"], where, "category"), texts(row["turns"], where, "turns"))


def read_questions(path: Path, kind: IdKind = "int") -> list[Question]:
    return [q for _, _, q in question_rows(path, kind)]


def read_answers(path: Path, kind: IdKind = "int", known: Collection[QuestionId] | None = None) -> list[Answer]:
    """Answers in FastChat's format; with `known`, an answer to any other question is an error."""
    answers: list[Answer] = []
    seen: dict[tuple[str, QuestionId], int] = {}
    for lineno, row in records(path):
        where = f"{path}:{lineno}"
        missing = [k for k in ("question_id", "model_id", "choices") if k not in row]
        if missing:
            raise JevalError(f"{where}: an answer needs {', '.join(missing)}")
        qid = question_id(row["question_id"], where, kind)
        if known is not None and qid not in known:
            raise JevalError(f"{where}: an answer to question {qid!r}, which is not among the questions")
        model_id = text(row["model_id"], where, "model_id")
        choices = row["choices"]
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise JevalError(f"{where}: choices must be a list of {{'index', 'turns'}} objects")
        key = (model_id, qid)
        if key in seen:
            raise JevalError(f"{where}: a second answer of {model_id} to question {qid!r} (first on line {seen[key]})")
        seen[key] = lineno
        tstamp = row.get("tstamp")
        if tstamp is not None and (isinstance(tstamp, bool) or not isinstance(tstamp, int | float)):
            raise JevalError(f"{where}: tstamp must be a number, got {tstamp!r}")
        answers.append(Answer(qid, model_id, texts(choices[0].get("turns"), where, "choices[0].turns"),
                              str(row.get("answer_id", "")), None if tstamp is None else float(tstamp)))
    return answers


def read_judge_prompts(path: Path, required: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Judge prompts, each record as it is; `required` names prompts a benchmark's judging
    protocol uses, which must be there."""
    prompts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for lineno, row in records(path):
        where = f"{path}:{lineno}"
        missing = [k for k in PROMPT_FIELDS if not isinstance(row.get(k), str)]
        if missing:
            raise JevalError(f"{where}: a judge prompt needs text fields {', '.join(missing)}")
        if row["type"] not in ("single", "pairwise"):
            raise JevalError(f"{where}: judge prompt type must be single or pairwise, got {row['type']!r}")
        if row["name"] in seen:
            raise JevalError(f"{where}: judge prompt {row['name']!r} appears twice")
        seen.add(row["name"])
        prompts.append(dict(row))
    absent = [name for name in required if name not in seen]
    if absent:
        raise JevalError(f"{path}: the judge prompts {', '.join(absent)} are missing "
                         f"(it has: {', '.join(sorted(seen))})")
    return prompts
