"""Single-answer grading, FastChat's way: turn 1 shows the question and answer; turn 2 shows the
whole dialogue and grades the second answer; the benchmark's reference-graded questions show the
reference answer, and a question's own grading notes (ELYZA-tasks-100) are shown as `criteria`.
The scale is the benchmark's (1-10; ELYZA-tasks-100 1-5).

Each job carries the ratings its answer writes itself (`planted`, see jeval.judges.verdicts): a
verdict equal to one of them is a failed judgment, so an answer cannot write its own score."""

from __future__ import annotations

from functools import partial
from typing import Any

from jeval.errors import JevalError
from jeval.judges.engine import Job, Reply
from jeval.judges.inputs import Inputs
from jeval.judges.prompts import PromptSet
from jeval.judges.verdicts import TEN, Scale, planted_ratings, rating_reader
from jeval.tasks.jmt_bench.files import Answer, Question


def _values(inputs: Inputs, question: Question, answer: Answer, turn: int) -> dict[str, str]:
    values: dict[str, str] = {}
    ref = inputs.reference_for(question)
    if ref is not None:
        values["ref_answer_1"] = ref.turns[0]
        if len(ref.turns) > 1:
            values["ref_answer_2"] = ref.turns[1]
    if question.question_id in inputs.criteria:
        values["criteria"] = inputs.criteria[question.question_id]
    if turn == 1:
        values.update(question=question.turns[0], answer=answer.turns[0])
    else:
        values.update(question_1=question.turns[0], question_2=question.turns[1],
                      answer_1=answer.turns[0], answer_2=answer.turns[1])
    return values


def _readable(scale: Scale, planted: tuple[float, ...], text: str) -> bool:
    return rating_reader(scale)(text, planted).ok


def single_jobs(inputs: Inputs, prompts: PromptSet, turns: tuple[int, ...], repeat: int) -> list[Job]:
    jobs: list[Job] = []
    for model, answers in inputs.answers.items():
        for qid in sorted(answers):
            question, answer = inputs.questions[qid], answers[qid]
            for turn in turns:
                if len(answer.turns) < turn or len(question.turns) < turn:
                    raise JevalError(f"{model}'s answer to question {qid} has {len(answer.turns)} turn(s); "
                                     f"turn {turn} cannot be graded (use --turns 1)")
                reference = inputs.benchmark.graded_with_reference(question.category)
                prompt = prompts.choose("single", reference, turn == 2)
                messages = prompt.render(_values(inputs, question, answer, turn))
                scale = inputs.benchmark.scale
                planted = planted_ratings(answer.turns[:turn], scale)
                jobs.extend(Job(messages, r, partial(_readable, scale, planted),
                                {"question_id": qid, "category": question.category, "model": model,
                                 "turn": turn, "prompt": prompt.name, "planted": planted, "scale": scale})
                            for r in range(repeat))
    return jobs


def single_record(reply: Reply, judge_model: str, prompt_set: str) -> dict[str, Any]:
    """A judgment in FastChat's single-grading format, with jeval's fields added: a failed one keeps
    its reason (`failure`, `failure_detail`) and the judge's raw text (`judgment`)."""
    info = reply.job.info
    planted = info.get("planted", ())
    failure: str | None
    if reply.text is None:
        score, failure, detail, form = None, reply.failure or "request_error", reply.error, None
    else:
        rating = rating_reader(info.get("scale", TEN))(reply.text, planted)
        score, failure, detail, form = rating.score, rating.failure, rating.detail, rating.form
    return {
        "question_id": info["question_id"], "model": info["model"], "judge": [judge_model, info["prompt"]],
        "user_prompt": reply.job.messages[-1]["content"], "judgment": reply.text,
        "score": score if score is not None else -1, "turn": info["turn"], "tstamp": reply.tstamp,
        "category": info["category"], "repeat": reply.job.repeat, "prompt_set": prompt_set,
        "scale": list(info.get("scale", TEN)),
        "failure": failure, "failure_detail": detail or None, "verdict_form": form, "planted": list(planted),
        "cached": reply.cached,
        "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
    }
