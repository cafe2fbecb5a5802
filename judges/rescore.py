"""`jeval judge rescore`: read stored judgments again, compare with their stored verdicts, and
tabulate them per model.

- Judgments with the judge's text: FastChat's judgment JSONL (single: `judgment` + `score`;
  pairwise: `g1_judgment`, `g2_judgment` + `g1_winner`, `g2_winner`), jeval's (the same fields; on a
  1-5 scale where the record says so), and Rakuda's reviews (`text` + `score` 1/2/3, the verdict on
  the text's last line). Each text is parsed again; a stored score of -1 (FastChat's "could not
  parse") that now parses counts as recovered. jeval's records keep the verdicts the judged
  answers wrote themselves (`planted`), so that such a verdict fails again here.
- Scores without the judge's text (ELYZA-tasks-100 files of shaberi, bench_elyza and
  gpt4-autoeval, shaberi's score tables; a file or a folder, read as `jeval judge agreement` reads
  them): every stored score is read; one that is missing (null) counts as failed.

The per-model table gives, for single grading, the number of judgments and the mean of the stored
and of the re-parsed scores; for pairwise, each model's wins, losses and ties per game, stored and
re-parsed. A judgment recorded twice (same model or pair, question, turn, repeat and game) is
flagged with its lines; both copies are counted, as they are in the file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import read_jsonl_numbered
from jeval.judges.pairwise import game_winner
from jeval.judges.verdicts import (
    TEN,
    Verdict,
    parse_pairwise,
    parse_pairwise_5,
    parse_pairwise_last,
    rating_reader,
)

DUPLICATES_KEPT = 50


@dataclass
class ModelTally:
    judgments: int = 0
    stored: list[float] = field(default_factory=list)
    parsed: list[float] = field(default_factory=list)
    stored_games: Counter = field(default_factory=Counter)
    parsed_games: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        if self.stored_games or self.parsed_games:
            return {"games": self.judgments, "stored": dict(self.stored_games), "parsed": dict(self.parsed_games)}
        return {"judgments": self.judgments, "stored_scores": len(self.stored), "parsed_scores": len(self.parsed),
                "stored_mean": _mean(self.stored), "parsed_mean": _mean(self.parsed)}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


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
    models: defaultdict[str, ModelTally] = field(default_factory=lambda: defaultdict(ModelTally))
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    texts: bool = True
    """Whether the judge's texts were there to parse again (else only stored scores were read)."""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "judgments": self.judgments, "parsed": self.parsed,
                "failed": self.judgments - self.parsed, "failure_reasons": dict(self.failures),
                "with_stored_verdict": self.with_stored, "agree": self.agree, "disagree": self.disagree,
                "recovered": self.recovered, "disagreements": self.disagreements[:20],
                "texts": self.texts, "models": {m: t.as_dict() for m, t in sorted(self.models.items())},
                "duplicates": self.duplicates[:DUPLICATES_KEPT], "duplicate_count": len(self.duplicates),
                "notes": self.notes}


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


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    who = (row.get("model"),) if "judgment" in row else (row.get("model_1"), row.get("model_2"))
    if "text" in row and "model1_id" in row:
        who = (row.get("model1_id"), row.get("model2_id"))
    return (*who, str(row.get("question_id")), row.get("turn", 1), row.get("repeat", 0))


def _is_rakuda(row: dict[str, Any]) -> bool:
    return "text" in row and "model1_id" in row and "model2_id" in row


def rescore(path: Path) -> Rescore:
    """The report for a judgment file (with texts), or a score file or folder (without)."""
    if path.is_dir():
        return _scores_only(path)
    rows = read_jsonl_numbered(path) if path.suffix in (".jsonl", ".json") else []
    if not rows or not any("judgment" in r or "g1_judgment" in r or _is_rakuda(r) for _, r in rows[:1]):
        return _scores_only(path)
    out = Rescore()
    seen: dict[tuple[Any, ...], int] = {}
    for lineno, row in rows:
        out.rows += 1
        where = {"line": lineno, "question_id": row.get("question_id"), "turn": row.get("turn")}
        key = _key(row)
        if key in seen:
            out.duplicates.append({"line": lineno, "first_line": seen[key], "key": [str(k) for k in key]})
        seen.setdefault(key, lineno)
        if "judgment" in row:
            _single(out, row, where)
        elif "g1_judgment" in row and "g2_judgment" in row:
            parse = parse_pairwise_5 if _five_level(row) else parse_pairwise
            for game in (1, 2):
                _pair_game(out, row, game, parse, where)
        elif _is_rakuda(row):
            _rakuda(out, row, where)
        else:
            raise JevalError(f"{path}:{lineno}: not a judgment record (no judgment, g1_judgment/g2_judgment or "
                             "Rakuda review text)")
    if out.rows == 0:
        raise JevalError(f"{path}: no judgments in the file")
    return out


