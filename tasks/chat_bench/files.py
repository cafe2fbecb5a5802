"""FastChat llm_judge files as the single-turn chat benchmarks use them.

Read by jeval.tasks.fastchat_files (answers and judge prompts as they are; see there for the
formats, the question-id kinds and the errors); what is these benchmarks' own is here: a question
has exactly one turn, its other fields are kept as they are (`extra`), and a benchmark may require
further text fields (`text_fields`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.tasks.fastchat_files import (
    QUESTION_FIELDS,
    Answer,
    IdKind,
    QuestionId,
    question_rows,
    read_answers,
    read_judge_prompts,
    text,
)

__all__ = ["Answer", "ChatQuestion", "IdKind", "QuestionId", "read_answers", "read_judge_prompts", "read_questions"]


@dataclass(frozen=True)
class ChatQuestion:
    question_id: QuestionId
    category: str
    text: str
    """The one user turn."""
    extra: dict[str, Any] = field(default_factory=dict)
    """The record's other fields, as they are (e.g. ELYZA-tasks-100's `reference`, `eval_aspect`)."""

    def record(self) -> dict[str, Any]:
        return {"question_id": self.question_id, "category": self.category, "turns": [self.text], **self.extra}


def read_questions(path: Path, kind: IdKind, *, text_fields: Iterable[str] = ()) -> list[ChatQuestion]:
    """Single-turn questions; `text_fields` are further fields every record must hold as strings
    (they may be empty)."""
    wanted = tuple(text_fields)
    questions: list[ChatQuestion] = []
    for where, row, q in question_rows(path, kind, wanted):
        if len(q.turns) != 1:
            raise JevalError(f"{where}: question {q.question_id!r} has {len(q.turns)} turns; "
                             "this benchmark is single-turn")
        turn = text(q.turns[0], where, "turns[0]")
        for name in wanted:
            text(row[name], where, name, empty=True)
        extra = {k: v for k, v in row.items() if k not in QUESTION_FIELDS}
        questions.append(ChatQuestion(q.question_id, q.category, turn, extra))
    return questions
