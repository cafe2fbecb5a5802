"""The battle record shared by the arena, the judge and the ratings (FastChat's field names)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")
MAX_WEIGHT = 1_000_000
"""The largest battle weight accepted. A battle of weight w counts as w identical battles; a
million keeps every weighted count exact in the ratings' arithmetic (float64 sums of up to 2**53
/ 10**6, about 9 billion, such battles) and is far above any weight a vote or a judge verdict
needs. Larger, non-integer, non-finite or non-positive weights are refused with an error."""


@dataclass(frozen=True)
class Battle:
    model_a: str
    model_b: str
    winner: str
    tstamp: float = 0.0
    weight: int = 1
    anony: bool = True
    flags: tuple[str, ...] = ()
    source: str = "arena"
    question_id: str | int | None = None
    turn: int | None = None
    judge: str | None = None
    conv_metadata: dict[str, Any] | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"model_a": self.model_a, "model_b": self.model_b, "winner": self.winner,
                               "tstamp": self.tstamp}
        for key in ("question_id", "turn", "judge"):
            if getattr(self, key) is not None:
                row[key] = getattr(self, key)
        row["weight"] = self.weight
        row["anony"] = self.anony
        row["flags"] = list(self.flags)
        row["source"] = self.source
        if self.conv_metadata is not None:
            row["conv_metadata"] = self.conv_metadata
        return row


def parse_battle(row: Any, where: str) -> Battle:
    """One JSON object as a Battle; `where` (file:line) prefixes every error."""
    if not isinstance(row, dict):
        raise JevalError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [k for k in ("model_a", "model_b", "winner") if k not in row]
    if missing:
        raise JevalError(f"{where}: battle has no {', '.join(missing)}")
    a, b, winner = row["model_a"], row["model_b"], row["winner"]
    if not isinstance(a, str) or not isinstance(b, str) or not a or not b:
        raise JevalError(f"{where}: model_a and model_b must be non-empty strings")
    if a == b:
        raise JevalError(f"{where}: model_a and model_b are the same model ({a!r})")
    if winner not in WINNERS:
        raise JevalError(f"{where}: winner {winner!r} is not one of {', '.join(WINNERS)}")
    tstamp = row.get("tstamp", 0.0)
    if isinstance(tstamp, bool) or not isinstance(tstamp, (int, float)) or not math.isfinite(tstamp):
        raise JevalError(f"{where}: tstamp must be a number of unix seconds, got {tstamp!r}")
    weight = check_weight(row.get("weight", 1), where)
    anony = row.get("anony", True)
    if not isinstance(anony, bool):
        raise JevalError(f"{where}: anony must be true or false, got {anony!r}")
    flags = row.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise JevalError(f"{where}: flags must be a list of strings, got {flags!r}")
    turn = row.get("turn")
    if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int)):
        raise JevalError(f"{where}: turn must be an integer, got {turn!r}")
    source = row.get("source", "arena")
    if not isinstance(source, str) or not source:
        raise JevalError(f"{where}: source must be a non-empty string such as \"arena\" or \"judge\", got {source!r}")
    question_id = row.get("question_id")
    if question_id is not None and (isinstance(question_id, bool) or not isinstance(question_id, (str, int))):
        raise JevalError(f"{where}: question_id must be a string or an integer, got {question_id!r}")
    judge = row.get("judge")
    if judge is not None and not isinstance(judge, str):
        raise JevalError(f"{where}: judge must be a string, got {judge!r}")
    meta = row.get("conv_metadata")
    if meta is not None and not isinstance(meta, dict):
        raise JevalError(f"{where}: conv_metadata must be an object")
    return Battle(a, b, winner, float(tstamp), weight=weight, anony=anony, flags=tuple(flags), source=source,
                  question_id=question_id, turn=turn, judge=judge, conv_metadata=meta)


def check_weight(weight: Any, where: str) -> int:
    """`weight` when it is an integer from 1 to MAX_WEIGHT, else a JevalError prefixed by `where`."""
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
        raise JevalError(f"{where}: weight must be a positive integer no larger than {MAX_WEIGHT:,}, "
                         f"got {_shown(weight)}")
    return weight


def _shown(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**18:
        return f"an integer of {len(str(abs(value)))} digits"
    return repr(value)


def read_battles_jsonl(path: Path) -> list[Battle]:
    """Battles from a JSON Lines file; every malformed line is an error naming file:line."""
    battles = []
    try:
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise JevalError(f"{where}: not valid JSON ({e.msg})") from None
                except ValueError as e:  # an integer longer than Python converts (4300 digits)
                    raise JevalError(f"{where}: not usable JSON ({str(e).split(':')[0]})") from None
                battles.append(parse_battle(row, where))
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise JevalError(f"{path}: is a folder, expected a JSON Lines file of battles") from None
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    return battles


read_battles = read_battles_jsonl


def write_battles_jsonl(path: Path, battles: Iterable[Battle]) -> None:
    """All battles at once, written to a temporary file and renamed over `path`."""
    atomic_write_jsonl(path, (b.as_dict() for b in battles))


def usable(battles: Iterable[Battle], include_flagged: bool = False, include_named: bool = False) -> list[Battle]:
    """The battles that enter rankings: anonymous and unflagged unless asked otherwise. A "tie
    (bothbad)" stays in, as a tie, as FastChat counts it."""
    return select(battles, Selection(include_named=include_named, include_flagged=include_flagged))


@dataclass(frozen=True)
class Selection:
    """Which battles enter the rankings (FastChat's defaults: anonymous, unflagged)."""

    include_named: bool = False
    include_flagged: bool = False
    sources: tuple[str, ...] = ()


def select(battles: Iterable[Battle], selection: Selection = Selection()) -> list[Battle]:
    return [b for b in battles
            if (selection.include_named or b.anony)
            and (selection.include_flagged or not b.flags)
            and (not selection.sources or b.source in selection.sources)]
