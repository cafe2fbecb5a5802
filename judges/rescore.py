"""`jeval judge rescore`: read stored judgment texts again and compare with the stored verdicts.

Reads FastChat's judgment JSONL (single: `judgment` + `score`; pairwise: `g1_judgment`,
`g2_judgment` + `g1_winner`, `g2_winner`) and jeval's, which has the same fields. A stored score
of -1 (FastChat's "could not parse") that now parses counts as recovered. jeval's records keep the
verdicts the judged answers wrote themselves (`planted`), so that such a verdict fails again here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import read_jsonl
from jeval.judges.pairwise import game_winner
from jeval.judges.verdicts import Verdict, parse_pairwise, parse_pairwise_5, parse_rating


@dataclass
class Rescore:
    rows: int = 0
    judgments: int = 0
    parsed: int = 0
    with_stored: int = 0
    agree: int = 0
    disagree: int = 0
    recovered: int = 0
    failures: Counter = field(default_factory=Counter)
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "judgments": self.judgments, "parsed": self.parsed,
                "failed": self.judgments - self.parsed, "failure_reasons": dict(self.failures),
                "with_stored_verdict": self.with_stored, "agree": self.agree, "disagree": self.disagree,
                "recovered": self.recovered, "disagreements": self.disagreements[:20]}


def _stored_score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value == -1:
        return None
    return float(value)


def _planted(row: dict[str, Any]) -> tuple[Any, ...]:
    value = row.get("planted")
    return tuple(value) if isinstance(value, list) else ()


def _five_level(row: dict[str, Any]) -> bool:
    judge = row.get("judge")
    name = judge[1] if isinstance(judge, list) and len(judge) > 1 else ""
    return bool(row.get("five_level")) or str(name).startswith("pair5")


def rescore(path: Path) -> Rescore:
    out = Rescore()
    for lineno, row in enumerate(read_jsonl(path), 1):
        out.rows += 1
        where = {"line": lineno, "question_id": row.get("question_id"), "turn": row.get("turn")}
        if "judgment" in row:
            _single(out, row, where)
        elif "g1_judgment" in row and "g2_judgment" in row:
            parse = parse_pairwise_5 if _five_level(row) else parse_pairwise
            for game in (1, 2):
                _pair_game(out, row, game, parse, where)
        else:
            raise JevalError(f"{path}:{lineno}: not a judgment record (no judgment or g1_judgment/g2_judgment field)")
    if out.rows == 0:
        raise JevalError(f"{path}: no judgments in the file")
    return out


def _single(out: Rescore, row: dict[str, Any], where: dict[str, Any]) -> None:
    out.judgments += 1
    text = row["judgment"]
    rating = parse_rating(text if isinstance(text, str) else "", _planted(row))
    stored = _stored_score(row.get("score"))
    if not rating.ok:
        out.failures[rating.failure] += 1
    else:
        out.parsed += 1
        if stored is None and row.get("score") == -1:
            out.recovered += 1
    if stored is not None:
        out.with_stored += 1
        if rating.ok and rating.score == stored:
            out.agree += 1
        else:
            out.disagree += 1
            out.disagreements.append({**where, "stored": stored, "parsed": rating.score, "failure": rating.failure})


def _pair_game(out: Rescore, row: dict[str, Any], game: int, parse: Callable[[str, tuple[Any, ...]], Verdict],
               where: dict[str, Any]) -> None:
    out.judgments += 1
    text = row.get(f"g{game}_judgment")
    verdict = parse(text if isinstance(text, str) else "", _planted(row))
    winner = game_winner(verdict, game)
    stored = row.get(f"g{game}_winner")
    if not verdict.ok:
        out.failures[verdict.failure] += 1
    else:
        out.parsed += 1
        if stored == "error":
            out.recovered += 1
    if stored in ("model_1", "model_2", "tie"):
        out.with_stored += 1
        if winner == stored:
            out.agree += 1
        else:
            out.disagree += 1
            out.disagreements.append({**where, "game": game, "stored": stored, "parsed": winner})
