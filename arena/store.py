"""The vote store: battles, their turns and their votes, through SQLAlchemy (a SQLite file in WAL
mode by default; PostgreSQL or any other URL for several app workers).

One vote per battle is the database's rule (the vote's primary key is the battle id) and a vote
is accepted only for a battle of the same session whose answers are complete; both checks run in
the vote's transaction, so concurrent or replayed votes cannot double-count. So do the vote limits
(per session, client address and user, and the reading time), so that concurrent votes cannot
pass a limit together.

Each vote records its voter as salted hashes (the salt lives in this store): the session, the
client address, the user when logged in and the User-Agent, so that `jeval arena audit` can group
votes by client without keeping anyone's address. Votes that the audit excludes stay stored, with
their rule and reason, in `arena_exclusions`; the ratings leave them out. Stores made before these
columns existed gain them when opened (older votes have none)."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.schema import CreateColumn

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
    sa.Column("address", sa.String(64), index=True),
    sa.Column("login", sa.String(64), index=True),
    sa.Column("agent", sa.String(64)),
    sa.Column("leaks", sa.Text),
)
exclusions_table = sa.Table(
    "arena_exclusions", metadata,
    sa.Column("battle_id", sa.String(64), sa.ForeignKey("arena_votes.battle_id"), primary_key=True),
    sa.Column("rule", sa.String(32), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
ADDED_COLUMNS = {"arena_votes": ("address", "login", "agent", "leaks")}
"""Columns added to a table after its first release, so possibly missing from an existing store."""

HOUR = 3600.0
VOTE_LOCK = 7_402_913
"""PostgreSQL advisory lock taken by every vote's transaction, so that limits are counted one vote
at a time (SQLite serialises writers by itself)."""

COUNTED = ~sa.exists().where(exclusions_table.c.battle_id == votes_table.c.battle_id)
"""A vote the audit has not excluded (a condition for queries over votes)."""

MODES = ("anony", "side_by_side")


class VoteRejected(JevalError):
    """A vote the rules do not allow (unknown battle, another session's, not ready, already voted,
    a limit reached). The message is English; a limit also gives `key` (a field of the arena's
    `Texts`) and its `fields`, so that the page can say it in its own language."""

    def __init__(self, message: str, key: str | None = None, **fields: Any):
        super().__init__(message)
        self.key = key
        self.fields = fields


@dataclass(frozen=True)
class Voter:
    """Who cast a vote, as stored: salted hashes of the client address, the login name and the
    User-Agent; None where unknown."""

    address: str | None = None
    login: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class VoteLimits:
    """Checked in the vote's transaction: at most so many votes in the last hour per session, per
    client address and per login (None: no limit), and none sooner than `min_read_s` after the
    battle's last answers finished."""

    per_session: int | None = None
    per_address: int | None = None
    per_login: int | None = None
    min_read_s: float = 0.0


@dataclass(frozen=True)
class VoteRecord:
    """One stored vote with what the audit needs: its voter and the timing of its last turn."""

    battle_id: str
    mode: str
    model_a: str
    model_b: str
    winner: str
    tstamp: float
    session: str
    voter: Voter
    flags: tuple[str, ...]
    leaks: tuple[str, ...] | None
    started: float | None
    finished: float | None
    answer_chars: int
    excluded: tuple[str, ...]

    @property
    def chosen(self) -> str | None:
        """The model this vote preferred (None for a tie)."""
        return {"model_a": self.model_a, "model_b": self.model_b}.get(self.winner)


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


