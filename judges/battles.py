"""Pairwise judgments of other tools as arena battles, for `jeval arena ratings --battles FILE`.

Rakuda's reviews and FastChat-format pairwise judgments (Japanese Vicuna QA's, MT-Bench's) are read
as `jeval judge agreement` reads them (jeval.judges.judgment_sets). Games of one comparison (pair,
question, turn, repeat) are combined as `jeval judge pairwise` combines its own: the same winner in
both orders wins, a verdict that flips with the order is a tie (FastChat's rule). A comparison
judged in one order only is one battle with that game's verdict: Rakuda's reviews are mostly
single games, and its published ratings count each review as one battle.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from jeval.arena.battles import Battle
from jeval.errors import JevalError
from jeval.judges.judgment_sets import JudgmentSet, PairJudgment, read_set

SIDE = {"a": "model_a", "b": "model_b", "tie": "tie"}


def _combined(games: list[PairJudgment]) -> str:
    """The battle winner of a comparison's games (model_a is the pair's first model)."""
    if len(games) == 1:
        return SIDE[games[0].winner]
    winners = {g.winner for g in games}
    if len(winners) == 1 and "tie" not in winners:
        return SIDE[winners.pop()]
    return "tie"


def battles_of(judgments: JudgmentSet) -> list[Battle]:
    comparisons: dict[tuple[str, str, str, int, int | None], list[PairJudgment]] = defaultdict(list)
    for p in judgments.pairs:
        comparisons[(p.model_a, p.model_b, p.item, p.turn, p.repeat)].append(p)
    judge = f"{judgments.judge or judgments.label}|{judgments.format}"
    return [Battle(model_a, model_b, _combined(games), 0.0, source="judge", question_id=item, turn=turn,
                   judge=judge)
            for (model_a, model_b, item, turn, _), games in comparisons.items()]


def read_judgment_battles(path: Path) -> list[Battle]:
    """The battles of a file of pairwise judgments (Rakuda reviews, FastChat pairwise)."""
    found = read_set(str(path))
    if found.kind != "pairwise":
        raise JevalError(f"{path}: single-answer scores, not pairwise verdicts; battles need comparisons "
                         "(`jeval judge pairwise`)")
    return battles_of(found)
