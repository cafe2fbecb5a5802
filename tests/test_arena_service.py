"""The arena's rules without the pages: config, pair drawing, identity flags, safe rendering, the
vote store's one-vote rule, limits, and battles against real `transformers serve` endpoints
(including one that fails)."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections import Counter

import pytest
from arena_support import NAMES, start_endpoints

from jeval.arena.battles import select
from jeval.arena.clients import ClientInfo
from jeval.arena.config import load_config, parse_config
from jeval.arena.identity import IdentityDetector
from jeval.arena.render import Renderer
from jeval.arena.sampling import draw_pair
from jeval.arena.service import ArenaService, UserError
from jeval.arena.store import Turn, Voter, VoteRejected, VoteStore
from jeval.errors import JevalError


def minimal(**extra) -> dict:
    return {"models": [{"name": "x", "base_url": "http://127.0.0.1:1/v1", "model": "m1"},
                       {"name": "y", "base_url": "http://127.0.0.1:2/v1", "model": "org/m2"}], **extra}


# --- configuration -------------------------------------------------------------------------

def test_config_defaults_and_values():
    config = parse_config(minimal(limits={"max_turns": 2}, leaderboard={"bootstrap": 10}))
    assert [m.name for m in config.models] == ["x", "y"]
    assert config.models[0].params["max_tokens"] == 512
    assert config.limits.max_turns == 2 and config.limits.max_prompt_chars == 4000
    assert config.leaderboard.bootstrap == 10
    assert config.store == "sqlite:///arena.sqlite"


@pytest.mark.parametrize("raw, message", [
    ({"models": [{"name": "x", "base_url": "u", "model": "m"}]}, "at least two models"),
    (minimal(colour="red"), "unknown key"),
    ({"models": [{"name": "x", "base_url": "u", "model": "m"}, {"name": "x", "base_url": "u", "model": "m"}]},
     "repeated: x"),
    ({"models": [{"name": "x", "base_url": "u"}, {"name": "y", "base_url": "u", "model": "m"}]},
     r"models\[0\]: `model` is required"),
    ({"models": [{"name": "x", "base_url": "u", "model": "m", "weight": 0},
                 {"name": "y", "base_url": "u", "model": "m"}]}, "weight: must be above 0"),
    ({"models": [{"name": "x", "base_url": "u", "model": "m", "params": {"beam": 4}},
                 {"name": "y", "base_url": "u", "model": "m"}]}, "unknown key"),
    (minimal(limits={"max_turns": 0}), "max_turns: must be at least 1"),
    (minimal(limits={"max_turns": "many"}), "max_turns: expected an integer"),
])
def test_config_mistakes_are_one_line_errors(raw, message):
    with pytest.raises(JevalError, match=message):
        parse_config(raw, "arena.yaml")


def test_config_file_errors_and_relative_store(tmp_path):
    with pytest.raises(JevalError, match="arena config not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [\n")
    with pytest.raises(JevalError, match="not valid YAML"):
        load_config(bad)
    good = tmp_path / "arena.yaml"
    good.write_text("store: sqlite:///votes.sqlite\nmodels:\n- {name: x, base_url: u, model: m}\n"
                    "- {name: y, base_url: u, model: m}\n")
    assert load_config(good).store == f"sqlite:///{tmp_path / 'votes.sqlite'}"


def test_api_key_comes_from_the_environment(monkeypatch):
    raw = minimal()
    raw["models"][0]["api_key_env"] = "ARENA_TEST_KEY"
    model = parse_config(raw).models[0]
    monkeypatch.delenv("ARENA_TEST_KEY", raising=False)
    with pytest.raises(JevalError, match="ARENA_TEST_KEY"):
        model.api_key()
    monkeypatch.setenv("ARENA_TEST_KEY", "sk-test")
    assert model.api_key() == "sk-test"


# --- pair drawing ---------------------------------------------------------------------------

def test_pairs_follow_the_product_of_weights_and_sides_are_random():
    rng = random.Random(0)
    names, weights = ["a", "b", "c"], [2.0, 1.0, 1.0]
    draws = [draw_pair(names, weights, rng) for _ in range(12000)]
    pairs = Counter(frozenset(d) for d in draws)
    # products: ab 2, ac 2, bc 1 -> 0.4, 0.4, 0.2
    assert pairs[frozenset("ab")] / 12000 == pytest.approx(0.4, abs=0.02)
    assert pairs[frozenset("bc")] / 12000 == pytest.approx(0.2, abs=0.02)
    first = Counter(d[0] for d in draws if set(d) == {"a", "b"})
    assert first["a"] / sum(first.values()) == pytest.approx(0.5, abs=0.03)
    assert all(x != y for x, y in draws)


# --- identity flags and rendering --------------------------------------------------------------

@pytest.mark.parametrize("text, found", [
    ("ChatGPTより賢いですか？", True),
    ("あなたはクロードですか", True),
    ("グーグルのモデル？", False),
    ("ＧＰＴ－４と比べて", True),
    ("通義千問について", True),
    ("hinoki-7bさんこんにちは", True),
    ("ドラマのおすすめは？", False),
    ("メタデータの説明", False),
    ("googled the answer", False),
    ("日本で一番高い山は？", False),
])
def test_identity_detector_english_katakana_kanji_and_width(text, found):
    detector = IdentityDetector.build(["hinoki-7b", "sakura-3b"])
    assert bool(detector.find([text])) is found


# --- the vote store -------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Makes URLs of new, empty vote stores: SQLite files, or databases on a real PostgreSQL server."""
    made: list[str] = []

    def make() -> str:
        made.append(f"sqlite:///{tmp_path / f'votes{len(made)}.sqlite'}" if request.param == "sqlite"
                    else request.getfixturevalue("postgres").new_database())
        return made[-1]

    return make


