"""Arena columns from a ratings JSON (`jeval arena ratings --format json`) or from battles (JSON
Lines files, vote-store URLs) rated here through jeval.arena.ratings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jeval.errors import JevalError
from jeval.leaderboard.cells import Cell, Column, finite


@dataclass(frozen=True)
class ArenaRow:
    model: str
    rating: float
    lower: float
    upper: float
    battles: int


@dataclass(frozen=True)
class ArenaRatings:
    rows: list[ArenaRow]
    description: str
    source: str

    def cells(self) -> list[Cell]:
        protocol = self.description
        out = []
        for r in self.rows:
            out.append(Cell(r.model, Column("Arena rating", "arena", protocol, "rating", 0), r.rating,
                            Path(self.source), "", ""))
            out.append(Cell(r.model, Column("Arena 95% CI", "arena", protocol, "interval", 1), r.rating,
                            Path(self.source), "", "", lower=r.lower, upper=r.upper))
            out.append(Cell(r.model, Column("Arena votes", "arena", protocol, "count", 2), float(r.battles),
                            Path(self.source), "", ""))
        return out


def _from_ratings_json(path: Path) -> ArenaRatings:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JevalError(f"--arena {path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise JevalError(f"--arena {path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        raise JevalError(f"--arena {path}: not a ratings file of `jeval arena ratings --format json` "
                         "(no `models` list); give battles as .jsonl or a vote-store URL instead")
    rows = []
    for i, m in enumerate(data["models"]):
        rating, lower, upper = (finite(m.get(k)) if isinstance(m, dict) else None for k in ("rating", "lower", "upper"))
        if not isinstance(m, dict) or not isinstance(m.get("model"), str) or rating is None or lower is None \
                or upper is None or not isinstance(m.get("battles"), int):
            raise JevalError(f"--arena {path}: models[{i}] needs model, rating, lower, upper and battles")
        rows.append(ArenaRow(m["model"], rating, lower, upper, m["battles"]))
    options = data.get("options") or {}
    confidence = options.get("confidence", 0.95)
    if confidence != 0.95:
        raise JevalError(f"--arena {path}: intervals at {confidence:.0%}; the leaderboard shows 95% intervals")
    method = "Bradley-Terry with style control" if data.get("method") == "bradley-terry+style" else "Bradley-Terry"
    prior = options.get("prior")
    shown = f"prior {prior:g}" if isinstance(prior, int | float) else "prior not recorded"
    rounds = options.get("bootstrap", "?")
    description = f"{method}, {data.get('battles', '?')} battles, {rounds} bootstrap rounds, {shown}"
    return ArenaRatings(rows, description, str(path))


def _from_battles(sources: list[str], bootstrap: int, seed: int) -> ArenaRatings:
    from jeval.arena.battles import select
    from jeval.arena.cli import load_battles
    from jeval.arena.ratings import RatingOptions, compute

    battles = load_battles(sources)
    chosen = select(battles)
    if not chosen:
        raise JevalError(f"--arena: none of the {len(battles)} battles counts (flagged or non-anonymous)")
    report = compute(chosen, RatingOptions(bootstrap=bootstrap, seed=seed))
    rows = [ArenaRow(r.model, r.rating, r.lower, r.upper, r.battles) for r in report.rows]
    description = (f"Bradley-Terry, {report.battles} battles, {bootstrap} bootstrap rounds (seed {seed}), "
                   f"prior {report.options.prior:g}")
    return ArenaRatings(rows, description, ", ".join(sources))


def load_arena(sources: list[str], bootstrap: int = 100, seed: int = 0) -> ArenaRatings | None:
    """One ratings JSON, or battles from any number of JSONL files and vote-store URLs pooled."""
    if not sources:
        return None
    ratings_files = [s for s in sources if "://" not in s and s.endswith(".json")]
    if ratings_files and len(sources) > 1:
        raise JevalError("--arena: give one ratings .json, or battles (.jsonl files, vote-store URLs), not both "
                         "or several ratings files")
    if ratings_files:
        return _from_ratings_json(Path(ratings_files[0]))
    if bootstrap < 1:
        raise JevalError(f"--arena-bootstrap must be 1 or more, got {bootstrap}")
    return _from_battles(sources, bootstrap, seed)
