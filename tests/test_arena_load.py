"""A bounded load test on loopback: concurrent sessions play blind battles against the real app
and two real endpoints and vote; no vote is lost, none is counted twice."""

from __future__ import annotations

import collections

import pytest
from arena_support import run_load, start_arena, start_endpoints, write_config

from jeval.arena.store import VoteStore

SESSIONS = 12
BATTLES = 2


@pytest.fixture(scope="module")
def arena(tiny_checkpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("arena-load")
    endpoints = start_endpoints(tiny_checkpoint, root)
    store = f"sqlite:///{root / 'votes.sqlite'}"
    config = write_config(root / "arena.yaml", endpoints.models(max_tokens=8), store,
                          limits={"concurrency": 32}, leaderboard={"bootstrap": 10}, ui={"language": "en"})
    app = start_arena(config, root / "arena.log")
    yield app, store
    app.close()
    endpoints.close()


def test_concurrent_sessions_lose_no_vote_and_count_none_twice(arena, capsys):
    app, store_url = arena
    result = run_load(app.url, SESSIONS, BATTLES, deadline_s=240)
    with capsys.disabled():
        print(f"\narena load: {result.summary()}")
    assert result.errors == []
    assert result.accepted == SESSIONS * BATTLES
    assert result.rejected_duplicates == SESSIONS * (BATTLES - 1)
    assert result.race_winners == SESSIONS

    store = VoteStore(store_url)
    rows = store.export()
    store.close()
    assert len(rows) == result.accepted
    assert len({r["question_id"] for r in rows}) == len(rows)
    per_session = collections.Counter(r["judge"] for r in rows)
    assert sorted(per_session.values()) == [BATTLES] * SESSIONS