@pytest.fixture
def open_store(store_url):
    opened: list[VoteStore] = []

    def open_(url: str | None = None) -> VoteStore:
        opened.append(VoteStore(url or store_url()))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store):
    return open_store()


def ready_battle(store: VoteStore, session: str, battle_id: str = "b1") -> str:
    store.create_battle(battle_id, "anony", "x", "y", session)
    store.add_turn(battle_id, 0, Turn("q", "a", "b"), 0.0, [])
    return battle_id


def test_sessions_are_stored_hashed_with_a_salt(store, open_store):
    key = store.hash_session("raw-session")
    assert key != "raw-session" and len(key) == 32
    assert key == store.hash_session("raw-session")
    assert open_store().hash_session("raw-session") != key
    assert open_store(store.url).hash_session("raw-session") == key


def test_workers_opening_a_new_store_at_once_share_one_schema_and_one_salt(store_url, open_store):
    """Several app workers started together on an empty database: none fails, all hash alike."""
    url = store_url()
    barrier = threading.Barrier(8)
    hashes: list[str] = []

    def open_and_hash():
        barrier.wait()
        hashes.append(open_store(url).hash_session("raw-session"))

    threads = [threading.Thread(target=open_and_hash) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(hashes) == 8 and len(set(hashes)) == 1


def test_one_vote_per_battle_only_from_its_session_only_when_ready(store):
    store.create_battle("open", "anony", "x", "y", "s1")
    with pytest.raises(VoteRejected, match="not finished"):
        store.record_vote("open", "s1", "model_a", [])
    ready_battle(store, "s1")
    with pytest.raises(VoteRejected, match="does not belong to this session"):
        store.record_vote("b1", "s2", "model_a", [])
    store.record_vote("b1", "s1", "model_b", [])
    with pytest.raises(VoteRejected, match="already has its vote"):
        store.record_vote("b1", "s1", "model_a", [])
    store.create_battle("bad", "anony", "x", "y", "s1")
    store.add_turn("bad", 0, Turn("q", "", "b", error_a="connection refused"), 0.0, [])
    with pytest.raises(VoteRejected, match="not counted"):
        store.record_vote("bad", "s1", "tie", [])
    assert [(b["question_id"], b["winner"]) for b in store.export()] == [("b1", "model_b")]


def test_concurrent_votes_on_one_battle_count_once(store):
    ready_battle(store, "s1")
    results: list[str] = []
    barrier = threading.Barrier(8)

    def vote(winner):
        barrier.wait()
        try:
            store.record_vote("b1", "s1", winner, [])
            results.append("accepted")
        except VoteRejected:
            results.append("rejected")

    threads = [threading.Thread(target=vote, args=(w,)) for w in ["model_a", "model_b"] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["accepted"] + ["rejected"] * 7
    assert store.count_votes() == 1


def test_export_carries_fastchat_fields_and_style_metadata(store):
    store.create_battle("b1", "side_by_side", "x", "y", "s1")
    store.add_turn("b1", 0, Turn("q1", "# Title\n- one\n- two", "**bold** answer"), 0.0, [])
    store.add_turn("b1", 1, Turn("q2", "1. first", "plain"), 0.0, ["names_model"])
    store.record_vote("b1", "s1", "tie (bothbad)", ["names_model"])
    [row] = store.export(conversations=True)
    assert {k: row[k] for k in ("model_a", "model_b", "winner", "turn", "anony", "flags", "source")} == {
        "model_a": "x", "model_b": "y", "winner": "tie (bothbad)", "turn": 2, "anony": False,
        "flags": ["names_model"], "source": "arena"}
    meta = row["conv_metadata"]
    assert meta["header_count_a"]["h1"] == 1 and meta["list_count_a"] == {"ordered": 1, "unordered": 2}
    assert meta["bold_count_b"]["**"] == 1 and meta["sum_assistant_b_chars"] == len("**bold** answer") + len("plain")
    assert row["conversation_a"][2] == {"role": "user", "content": "q2"}
    assert row["judge"] == "arena_user_s1"
    assert select(store.battles()) == []


def test_an_unreachable_store_url_is_a_one_line_error(tmp_path):
    with pytest.raises(JevalError, match="vote store"):
        VoteStore(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.sqlite'}")
    with pytest.raises(JevalError, match="vote store"):
        VoteStore("nosuchdialect://host/db")


# --- battles against real endpoints ----------------------------------------------------------

@pytest.fixture(scope="module")
def endpoints(tiny_checkpoint, tmp_path_factory):
    e = start_endpoints(tiny_checkpoint, tmp_path_factory.mktemp("arena-service"))
    yield e
    e.close()


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def service_for(endpoints, tmp_path, models=None, **limits) -> ArenaService:
    raw = {"models": models or endpoints.models(max_tokens=8), "store": f"sqlite:///{tmp_path / 'votes.sqlite'}",
           "limits": {"request_timeout_s": 20, "min_read_s": 0, **limits}}
    config = parse_config(raw)
    return ArenaService(config, VoteStore(config.store), random.Random(0))


async def play(service: ArenaService, state, prompt: str):
    updates = [p async for p in service.run_turn(state, prompt)]
    await service.aclose()
    return updates


def test_a_battle_streams_both_models_and_takes_one_vote(endpoints, tmp_path):
    service = service_for(endpoints, tmp_path, votes_per_session_per_hour=2)
    session = service.session_key("browser-1")
    state = service.new_battle(session)
    assert {state.model_a, state.model_b} == set(NAMES)
    with pytest.raises(UserError, match=r"no battle|wait"):
        service.vote(state, session, "model_a")
    updates = asyncio.run(play(service, state, "こんにちは"))
    assert updates[-1].done and not (updates[-1].failed_a or updates[-1].failed_b)
    assert updates[-1].answer_a and updates[-1].answer_b
    assert len(updates) > 3
    reveal = service.vote(state, session, "tie")
    assert (reveal.model_a, reveal.model_b, reveal.flagged) == (state.model_a, state.model_b, False)
    with pytest.raises(UserError, match="already has your vote"):
        service.vote(state, session, "model_a")
    with pytest.raises(UserError, match="battle is over"):
        service.check_prompt(state, "more")

    second = service.new_battle(session)
    asyncio.run(play(service, second, "もう一度"))
    service.vote(second, session, "model_a")
    third = service.new_battle(session)
    asyncio.run(play(service, third, "三回目"))
    with pytest.raises(UserError, match="limit of 2 votes per hour"):
        service.vote(third, session, "model_b")
    assert service.store.count_votes() == 2


def test_prompt_and_turn_limits(endpoints, tmp_path):
    service = service_for(endpoints, tmp_path, max_prompt_chars=10, max_turns=1)
    with pytest.raises(UserError, match="has 11 characters; the limit is 10"):
        service.check_prompt(None, "x" * 11)
    with pytest.raises(UserError, match="write a prompt"):
        service.check_prompt(None, "   ")
    state = service.new_battle(service.session_key("s"))
    asyncio.run(play(service, state, "短い"))
    with pytest.raises(UserError, match="reached its 1 turns"):
        service.check_prompt(state, "続けて")


def test_a_battle_that_names_a_model_is_stored_but_flagged(endpoints, tmp_path):
    models = endpoints.models(max_tokens=8)
    models[0]["leak_words"] = ["檜研究所"]
    service = service_for(endpoints, tmp_path, models=models)
    session = service.session_key("s")
    state = service.new_battle(session)
    asyncio.run(play(service, state, "あなたはChatGPTですか？それとも檜研究所のモデル？"))
    assert service.vote(state, session, "model_a").flagged
    [row] = service.store.export()
    assert row["flags"] == ["names_model"]
    assert select(service.store.battles()) == []
    [record] = service.store.vote_records()
    assert record.leaks == ("chatgpt", "檜研究所")


def test_a_vote_stores_its_client_hashed(endpoints, tmp_path):
    service = service_for(endpoints, tmp_path)
    session = service.session_key("browser-1")
    state = service.new_battle(session)
    asyncio.run(play(service, state, "こんにちは"))
    service.vote(state, session, "tie", ClientInfo("203.0.113.5", "alice", "Mozilla/5.0"))
    [record] = service.store.vote_records()
    assert record.voter == Voter(service.store.hash_value("address", "203.0.113.5"),
                                 service.store.hash_value("login", "alice"),
                                 service.store.hash_value("agent", "Mozilla/5.0"))
    assert record.leaks == () and record.session == session
    stored = "".join(str(v) for v in record.voter.__dict__.values())
    assert "203.0.113.5" not in stored and "alice" not in stored


def test_votes_over_a_limit_are_refused_with_a_message_and_the_battle_stays_votable(endpoints, tmp_path):
    service = service_for(endpoints, tmp_path, min_read_s=1.0, votes_per_address_per_hour=1)
    home = ClientInfo("192.0.2.1", None, "UA")
    session = service.session_key("browser-1")
    first = service.new_battle(session)
    asyncio.run(play(service, first, "一つ目"))
    with pytest.raises(UserError, match="please read both answers first: votes open 1 s after the answers finish"):
        service.vote(first, session, "model_a", home)
    assert first.status == "ready" and service.store.count_votes() == 0
    time.sleep(1.0)
    service.vote(first, session, "model_a", home)
    other = service.session_key("browser-2")
    second = service.new_battle(other)
    asyncio.run(play(service, second, "二つ目"))
    time.sleep(1.0)
    with pytest.raises(UserError, match="this network address has reached the limit of 1 votes per hour"):
        service.vote(second, other, "model_b", home)
    assert second.status == "ready" and service.store.battle_status(second.battle_id) == "ready"
    service.vote(second, other, "model_b", ClientInfo("192.0.2.2", None, "UA"))
    assert service.store.count_votes() == 2


def test_a_failing_endpoint_shows_in_its_pane_and_the_battle_is_not_counted(endpoints, tmp_path):
    models = endpoints.models(max_tokens=8)
    models[1]["base_url"] = dead_url()
    service = service_for(endpoints, tmp_path, models=models)
    session = service.session_key("s")
    state = service.new_battle(session, (NAMES[0], NAMES[1]))
    last = asyncio.run(play(service, state, "こんにちは"))[-1]
    assert last.done and last.failed_b and not last.failed_a and last.answer_a
    from jeval.arena.app import panes

    pane_a, pane_b = panes(Renderer(), service.texts, state)
    failed_note = Renderer().html(service.texts.failed_pane)
    assert failed_note in pane_b[-1]["content"] and failed_note not in pane_a[-1]["content"]
    assert "127.0.0.1" not in pane_b[-1]["content"]
    with pytest.raises(UserError, match="not counted"):
        service.vote(state, session, "model_a")
    assert service.store.battle_status(state.battle_id) == "failed"
    assert service.store.export() == []


def test_optional_login_reads_user_password_pairs_from_the_environment(monkeypatch):
    assert parse_config(minimal()).logins() is None
    config = parse_config(minimal(login_env="ARENA_TEST_USERS"))
    monkeypatch.setenv("ARENA_TEST_USERS", "alice:pw1, bob:p:w2")
    assert config.logins() == [("alice", "pw1"), ("bob", "p:w2")]
    monkeypatch.setenv("ARENA_TEST_USERS", "alice")
    with pytest.raises(JevalError, match="ARENA_TEST_USERS must hold user:password pairs"):
        config.logins()
