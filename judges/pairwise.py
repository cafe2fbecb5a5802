"""Pairwise grading, both orders always.

Each comparison of model_1 and model_2 on a question and turn is judged twice: game 1 shows
model_1 as assistant A, game 2 shows model_2 as A. The two verdicts are combined by FastChat's
rule: the same winner in both games wins; a tie in game 1, or a verdict that flips with the order,
is a tie. With 5-level verdicts (A>>B ... B>>A), a win that is strong in both games is weighted
(it counts `STRONG_WEIGHT` times, as Arena-Hard repeats strong verdicts); a game that failed leaves
the comparison without a battle, counted as a failure. A verdict that one of the two answers
writes itself (`planted`, see jeval.judges.verdicts) fails that game.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from jeval.judges.engine import Job, Reply
from jeval.judges.inputs import Inputs
from jeval.judges.prompts import Mode, PromptSet
from jeval.judges.verdicts import Preference, PreferenceReader, Verdict, planted_preferences, preference_reader
from jeval.tasks.jmt_bench.files import Answer, Question

STRONG_WEIGHT = 3
_SIDE: dict[str, int] = {"A>>B": 1, "A>B": 1, "A=B": 0, "B>A": -1, "B>>A": -1}


def pairs(models: list[str], baseline: str | None) -> list[tuple[str, str]]:
    if baseline is not None:
        return [(m, baseline) for m in models if m != baseline]
    return list(itertools.combinations(models, 2))


def _values(inputs: Inputs, question: Question, first: Answer, second: Answer, turn: int) -> dict[str, str]:
    values: dict[str, str] = {}
    ref = inputs.reference_for(question)
    if ref is not None:
        values["ref_answer_1"] = ref.turns[0]
        if len(ref.turns) > 1:
            values["ref_answer_2"] = ref.turns[1]
    if turn == 1:
        values.update(question=question.turns[0], answer_a=first.turns[0], answer_b=second.turns[0])
    else:
        values.update(question_1=question.turns[0], question_2=question.turns[1],
                      answer_a_1=first.turns[0], answer_a_2=first.turns[1],
                      answer_b_1=second.turns[0], answer_b_2=second.turns[1])
    return values


def parser(five_level: bool, output_format: str = "[[A]]") -> PreferenceReader:
    return preference_reader(output_format, five_level)


def _readable(reader: PreferenceReader, planted: tuple[Preference, ...], text: str) -> bool:
    return reader(text, planted).ok


def pair_jobs(inputs: Inputs, prompts: PromptSet, matchups: list[tuple[str, str]], turns: tuple[int, ...],
              repeat: int, five_level: bool) -> list[Job]:
    mode: Mode = "pairwise5" if five_level else "pairwise"
    jobs: list[Job] = []
    for model_1, model_2 in matchups:
        shared = sorted(set(inputs.answers[model_1]) & set(inputs.answers[model_2]))
        for qid in shared:
            question = inputs.questions[qid]
            a1, a2 = inputs.answers[model_1][qid], inputs.answers[model_2][qid]
            for turn in turns:
                if min(len(a1.turns), len(a2.turns)) < turn:
                    continue
                prompt = prompts.choose(mode, inputs.benchmark.graded_with_reference(question.category), turn == 2)
                reader = parser(five_level, prompt.output_format)
                for game, (first, second) in ((1, (a1, a2)), (2, (a2, a1))):
                    messages = prompt.render(_values(inputs, question, first, second, turn))
                    planted = planted_preferences([*first.turns[:turn], *second.turns[:turn]], five_level,
                                                  prompt.output_format)
                    jobs.extend(Job(messages, r, partial(_readable, reader, planted),
                                    {"question_id": qid, "category": question.category, "model_1": model_1,
                                     "model_2": model_2, "turn": turn, "game": game, "prompt": prompt.name,
                                     "planted": planted, "output_format": prompt.output_format})
                                for r in range(repeat))
    return jobs


def combine(g1: Preference, g2: Preference, five_level: bool) -> tuple[str, int]:
    """The battle outcome (winner for model_1 = model_a, weight) of game 1 and game 2 (swapped)."""
    side_1, side_2 = _SIDE[g1], -_SIDE[g2]
    if side_1 != side_2 or side_1 == 0:
        return "tie", 1
    winner = "model_a" if side_1 > 0 else "model_b"
    strong = five_level and ">>" in g1 and ">>" in g2
    return winner, STRONG_WEIGHT if strong else 1


def game_winner(verdict: Verdict | None, game: int) -> str:
    """FastChat's per-game winner field: model_1, model_2, tie or error."""
    preference = verdict.preference if verdict is not None else None
    if preference is None:
        return "error"
    side = _SIDE[preference]
    if side == 0:
        return "tie"
    first_is_model_1 = game == 1
    return "model_1" if (side > 0) == first_is_model_1 else "model_2"


