"""`jeval arena audit`: its rules over stored votes, exclusions recorded (never deletions) and
left out of every rating, idempotent re-runs, and vote stores made before votes recorded their
clients."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from conftest import error_lines, jeval

from jeval.arena.audit import AuditRules, audit, binomial_tail, bursts, fast, one_model
from jeval.arena.identity import FLAG
from jeval.arena.store import Turn, Voter, VoteRecord, VoteStore
from jeval.errors import JevalError


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'votes.sqlite'}"
    return request.getfixturevalue("postgres").new_database()


def cast(store: VoteStore, battle_id: str, a: str, b: str, winner: str, address: str,
         leaks: list[str] | None = None) -> None:
    """A battle played and voted on from `address`, in a session of its own."""
    session = store.hash_session(f"session-{battle_id}")
    flags = [FLAG] if leaks else []
    store.create_battle(battle_id, "anony", a, b, session)
    store.add_turn(battle_id, 0, Turn("質問です", "一つ目の答え", "二つ目の答え"), 0.0, flags)
    store.record_vote(battle_id, session, winner, flags, voter=store.voter(address, None, "Mozilla/5.0"),
                      leaks=leaks or [])


HONEST = [("x", "y", "model_a"), ("y", "z", "model_a"), ("z", "x", "model_b"), ("x", "z", "tie"),
          ("y", "x", "model_b"), ("z", "y", "model_a"), ("x", "y", "model_b"), ("y", "z", "tie (bothbad)")]


def fill(url: str) -> None:
    """Honest votes from 24 addresses (one or two each), 15 votes for y from one address in a
    burst, and one honest vote whose battle named a model."""
    store = VoteStore(url)
    for i in range(24):
        a, b, winner = HONEST[i % len(HONEST)]
        cast(store, f"honest-{i:02d}", a, b, winner, f"198.51.100.{i % 20}")
    for i in range(15):
        a, b = ("y", "x") if i % 2 else ("x", "y")
        cast(store, f"stuffed-{i:02d}", a, b, "model_a" if a == "y" else "model_b", "203.0.113.7")
    cast(store, "named", "x", "z", "model_a", "192.0.2.50", leaks=["chatgpt"])
    store.close()


def run_audit(url: str, *extra: str):
    return jeval("arena", "audit", "--store", url, "--read-base-s", "0", *extra)


def test_audit_flags_the_stuffed_votes_and_exclude_keeps_them_out_of_the_ratings(store_url):
    fill(store_url)
    listed = run_audit(store_url)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if line.startswith("| ") and "vote |" not in line]
    assert len(rows) == 16
    assert all("burst, one_model" in row for row in rows if row.startswith("| stuffed"))
    assert "15 votes from one address within" in listed.stdout
    assert "15 of 15 votes from one address in battles with y went to it" in listed.stdout
    assert next(row for row in rows if row.startswith("| named")).count("names_model") == 1
    assert "names a model (chatgpt)" in listed.stdout
    assert "honest" not in listed.stdout
    store = VoteStore(store_url)
    assert store.count_exclusions() == 0

    excluded = json.loads(run_audit(store_url, "--exclude", "--json").stdout)
    assert excluded["counts"] == {"burst": 15, "one_model": 15, "fast": 0, "names_model": 1}
    assert excluded["exclusions"] == {"recorded_now": 30, "votes_excluded": 15, "rows": 30}
    stuffed = [r for r in excluded["flagged"] if r["vote"].startswith("stuffed")]
    assert len(stuffed) == 15 and all(r["excluded"] == ["burst", "one_model"] for r in stuffed)
    assert all(r["chosen"] == "y" and r["client"]["address"] == stuffed[0]["client"]["address"] for r in stuffed)
    assert "203.0.113.7" not in json.dumps(excluded)
    [named] = [r for r in excluded["flagged"] if r["vote"] == "named"]
    assert named["excluded"] == [] and named["findings"][0]["rule"] == "names_model"

    again = json.loads(run_audit(store_url, "--exclude", "--json").stdout)
    assert again["exclusions"] == {"recorded_now": 0, "votes_excluded": 15, "rows": 30}
    assert again["flagged"] == excluded["flagged"]

    assert store.count_votes() == 40
    assert {b.question_id for b in store.battles()} == {f"honest-{i:02d}" for i in range(24)} | {"named"}
    after = json.loads(jeval("arena", "ratings", "--battles", store_url, "--format", "json").stdout)
    assert after["battles"] == 24
    assert {m["model"]: m["battles"] for m in after["models"]} == {"x": 15, "y": 18, "z": 15}
    exported = store.export()
    assert len(exported) == 25 and not any(r["question_id"].startswith("stuffed") for r in exported)
    everything = [json.loads(line) for line in
                  jeval("arena", "export", "--store", store_url, "--include-excluded").stdout.splitlines()]
    assert len(everything) == 40
    assert {r["question_id"]: r["excluded"] for r in everything}["stuffed-03"] == ["burst", "one_model"]
    store.close()


def test_the_audit_table_names_each_flagged_vote_and_the_totals(tmp_path):
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    fill(url)
    out = run_audit(url, "--rule", "names_model").stdout
    assert out.splitlines()[0] == "| vote | time (UTC) | client | user | voted for | rules | excluded | reasons |"
    assert "| named | " in out and "| x | names_model | - |" in out
    assert "40 votes audited, 1 flagged (burst 0, one_model 0, fast 0, names_model 1)" in out
    assert "No suspicious votes among 40." in run_audit(url, "--rule", "fast").stdout


def test_audit_mistakes_are_one_line_errors(tmp_path):
    proc = jeval("arena", "audit", "--store", f"sqlite:///{tmp_path / 'v.sqlite'}", "--burst-votes", "1")
    assert proc.returncode == 2 and error_lines(proc) == ["jeval: error: --burst-votes must be at least 2, got 1"]
    proc = jeval("arena", "audit")
    assert proc.returncode == 2 and "--store URL or --config" in proc.stderr


@pytest.mark.parametrize("rules, message", [
    (AuditRules(alpha=2.0), "--alpha must be between 0 and 1"),
    (AuditRules(min_votes=0), "--min-votes must be at least 1"),
    (AuditRules(burst_window_s=0), "--burst-window-s and --read-chars-per-s must be above 0"),
    (AuditRules(rules=("burst", "nope")), "unknown audit rule"),
])
def test_bad_audit_settings_are_refused(rules, message):
    with pytest.raises(JevalError, match=message):
        rules.check()


# --- the rules on their own -----------------------------------------------------------------

def record(i: int, tstamp: float, winner: str = "model_a", address: str | None = "addr", a: str = "x",
           b: str = "y", started: float | None = None, finished: float | None = None, chars: int = 0,
           session: str = "s") -> VoteRecord:
    return VoteRecord(f"v{i:03d}", "anony", a, b, winner, tstamp, session, Voter(address, None, None), (), [],
                      started if started is not None else tstamp - 100, finished if finished is not None
                      else tstamp - 50, chars, ())


def test_a_burst_is_many_votes_from_one_client_in_one_window():
    rules = AuditRules(burst_votes=4, burst_window_s=60)
    spread = [record(i, 1000.0 + 61 * i) for i in range(10)]
    assert bursts(spread, rules) == []
    dense = [record(i, 1000.0 + 10 * i) for i in range(4)] + [record(9, 5000.0)]
    assert [f.battle_id for f in bursts(dense, rules)] == ["v000", "v001", "v002", "v003"]
    many_clients = [record(i, 1000.0 + i, address=f"a{i}") for i in range(10)]
    assert bursts(many_clients, rules) == []
    old_votes = [record(i, 1000.0 + i, address=None, session="one") for i in range(4)]
    assert "4 votes from one session within 3 s" in bursts(old_votes, rules)[0].reason


def test_one_model_compares_a_clients_votes_with_everybody_elses():
    rules = AuditRules(min_votes=10, alpha=0.001)
    others = [record(100 + i, float(i), "model_a" if i % 2 else "model_b", address=f"o{i}") for i in range(40)]
    fan = [record(i, 500.0 + i, "model_a" if i % 2 else "model_b", a="x" if i % 2 else "y",
                  b="y" if i % 2 else "x", address="fan") for i in range(12)]
    found = one_model(others + fan, rules)
    assert {f.battle_id for f in found} == {v.battle_id for v in fan}
    assert found[0].reason.startswith("12 of 12 votes from one address in battles with x went to it (other votes: 50%")
    assert one_model(others + fan[:9], rules) == []
    # a strong model that most voters prefer: a heavy voter who agrees with them is not flagged
    strong = [record(200 + i, float(i), "model_a" if i % 5 else "model_b", address=f"p{i}") for i in range(100)]
    fan_of_strong = [record(300 + i, 900.0 + i, "model_a" if i % 6 else "model_b", address="heavy") for i in range(18)]
    assert one_model(strong + fan_of_strong, rules) == []


def test_fast_votes_are_sooner_than_reading_the_answers_allows():
    rules = AuditRules(read_base_s=2.0, read_chars_per_s=30.0)
    votes = [record(0, 100.0, started=90.0, finished=99.5, chars=60),     # 0.5 s after the answers
             record(1, 100.0, started=97.0, finished=97.5, chars=300),    # 3 s after the prompt, 300 characters
             record(2, 100.0, started=80.0, finished=97.0, chars=300),    # read while streaming
             record(3, 100.0, started=None, finished=None)]
    votes[3] = VoteRecord("v003", "anony", "x", "y", "tie", 100.0, "s", Voter(), (), None, None, None, 0, ())
    assert [(f.battle_id, f.reason) for f in fast(votes, rules)] == [
        ("v000", "voted 0.5 s after the answers finished (at least 2 s)"),
        ("v001", "voted 3.0 s after the prompt; reading 300 characters takes 12.0 s")]


def test_binomial_tail():
    assert binomial_tail(0, 5, 0.5) == 1.0
    assert binomial_tail(5, 5, 0.5) == pytest.approx(1 / 32)
    assert binomial_tail(3, 4, 0.5) == pytest.approx(5 / 16)
    assert binomial_tail(1000, 1000, 0.5) == pytest.approx(0.5 ** 1000, rel=1e-9)


def test_findings_come_in_vote_order_then_rule_order():
    votes = [record(i, 1000.0 + i, finished=1000.0 + i) for i in range(10)]
    found = audit(votes, AuditRules(burst_votes=10, min_votes=10))
    assert [(f.battle_id, f.rule) for f in found][:3] == [("v000", "burst"), ("v000", "one_model"), ("v000", "fast")]


# --- stores made before votes recorded their clients ----------------------------------------------

OLD_SCHEMA = [
    "CREATE TABLE arena_meta (key VARCHAR(64) NOT NULL PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE arena_battles (id VARCHAR(64) NOT NULL PRIMARY KEY, mode VARCHAR(16) NOT NULL, "
    "model_a VARCHAR(200) NOT NULL, model_b VARCHAR(200) NOT NULL, session VARCHAR(64) NOT NULL, "
    "created FLOAT NOT NULL, status VARCHAR(16) NOT NULL, flags TEXT NOT NULL)",
    "CREATE INDEX ix_arena_battles_session ON arena_battles (session)",
    "CREATE TABLE arena_turns (battle_id VARCHAR(64) NOT NULL REFERENCES arena_battles (id), turn INTEGER NOT NULL, "
    "prompt TEXT NOT NULL, answer_a TEXT NOT NULL, answer_b TEXT NOT NULL, error_a TEXT, error_b TEXT, "
    "started FLOAT NOT NULL, finished FLOAT NOT NULL, PRIMARY KEY (battle_id, turn))",
    "CREATE TABLE arena_votes (battle_id VARCHAR(64) NOT NULL PRIMARY KEY REFERENCES arena_battles (id), "
    "winner VARCHAR(16) NOT NULL, tstamp FLOAT NOT NULL, session VARCHAR(64) NOT NULL, flags TEXT NOT NULL)",
    "CREATE INDEX ix_arena_votes_session ON arena_votes (session)",
    "INSERT INTO arena_meta VALUES ('session_salt', 'old-salt')",
    "INSERT INTO arena_battles VALUES ('old-1', 'anony', 'x', 'y', 'sess', 1.0, 'voted', '[]')",
    "INSERT INTO arena_turns VALUES ('old-1', 0, 'q', 'a', 'b', NULL, NULL, 1.0, 2.0)",
    "INSERT INTO arena_votes VALUES ('old-1', 'model_a', 30.0, 'sess', '[]')",
    "INSERT INTO arena_battles VALUES ('old-2', 'anony', 'y', 'x', 'sess', 40.0, 'ready', '[]')",
    "INSERT INTO arena_turns VALUES ('old-2', 0, 'q', 'a', 'b', NULL, NULL, 40.0, 41.0)",
]


def test_a_store_made_by_the_old_schema_gains_the_new_columns_and_keeps_its_votes(store_url):
    engine = sa.create_engine(store_url)
    with engine.begin() as c:
        for statement in OLD_SCHEMA:
            c.execute(sa.text(statement))
    engine.dispose()

    store = VoteStore(store_url)
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("arena_votes")}
    assert {"address", "login", "agent", "leaks"} <= columns
    assert "arena_exclusions" in sa.inspect(store.engine).get_table_names()
    assert {i["name"] for i in sa.inspect(store.engine).get_indexes("arena_votes")} >= {
        "ix_arena_votes_session", "ix_arena_votes_address", "ix_arena_votes_login"}
    [old] = store.vote_records()
    assert (old.battle_id, old.winner, old.voter, old.leaks, old.finished) == ("old-1", "model_a", Voter(), None, 2.0)
    assert store.hash_session("sess") == VoteStore(store_url).hash_session("sess")

    store.record_vote("old-2", "sess", "model_b", [], voter=store.voter("192.0.2.1", "alice", "UA"), leaks=[])
    records = {r.battle_id: r for r in store.vote_records()}
    assert records["old-2"].voter.address == store.hash_value("address", "192.0.2.1")
    assert records["old-1"].voter == Voter()
    assert [b.winner for b in store.battles()] == ["model_a", "model_b"]
    assert store.exclude([("old-1", "burst", "test")]) == 1
    assert [b.question_id for b in store.battles()] == ["old-2"]
    store.close()
    reopened = VoteStore(store_url)
    assert reopened.count_votes() == 2 and reopened.count_exclusions() == 1
    reopened.close()


def test_workers_opening_an_old_store_at_once_migrate_it_once(store_url):
    engine = sa.create_engine(store_url)
    with engine.begin() as c:
        for statement in OLD_SCHEMA:
            c.execute(sa.text(statement))
    engine.dispose()
    barrier = threading.Barrier(6)
    opened: list[VoteStore] = []
    failures: list[str] = []

    def open_store() -> None:
        barrier.wait()
        try:
            opened.append(VoteStore(store_url))
        except Exception as e:  # every failure is reported below
            failures.append(f"{type(e).__name__}: {e}")

    threads = [threading.Thread(target=open_store) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [] and len(opened) == 6
    assert {s.hash_session("sess") for s in opened} == {opened[0].hash_session("sess")}
    assert [r.battle_id for r in opened[0].vote_records()] == ["old-1"]
    for s in opened:
        s.close()
