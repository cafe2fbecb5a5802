"""Japanese MT-Bench's files, in FastChat's llm_judge formats: questions (two turns each),
answers, judge prompts. They are read by jeval.tasks.fastchat_files, the one reader of those
formats (names re-exported here for the judge and MT-Bench code); what is MT-Bench's own is its
category table."""

from __future__ import annotations

from jeval.tasks.fastchat_files import (
    PROMPT_FIELDS,
    Answer,
    IdKind,
    Question,
    QuestionId,
    question_id,
    read_answers,
    read_judge_prompts,
    read_questions,
)

__all__ = ["CATEGORIES", "NEED_REFERENCE", "PROMPT_FIELDS", "Answer", "IdKind", "Question", "QuestionId",
           "question_id", "read_answers", "read_judge_prompts", "read_questions"]

CATEGORIES = ("writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities")
NEED_REFERENCE = ("math", "reasoning", "coding")