@dataclass(frozen=True)
class PairOutcome:
    record: dict[str, Any]
    battle: dict[str, Any] | None


def pair_outcomes(replies: list[Reply], judge_model: str, prompt_set: str, five_level: bool) -> list[PairOutcome]:
    games: dict[tuple, dict[int, Reply]] = {}
    for reply in replies:
        i = reply.job.info
        key = (i["model_1"], i["model_2"], i["question_id"], i["turn"], reply.job.repeat)
        games.setdefault(key, {})[i["game"]] = reply
    outcomes = []
    for (model_1, model_2, qid, turn, repeat), both in games.items():
        g1, g2 = both[1], both[2]
        parse = parser(five_level, g1.job.info.get("output_format", "[[A]]"))
        v1 = parse(g1.text, g1.job.info.get("planted", ())) if g1.text is not None else None
        v2 = parse(g2.text, g2.job.info.get("planted", ())) if g2.text is not None else None
        p1 = v1.preference if v1 else None
        p2 = v2.preference if v2 else None
        failures = [_failure(g, v) for g, v in ((g1, v1), (g2, v2)) if v is None or not v.ok]
        record = {
            "question_id": qid, "model_1": model_1, "model_2": model_2,
            "g1_winner": game_winner(v1, 1), "g2_winner": game_winner(v2, 2),
            "judge": [judge_model, g1.job.info["prompt"]],
            "g1_user_prompt": g1.job.messages[-1]["content"], "g1_judgment": g1.text,
            "g2_user_prompt": g2.job.messages[-1]["content"], "g2_judgment": g2.text,
            "turn": turn, "tstamp": max(g1.tstamp, g2.tstamp), "category": g1.job.info["category"],
            "repeat": repeat, "prompt_set": prompt_set, "five_level": five_level,
            "planted": list(g1.job.info.get("planted", ())),
            "g1_verdict": p1, "g2_verdict": p2,
            "failure": failures[0] if failures else None, "cached": g1.cached and g2.cached,
        }
        battle = None
        if p1 is not None and p2 is not None:
            winner, weight = combine(p1, p2, five_level)
            record.update(winner=winner, weight=weight, inconsistent=_SIDE[p1] != -_SIDE[p2])
            battle = {"model_a": model_1, "model_b": model_2, "winner": winner,
                      "tstamp": record["tstamp"] or time.time(), "question_id": qid, "turn": turn,
                      "judge": f"{judge_model}|{prompt_set}", "weight": weight, "anony": True, "flags": [],
                      "source": "judge"}
        outcomes.append(PairOutcome(record, battle))
    return outcomes


def _failure(reply: Reply, verdict: Verdict | None) -> str:
    game = reply.job.info["game"]
    if verdict is None:
        return f"game {game}: {reply.failure or 'request_error'}: {reply.error}"
    return f"game {game}: {verdict.failure}" + (f": {verdict.detail}" if verdict.detail else "")
