"""The leaderboard tab's content: computed in the background, stored, and read in constant time.

Opening the tab used to rate every stored battle, conversations included, on each visit (6.9 s at
10,000 battles, on a public page). Now a refresher thread of the app recomputes the ratings every
`leaderboard.refresh_s` seconds when votes have come in, from the votes alone (no conversation is
read), and stores the result as one JSON row in the vote store (`arena_summary`); the tab reads
that row. Several app workers share the row: a worker skips a refresh that another one has just
made. `jeval arena board --config arena.yaml` refreshes it from the command line.

Intervals: each model's interval is the wider of the bootstrap percentile interval and the normal
approximation of the posterior under the prior (mean: the fitted rating; covariance: the inverse
of the penalised likelihood's Hessian at it). With many votes both agree; with few the bootstrap
alone is too narrow: an undefeated model's resamples are all undefeated, so its interval shrinks
to nothing while its rating rests on the prior alone.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np

from jeval.arena.battles import Battle, select
from jeval.arena.config import LeaderboardSettings
from jeval.arena.ratings import BASE, INIT, SCALE, Cells, ModelRow, RatingOptions, compute, rank_by_intervals
from jeval.arena.report import caveats
from jeval.arena.store import VoteStore

log = logging.getLogger(__name__)

SUMMARY_KEY = "leaderboard"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class BoardRow:
    rank: int
    model: str
    rating: float
    lower: float
    upper: float
    elo: float
    battles: int
    wins: int
    losses: int
    ties: int
    caveats: tuple[str, ...]


@dataclass(frozen=True)
class Board:
    """What the tab shows, in no particular language. Matrices are row-over-column in `models` order."""

    battles: int
    votes: int
    excluded: int
    computed_at: float
    models: tuple[str, ...]
    rows: tuple[BoardRow, ...]
    win_rates: tuple[tuple[float | None, ...], ...]
    counts: tuple[tuple[int, ...], ...]
    settings: LeaderboardSettings

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Board:
        raw = json.loads(text)
        return cls(raw["battles"], raw["votes"], raw["excluded"], raw["computed_at"], tuple(raw["models"]),
                   tuple(BoardRow(**{**r, "caveats": tuple(r["caveats"])}) for r in raw["rows"]),
                   tuple(tuple(r) for r in raw["win_rates"]), tuple(tuple(r) for r in raw["counts"]),
                   LeaderboardSettings(**raw["settings"]))


def posterior_sd(wins: np.ndarray, strength: np.ndarray, prior: float) -> np.ndarray:
    """Standard deviations of the (mean-zero) strengths under the Laplace approximation of the
    posterior: the inverse Hessian of -log likelihood + prior/2 |s|^2 at the fitted strengths."""
    m = len(strength)
    n = wins + wins.T
    p = 1.0 / (1.0 + np.exp(-(strength[:, None] - strength[None, :])))
    c = n * p * (1.0 - p)
    hessian = -c
    hessian[np.arange(m), np.arange(m)] += c.sum(axis=1)
    hessian += prior * np.eye(m)
    centre = np.eye(m) - 1.0 / m
    covariance = centre @ np.linalg.pinv(hessian) @ centre
    return np.sqrt(np.clip(np.diag(covariance), 0.0, None))


def compute_board(battles: list[Battle], settings: LeaderboardSettings, votes: int = 0, excluded: int = 0) -> Board:
    """The board of the counted battles (anonymous, unflagged) among `battles`; `votes` and
    `excluded` (all stored votes, and those the audit excluded) say what it was computed over."""
    counted = select(battles)
    if not counted:
        return Board(0, votes, excluded, time.time(), (), (), (), (), settings)
    report = compute(counted, RatingOptions(bootstrap=settings.bootstrap, prior=settings.prior, seed=settings.seed,
                                            confidence=CONFIDENCE))
    cells = Cells.of(counted)
    order = [cells.models.index(m) for m in report.models]
    wins = cells.win_matrix()[np.ix_(order, order)]
    per_point = SCALE / math.log(BASE)
    rating = np.array([r.rating for r in report.rows])
    sd = posterior_sd(wins, (rating - INIT) / per_point, settings.prior) * per_point
    z = statistics.NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
    lower = np.minimum([r.lower for r in report.rows], rating - z * sd)
    upper = np.maximum([r.upper for r in report.rows], rating + z * sd)
    ranks = rank_by_intervals(lower, upper)
    rows = []
    for i, r in enumerate(report.rows):
        widened = ModelRow(r.model, int(ranks[i]), r.rating, float(lower[i]), float(upper[i]), r.elo, r.battles,
                          r.wins, r.losses, r.ties)
        rows.append(BoardRow(int(ranks[i]), r.model, r.rating, float(lower[i]), float(upper[i]), r.elo, r.battles,
                             r.wins, r.losses, r.ties, caveats(widened, settings.min_battles, settings.max_interval)))
    rates = tuple(tuple(None if i == j or not np.isfinite(report.win_rates[i, j]) else float(report.win_rates[i, j])
                        for j in range(len(report.models))) for i in range(len(report.models)))
    counts = tuple(tuple(int(report.battle_counts[i, j]) for j in range(len(report.models)))
                   for i in range(len(report.models)))
    return Board(report.battles, votes, excluded, time.time(), tuple(report.models), tuple(rows), rates, counts,
                 settings)


class BoardKeeper:
    """Keeps the stored board fresh (`refresh`, `start`) and reads it (`read`, one row)."""

    def __init__(self, store: VoteStore, settings: LeaderboardSettings):
        self.store = store
        self.settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self) -> Board | None:
        """The stored board (one row read), or None before the first refresh."""
        return self._parsed(self.store.load_summary(SUMMARY_KEY))

    @staticmethod
    def _parsed(found: tuple[str, float, int] | None) -> Board | None:
        if found is None:
            return None
        try:
            return Board.from_json(found[0])
        except (ValueError, KeyError, TypeError):
            log.warning("arena: the stored leaderboard summary is unreadable; it will be recomputed")
            return None

    def refresh(self, force: bool = False) -> bool:
        """Recompute and store the board when votes came in or were excluded since the stored one
        (or the settings changed, or `force`); False when the stored one was kept."""
        votes, excluded = self.store.count_votes(), len(self.store.exclusions())
        if not force:
            found = self.store.load_summary(SUMMARY_KEY)
            stored = self._parsed(found)
            if found is not None and stored is not None and stored.settings == self.settings:
                unchanged = (stored.votes, stored.excluded) == (votes, excluded)
                if unchanged or time.time() - found[1] < self.settings.refresh_s / 2:
                    return False
        started = time.perf_counter()
        board = compute_board(self.store.vote_outcomes(), self.settings, votes, excluded)
        self.store.save_summary(SUMMARY_KEY, board.to_json(), votes)
        log.info("arena: leaderboard refreshed over %d votes in %.2f s", votes, time.perf_counter() - started)
        return True

    def start(self) -> None:
        """Refresh now and then every `refresh_s` seconds in a daemon thread, until `stop`."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.refresh()
                except Exception as e:  # the page keeps the last stored board; the next round tries again
                    log.warning("arena: leaderboard refresh failed: %s", " ".join(str(e).split())[:300])
                self._stop.wait(self.settings.refresh_s)

        self._thread = threading.Thread(target=loop, name="arena-leaderboard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
