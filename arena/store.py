"""The vote store: battles, their turns and their votes, through SQLAlchemy (a SQLite file in WAL
mode by default; PostgreSQL or any other URL for several app workers).

One vote per battle is the database's rule (the vote's primary key is the battle id) and a vote
is accepted only for a battle of the same session whose answers are complete; both checks run in
the vote's transaction, so concurrent or replayed votes cannot double-count."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from jeval.arena.battles import WINNERS, Battle
from jeval.arena.style import conv_metadata
from jeval.errors import JevalError

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

metadata = sa.MetaData()

meta_table = sa.Table("arena_meta", metadata, sa.Column("key", sa.String(64), primary_key=True),
                      sa.Column("value", sa.Text, nullable=False))
battles_table = sa.Table(
    "arena_battles", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("model_a", sa.String(200), nullable=False),
    sa.Column("model_b", sa.String(200), nullable=False),
    sa.Column("session", sa.String(64), nullable=False, index=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("flags", sa.Text, nullable=False, default="[]"),
)
turns_table = sa.Table(
    "arena_turns", metadata,
    sa.Column("battle_id", sa.String(64), sa.ForeignKey("arena_battles.id"), primary_key=True),
    sa.Column("turn", sa.Integer, primary_key=True),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("answer_a", sa.Text, nullable=False),
    sa.Column("answer_b", sa.Text, nullable=False),
    sa.Column("error_a", sa.Text),
    sa.Column("error_b", sa.Text),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("finished", sa.Float, nullable=False),
)
votes_table = sa.Table(
    "arena_votes", metadata,
    sa.Column("battle_id", sa.String(64), sa.ForeignKey("arena_battles.id"), primary_key=True),
    sa.Column("winner", sa.String(16), nullable=False),
    sa.Column("tstamp", sa.Float, nullable=False),
    sa.Column("session", sa.String(64), nullable=False, index=True),
    sa.Column("flags", sa.Text, nullable=False, default="[]"),
)

MODES = ("anony", "side_by_side")


class VoteRejected(JevalError):
    """A vote the rules do not allow (unknown battle, another session's, not ready, already voted)."""


@dataclass(frozen=True)
class Turn:
    prompt: str
    answer_a: str
    answer_b: str
    error_a: str | None = None
    error_b: str | None = None


def _sqlite_pragmas(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class VoteStore:
    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, future=True)
        except (SQLAlchemyError, ImportError, ValueError) as e:
            raise JevalError(f"vote store {url!r}: cannot open ({' '.join(str(e).split())[:200]})") from None
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._create_schema()
            self._salt = self._load_salt()
        except OperationalError as e:
            raise JevalError(f"vote store {url!r}: cannot open ({' '.join(str(e.orig).split())[:200]})") from None

    def close(self) -> None:
        self.engine.dispose()

    def _create_schema(self, attempts: int = 5) -> None:
        """Several app workers may open a new store at once: the losers of the race to create a table
        fail (SQLite: table already exists; PostgreSQL: duplicate type or table); trying again, they
        find the tables there. A store that cannot be opened at all fails every attempt."""
        for attempt in range(attempts):
            try:
                metadata.create_all(self.engine)
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _salt_value(self) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(meta_table.c.value).where(meta_table.c.key == "session_salt")).scalar()

    def _load_salt(self) -> str:
        """The store's session salt, made by whichever worker opens the store first. The insert has a
        transaction of its own, so a worker that loses the race rolls back only that."""
        found = self._salt_value()
        if found:
            return found
        try:
            with self.engine.begin() as c:
                c.execute(meta_table.insert().values(key="session_salt", value=secrets.token_hex(16)))
        except IntegrityError:
            pass
        found = self._salt_value()
        if not found:
            raise JevalError(f"vote store {self.url!r}: no session salt after creating one")
        return found

    def hash_session(self, raw: str) -> str:
        """Session ids are stored only as salted hashes (the salt lives in this store)."""
        return hashlib.sha256(f"{self._salt}:{raw}".encode()).hexdigest()[:32]

    def create_battle(self, battle_id: str, mode: str, model_a: str, model_b: str, session: str) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        with self.engine.begin() as c:
            c.execute(battles_table.insert().values(id=battle_id, mode=mode, model_a=model_a, model_b=model_b,
                                                    session=session, created=time.time(), status="open", flags="[]"))

    def add_turn(self, battle_id: str, index: int, turn: Turn, started: float, flags: list[str]) -> None:
        """Store a finished turn; a turn where either model failed marks the battle failed (never counted)."""
        failed = bool(turn.error_a or turn.error_b)
        with self.engine.begin() as c:
            c.execute(turns_table.insert().values(battle_id=battle_id, turn=index, prompt=turn.prompt,
                                                  answer_a=turn.answer_a, answer_b=turn.answer_b,
                                                  error_a=turn.error_a, error_b=turn.error_b,
                                                  started=started, finished=time.time()))
            c.execute(battles_table.update().where(battles_table.c.id == battle_id, battles_table.c.status != "voted")
                      .values(status="failed" if failed else "ready", flags=json.dumps(sorted(set(flags)))))

    def record_vote(self, battle_id: str, session: str, winner: str, flags: list[str]) -> float:
        if winner not in WINNERS:
            raise VoteRejected(f"unknown vote {winner!r}")
        tstamp = time.time()
        with self.engine.begin() as c:
            changed = c.execute(battles_table.update()
                                .where(battles_table.c.id == battle_id, battles_table.c.session == session,
                                       battles_table.c.status == "ready")
                                .values(status="voted")).rowcount
            if changed != 1:
                status = c.execute(sa.select(battles_table.c.status, battles_table.c.session)
                                   .where(battles_table.c.id == battle_id)).first()
                if status is None or status.session != session:
                    raise VoteRejected("this battle does not belong to this session")
                reason = {"voted": "this battle already has its vote",
                          "failed": "a model failed in this battle; it is not counted",
                          "open": "the answers are not finished yet"}.get(status.status, status.status)
                raise VoteRejected(reason)
            try:
                c.execute(votes_table.insert().values(battle_id=battle_id, winner=winner, tstamp=tstamp,
                                                      session=session, flags=json.dumps(sorted(set(flags)))))
            except IntegrityError:
                raise VoteRejected("this battle already has its vote") from None
        return tstamp

    def votes_since(self, session: str, since: float) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(votes_table)
                             .where(votes_table.c.session == session, votes_table.c.tstamp >= since)).scalar_one()

    def battle_status(self, battle_id: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(battles_table.c.status).where(battles_table.c.id == battle_id)).scalar()

    def count_votes(self) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(votes_table)).scalar_one()

    def export(self, conversations: bool = False) -> list[dict]:
        """Voted battles as records with FastChat's field names, in vote order."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(battles_table, votes_table.c.winner, votes_table.c.tstamp,
                                       votes_table.c.flags.label("vote_flags"))
                             .join(votes_table, votes_table.c.battle_id == battles_table.c.id)
                             .order_by(votes_table.c.tstamp, battles_table.c.id)).all()
            turns: dict[str, list] = {}
            for t in c.execute(sa.select(turns_table).order_by(turns_table.c.battle_id, turns_table.c.turn)):
                turns.setdefault(t.battle_id, []).append(t)
        out = []
        for r in rows:
            ts = turns.get(r.id, [])
            prompts, a, b = [t.prompt for t in ts], [t.answer_a for t in ts], [t.answer_b for t in ts]
            record = {"model_a": r.model_a, "model_b": r.model_b, "winner": r.winner, "tstamp": r.tstamp,
                      "question_id": r.id, "turn": len(ts), "judge": f"arena_user_{r.session}", "weight": 1,
                      "anony": r.mode == "anony",
                      "flags": sorted(set(json.loads(r.flags)) | set(json.loads(r.vote_flags))),
                      "source": "arena", "conv_metadata": conv_metadata(prompts, a, b)}
            if conversations:
                for side, answers in (("a", a), ("b", b)):
                    record[f"conversation_{side}"] = [m for p, ans in zip(prompts, answers)
                                                      for m in ({"role": "user", "content": p},
                                                                {"role": "assistant", "content": ans})]
            out.append(record)
        return out

    def battles(self) -> list[Battle]:
        from jeval.arena.battles import parse_battle

        return [parse_battle(row, f"{self.url} battle {row['question_id']}") for row in self.export()]