def _single(out: Rescore, row: dict[str, Any], where: dict[str, Any]) -> None:
    out.judgments += 1
    text = row["judgment"]
    given = row.get("scale")
    scale = (float(given[0]), float(given[1])) if isinstance(given, list) and len(given) == 2 else TEN
    rating = rating_reader(scale)(text if isinstance(text, str) else "", _planted(row))
    stored = _stored_score(row.get("score"))
    tally = out.models[str(row.get("model"))]
    tally.judgments += 1
    if stored is not None:
        tally.stored.append(stored)
    if not rating.ok:
        out.failures[rating.failure] += 1
    else:
        out.parsed += 1
        assert rating.score is not None
        tally.parsed.append(rating.score)
        if stored is None and row.get("score") == -1:
            out.recovered += 1
    if stored is not None:
        out.with_stored += 1
        if rating.ok and rating.score == stored:
            out.agree += 1
        else:
            out.disagree += 1
            out.disagreements.append({**where, "stored": stored, "parsed": rating.score, "failure": rating.failure})


def _count_game(out: Rescore, model_1: str, model_2: str, winner: str | None, parsed: bool) -> None:
    if winner not in ("model_1", "model_2", "tie"):
        return
    for model, me in ((model_1, "model_1"), (model_2, "model_2")):
        outcome = "tie" if winner == "tie" else "win" if winner == me else "loss"
        games = out.models[model].parsed_games if parsed else out.models[model].stored_games
        games[outcome] += 1


def _game(out: Rescore, models: tuple[str, str], verdict: Verdict, winner: str, stored: str | None,
          where: dict[str, Any]) -> None:
    """One pairwise game: tallied per model (stored and re-parsed) and compared with the stored
    winner (`model_1`, `model_2`, `tie`; `error` where the tool could not read it)."""
    out.judgments += 1
    for model in models:
        out.models[model].judgments += 1
    _count_game(out, *models, stored, parsed=False)
    if not verdict.ok:
        out.failures[verdict.failure] += 1
    else:
        out.parsed += 1
        _count_game(out, *models, winner, parsed=True)
        if stored == "error":
            out.recovered += 1
    if stored in ("model_1", "model_2", "tie"):
        out.with_stored += 1
        if verdict.ok and winner == stored:
            out.agree += 1
        else:
            out.disagree += 1
            out.disagreements.append({**where, "stored": stored, "parsed": winner if verdict.ok else None,
                                      "failure": verdict.failure})


def _pair_game(out: Rescore, row: dict[str, Any], game: int, parse: Callable[[str, tuple[Any, ...]], Verdict],
               where: dict[str, Any]) -> None:
    text = row.get(f"g{game}_judgment")
    verdict = parse(text if isinstance(text, str) else "", _planted(row))
    _game(out, (str(row.get("model_1")), str(row.get("model_2"))), verdict, game_winner(verdict, game),
          row.get(f"g{game}_winner"), {**where, "game": game})


RAKUDA_SCORES = {1: "model_1", 2: "model_2", 3: "tie"}


def _rakuda(out: Rescore, row: dict[str, Any], where: dict[str, Any]) -> None:
    """A Rakuda review: assistant 1 is model1, shown first; `score` 1, 2 or 3 is the stored verdict."""
    verdict = parse_pairwise_last(row["text"] if isinstance(row["text"], str) else "")
    score = row.get("score")
    stored = RAKUDA_SCORES.get(score) if isinstance(score, int) else None
    _game(out, (str(row["model1_id"]), str(row["model2_id"])), verdict, game_winner(verdict, 1), stored, where)


def _scores_only(path: Path) -> Rescore:
    """Scores stored without the judge's text: read each, per model."""
    from jeval.judges.judgment_sets import read_set

    found = read_set(str(path))
    if found.kind != "single":
        raise JevalError(f"{path}: pairwise verdicts without the judge's texts; nothing to parse again (use "
                         "`jeval judge agreement` to compare them with other judgments)")
    out = Rescore(texts=False, notes=list(found.notes))
    left_out = found.left_out
    for s in found.singles:
        tally = out.models[s.model]
        tally.judgments += 1
        tally.stored.append(s.score)
        tally.parsed.append(s.score)
    out.judgments = out.rows = len(found.singles) + left_out
    out.parsed = len(found.singles)
    if left_out:
        out.failures["no_score"] = left_out
    return out