def _check_limits(c: sa.Connection, battle_id: str, session: str, voter: Voter, limits: VoteLimits,
                  now: float) -> None:
    if limits.min_read_s > 0:
        finished = c.execute(sa.select(sa.func.max(turns_table.c.finished))
                             .where(turns_table.c.battle_id == battle_id)).scalar()
        if finished is not None and now - finished < limits.min_read_s:
            wait = max(limits.min_read_s - (now - finished), 0.1)
            raise VoteRejected(f"please read both answers first: votes open {limits.min_read_s:g} s after the "
                               f"answers finish (another {wait:.1f} s)", "read_first", seconds=limits.min_read_s,
                               wait=round(wait, 1))
    for column, value, limit, who, key in (
            (votes_table.c.session, session, limits.per_session, "you have", "vote_limit"),
            (votes_table.c.address, voter.address, limits.per_address, "this network address has",
             "address_vote_limit"),
            (votes_table.c.login, voter.login, limits.per_login, "your account has", "user_vote_limit")):
        if value is None or limit is None:
            continue
        count = c.execute(sa.select(sa.func.count()).select_from(votes_table)
                          .where(column == value, votes_table.c.tstamp >= now - HOUR)).scalar_one()
        if count >= limit:
            raise VoteRejected(f"{who} reached the limit of {limit} votes per hour; please come back later", key,
                               limit=limit)


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
                self._add_missing_columns()
                return
            except (IntegrityError, ProgrammingError, OperationalError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _add_missing_columns(self) -> None:
        """A store made by an older jeval gains the columns added since (`ADDED_COLUMNS`; existing rows
        get NULL) and their indexes. A worker that loses a race to add one fails and tries again."""
        inspector = sa.inspect(self.engine)
        for name, columns in ADDED_COLUMNS.items():
            table = metadata.tables[name]
            present = {c["name"] for c in inspector.get_columns(name)}
            for column in columns:
                if column not in present:
                    ddl = CreateColumn(table.c[column]).compile(dialect=self.engine.dialect)
                    quoted = self.engine.dialect.identifier_preparer.format_table(table)
                    with self.engine.begin() as c:
                        c.execute(sa.text(f"ALTER TABLE {quoted} ADD COLUMN {ddl}"))
            for index in table.indexes:
                index.create(self.engine, checkfirst=True)

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

    def hash_value(self, kind: str, raw: str | None) -> str | None:
        """A client address, login or User-Agent as stored: a salted hash, the same for the same
        value in this store (so votes can be grouped), useless elsewhere."""
        if raw is None:
            return None
        return hashlib.sha256(f"{self._salt}:{kind}:{raw}".encode()).hexdigest()[:32]

    def voter(self, address: str | None, login: str | None, agent: str | None) -> Voter:
        return Voter(self.hash_value("address", address), self.hash_value("login", login),
                     self.hash_value("agent", agent))

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

    def record_vote(self, battle_id: str, session: str, winner: str, flags: list[str], *,
                    voter: Voter = Voter(), leaks: Sequence[str] | None = None,
                    limits: VoteLimits = VoteLimits()) -> float:
        """Store the vote of `session` on its ready battle, with its voter (hashed) and the names found
        in the battle (`leaks`), or raise VoteRejected and change nothing."""
        if winner not in WINNERS:
            raise VoteRejected(f"unknown vote {winner!r}")
        tstamp = time.time()
        with self.engine.begin() as c:
            if self.engine.dialect.name == "postgresql":
                c.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": VOTE_LOCK})
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
            _check_limits(c, battle_id, session, voter, limits, tstamp)
            try:
                c.execute(votes_table.insert().values(
                    battle_id=battle_id, winner=winner, tstamp=tstamp, session=session,
                    flags=json.dumps(sorted(set(flags))), address=voter.address, login=voter.login, agent=voter.agent,
                    leaks=None if leaks is None else json.dumps(list(leaks), ensure_ascii=False)))
            except IntegrityError:
                raise VoteRejected("this battle already has its vote") from None
        return tstamp

    def battle_status(self, battle_id: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(battles_table.c.status).where(battles_table.c.id == battle_id)).scalar()

    def count_votes(self) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(votes_table)).scalar_one()

    # --- the audit: votes with their voters, exclusions

    def vote_records(self) -> list[VoteRecord]:
        """Every vote (excluded ones too) with its voter and the timing and size of its last turn."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(battles_table.c.id, battles_table.c.mode, battles_table.c.model_a,
                                       battles_table.c.model_b, battles_table.c.flags, votes_table.c.winner,
                                       votes_table.c.tstamp, votes_table.c.session, votes_table.c.address,
                                       votes_table.c.login, votes_table.c.agent, votes_table.c.leaks,
                                       votes_table.c.flags.label("vote_flags"))
                             .join(votes_table, votes_table.c.battle_id == battles_table.c.id)
                             .order_by(votes_table.c.tstamp, battles_table.c.id)).all()
            last: dict[str, tuple[float, float, int]] = {}
            for t in c.execute(sa.select(turns_table.c.battle_id, turns_table.c.started, turns_table.c.finished,
                                         sa.func.length(turns_table.c.answer_a).label("chars_a"),
                                         sa.func.length(turns_table.c.answer_b).label("chars_b"))
                               .join(votes_table, votes_table.c.battle_id == turns_table.c.battle_id)
                               .order_by(turns_table.c.battle_id, turns_table.c.turn)):
                last[t.battle_id] = (t.started, t.finished, (t.chars_a or 0) + (t.chars_b or 0))
        excluded = self.exclusions()
        out = []
        for r in rows:
            started, finished, chars = last.get(r.id, (None, None, 0))
            out.append(VoteRecord(
                r.id, r.mode, r.model_a, r.model_b, r.winner, r.tstamp, r.session, Voter(r.address, r.login, r.agent),
                tuple(sorted(set(json.loads(r.flags)) | set(json.loads(r.vote_flags)))),
                None if r.leaks is None else tuple(json.loads(r.leaks)), started, finished, chars,
                tuple(sorted(rule for rule, _, _ in excluded.get(r.id, [])))))
        return out

    def exclude(self, entries: Iterable[tuple[str, str, str]]) -> int:
        """Record (vote's battle id, rule, reason) exclusions; one already recorded for the same vote
        and rule is kept as it is. Returns how many are new. Votes are never deleted."""
        wanted = {(battle_id, rule): reason for battle_id, rule, reason in entries}
        for attempt in range(3):
            try:
                with self.engine.begin() as c:
                    present = {(r.battle_id, r.rule) for r in c.execute(
                        sa.select(exclusions_table.c.battle_id, exclusions_table.c.rule))}
                    new = [{"battle_id": b, "rule": rule, "reason": reason, "created": time.time()}
                           for (b, rule), reason in wanted.items() if (b, rule) not in present]
                    if new:
                        c.execute(exclusions_table.insert(), new)
                return len(new)
            except IntegrityError:
                if attempt == 2:
                    raise
        return 0

    def exclusions(self) -> dict[str, list[tuple[str, str, float]]]:
        """Recorded exclusions by vote: [(rule, reason, time recorded)]."""
        out: dict[str, list[tuple[str, str, float]]] = {}
        with self.engine.connect() as c:
            for r in c.execute(sa.select(exclusions_table).order_by(exclusions_table.c.battle_id,
                                                                    exclusions_table.c.rule)):
                out.setdefault(r.battle_id, []).append((r.rule, r.reason, r.created))
        return out

    def count_exclusions(self) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(exclusions_table)).scalar_one()

    def export(self, conversations: bool = False, include_excluded: bool = False) -> list[dict]:
        """Voted battles as records with FastChat's field names, in vote order. Votes the audit
        excluded are left out, or with `include_excluded` kept and marked (`excluded`: their rules)."""
        excluded = self.exclusions()
        with self.engine.connect() as c:
            query = (sa.select(battles_table, votes_table.c.winner, votes_table.c.tstamp,
                               votes_table.c.flags.label("vote_flags"))
                     .join(votes_table, votes_table.c.battle_id == battles_table.c.id)
                     .order_by(votes_table.c.tstamp, battles_table.c.id))
            rows = c.execute(query if include_excluded else query.where(COUNTED)).all()
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
            if include_excluded:
                record["excluded"] = [rule for rule, _, _ in excluded.get(r.id, [])]
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

    # --- the leaderboard's stored summary, regenerating a turn, a shared battle (jeval.arena.board, service, app)

    def vote_outcomes(self) -> list[Battle]:
        """The voted battles as `battles()` gives them, without reading any conversation: what the
        ratings need (models, winner, time, anonymity, flags) in one query over battles and votes."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(battles_table.c.id, battles_table.c.mode, battles_table.c.model_a,
                                       battles_table.c.model_b, battles_table.c.flags, votes_table.c.winner,
                                       votes_table.c.tstamp, votes_table.c.flags.label("vote_flags"))
                             .join(votes_table, votes_table.c.battle_id == battles_table.c.id)
                             .where(COUNTED)
                             .order_by(votes_table.c.tstamp, battles_table.c.id)).all()
        return [Battle(r.model_a, r.model_b, r.winner, r.tstamp, anony=r.mode == "anony",
                       flags=tuple(sorted(set(json.loads(r.flags)) | set(json.loads(r.vote_flags)))),
                       question_id=r.id) for r in rows]

    def save_summary(self, key: str, value: str, votes: int) -> None:
        with self.engine.begin() as c:
            c.execute(summary_table.delete().where(summary_table.c.key == key))
            c.execute(summary_table.insert().values(key=key, value=value, computed=time.time(), votes=votes))

    def load_summary(self, key: str) -> tuple[str, float, int] | None:
        """(value, computed at, votes counted then), or None before the first save."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(summary_table.c.value, summary_table.c.computed, summary_table.c.votes)
                            .where(summary_table.c.key == key)).first()
        return (row.value, row.computed, row.votes) if row else None

    def drop_turn(self, battle_id: str, index: int) -> None:
        """Take back turn `index` (and any after it) of a battle not yet voted on, to ask it again;
        the battle is open (not votable) until the new turn is stored."""
        with self.engine.begin() as c:
            changed = c.execute(battles_table.update().where(battles_table.c.id == battle_id,
                                                             battles_table.c.status != "voted")
                                .values(status="open")).rowcount
            if changed != 1:
                raise VoteRejected("this battle already has its vote")
            c.execute(turns_table.delete().where(turns_table.c.battle_id == battle_id, turns_table.c.turn >= index))

    def shared_battle(self, battle_id: str) -> dict | None:
        """A voted battle's models, vote and turns (for a share link), or None."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(battles_table.c.model_a, battles_table.c.model_b, battles_table.c.mode,
                                      votes_table.c.winner)
                            .join(votes_table, votes_table.c.battle_id == battles_table.c.id)
                            .where(battles_table.c.id == battle_id)).first()
            if row is None:
                return None
            turns = c.execute(sa.select(turns_table.c.prompt, turns_table.c.answer_a, turns_table.c.answer_b)
                              .where(turns_table.c.battle_id == battle_id).order_by(turns_table.c.turn)).all()
        return {"model_a": row.model_a, "model_b": row.model_b, "anony": row.mode == "anony", "winner": row.winner,
                "prompts": [t.prompt for t in turns], "answers_a": [t.answer_a for t in turns],
                "answers_b": [t.answer_b for t in turns]}


summary_table = sa.Table(
    "arena_summary", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("computed", sa.Float, nullable=False),
    sa.Column("votes", sa.Integer, nullable=False),
)
