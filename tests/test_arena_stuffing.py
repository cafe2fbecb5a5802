"""Ballot stuffing: which client a vote comes from (trusted proxies only), the vote limits per
session, address and user and the reading time, counted in the vote's transaction, and the
attack the issue found, replayed against the real app with its default configuration."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from arena_support import start_arena, write_config
from conftest import jeval

from jeval.arena.battles import Battle, select
from jeval.arena.clients import ClientInfo, TrustedProxies, client_address, client_info, parse_address
from jeval.arena.config import Proxies, parse_config
from jeval.arena.ratings import ModelRow, RatingOptions, compute
from jeval.arena.store import Turn, VoteLimits, VoteRejected, VoteStore
from jeval.errors import JevalError

# --- the client's address ---------------------------------------------------------------------

PROXIES = TrustedProxies(["10.0.0.0/8", "127.0.0.1", "2001:db8:ffff::/48"])


@pytest.mark.parametrize("peer, forwarded, address", [
    # a peer that is not a trusted proxy is the client, whatever it claims
    ("203.0.113.5", ["6.6.6.6"], "203.0.113.5"),
    ("203.0.113.5", [], "203.0.113.5"),
    # a trusted proxy: the right-most entry it did not append itself is the client
    ("10.0.0.1", ["203.0.113.9"], "203.0.113.9"),
    ("10.0.0.1", ["6.6.6.6, 7.7.7.7, 203.0.113.9"], "203.0.113.9"),
    ("10.0.0.1", ["6.6.6.6, 203.0.113.9, 10.0.0.2"], "203.0.113.9"),
    ("10.0.0.1", ["6.6.6.6", "203.0.113.9"], "203.0.113.9"),
    ("127.0.0.1", ["203.0.113.9:5123"], "203.0.113.9"),
    ("10.0.0.1", ["[2001:db8:1:2::7]:443"], "2001:db8:1:2::/64"),
    # only proxies in the chain: the left-most one; no header: the proxy itself
    ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
    ("10.0.0.1", [], "10.0.0.1"),
    # an entry that is not an address ends the walk at the proxy that passed it on
    ("10.0.0.1", ["203.0.113.9, not-an-address"], "10.0.0.1"),
    ("10.0.0.1", ["203.0.113.9, not-an-address, 10.0.0.2"], "10.0.0.2"),
    # IPv6 clients count by their /64; IPv4-mapped addresses as IPv4
    ("2001:db8:1:2::7", [], "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", ["6.6.6.6"], "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.5", [], "203.0.113.5"),
    (None, ["203.0.113.9"], None),
])
def test_x_forwarded_for_is_believed_only_through_trusted_proxies(peer, forwarded, address):
    assert client_address(peer, forwarded, PROXIES) == address


def test_parse_address_takes_ports_and_brackets_off():
    assert str(parse_address("[::1]:80")) == "::1"
    assert str(parse_address(" 192.0.2.1:8080 ")) == "192.0.2.1"
    assert parse_address("unix:/tmp/socket") is None and parse_address("") is None


def test_the_user_header_counts_only_from_a_trusted_proxy_and_a_login_wins():
    proxies = Proxies(("10.0.0.0/8",), "X-Forwarded-User")
    headers = {"X-Forwarded-User": "alice", "X-Forwarded-For": "203.0.113.9", "User-Agent": "Mozilla/5.0"}
    assert client_info("10.0.0.1", headers, None, proxies) == ClientInfo("203.0.113.9", "alice", "Mozilla/5.0")
    assert client_info("203.0.113.5", headers, None, proxies) == ClientInfo("203.0.113.5", None, "Mozilla/5.0")
    assert client_info("10.0.0.1", headers, "bob", proxies).user == "bob"
    assert client_info("10.0.0.1", headers, None, Proxies(("10.0.0.0/8",))).user is None


@pytest.mark.parametrize("proxies, message", [
    ({"trusted": ["10.0.0.0/33"]}, "is not an IP address or network"),
    ({"trusted": "10.0.0.1"}, "proxies.trusted: expected a list"),
    ({"user_header": "X-Forwarded-User"}, "needs `trusted` proxies"),
    ({"trusted": ["10.0.0.1"], "users": "x"}, "unknown key"),
])
def test_proxy_settings_mistakes_are_one_line_errors(proxies, message):
    raw = {"models": [{"name": "x", "base_url": "u", "model": "m"}, {"name": "y", "base_url": "u", "model": "m"}],
           "proxies": proxies}
    with pytest.raises(JevalError, match=message):
        parse_config(raw, "arena.yaml")


def test_default_limits_stop_one_client_from_voting_like_a_crowd():
    limits = parse_config({"models": [{"name": "x", "base_url": "u", "model": "m"},
                                      {"name": "y", "base_url": "u", "model": "m"}]}).limits
    assert limits.votes_per_address_per_hour == 20 and limits.min_read_s == 2.0
    assert limits.votes_per_user_per_hour == 60 and limits.votes_per_session_per_hour == 60


# --- limits, counted in the vote's transaction -----------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'votes.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres").new_database())
    opened = VoteStore(url)
    yield opened
    opened.close()


def ready(store: VoteStore, battle_id: str, session: str) -> str:
    store.create_battle(battle_id, "anony", "x", "y", session)
    store.add_turn(battle_id, 0, Turn("q", "a", "b"), time.time(), [])
    return battle_id


def test_each_limit_refuses_with_its_own_message_and_loses_nothing(store):
    home, office = store.voter("192.0.2.1", None, "UA"), store.voter("192.0.2.2", "alice", "UA")
    limits = VoteLimits(per_session=5, per_address=2, per_login=1)
    for i in range(2):
        store.record_vote(ready(store, f"h{i}", f"s{i}"), f"s{i}", "model_a", [], voter=home, limits=limits)
    with pytest.raises(VoteRejected, match="this network address has reached the limit of 2 votes per hour"):
        store.record_vote(ready(store, "h2", "s2"), "s2", "model_a", [], voter=home, limits=limits)
    assert store.battle_status("h2") == "ready" and store.count_votes() == 2
    store.record_vote("h2", "s2", "model_a", [], voter=office, limits=limits)
    with pytest.raises(VoteRejected, match="your account has reached the limit of 1 votes per hour") as refused:
        store.record_vote(ready(store, "o1", "s3"), "s3", "tie", [], voter=store.voter("192.0.2.3", "alice", None),
                          limits=limits)
    assert (refused.value.key, refused.value.fields) == ("user_vote_limit", {"limit": 1})
    single = VoteLimits(per_session=1)
    with pytest.raises(VoteRejected, match="you have reached the limit of 1 votes per hour"):
        store.record_vote(ready(store, "s0-2", "s0"), "s0", "tie", [], voter=store.voter("192.0.2.9", None, None),
                          limits=single)
    assert store.count_votes() == 3


def test_a_vote_before_the_answers_can_have_been_read_waits(store):
    ready(store, "b1", "s1")
    limits = VoteLimits(min_read_s=0.6)
    with pytest.raises(VoteRejected, match=r"please read both answers first: votes open 0.6 s after the answers "
                                           r"finish \(another 0\.[1-6] s\)") as refused:
        store.record_vote("b1", "s1", "model_a", [], limits=limits)
    assert refused.value.key == "read_first"
    assert store.battle_status("b1") == "ready"
    time.sleep(0.65)
    store.record_vote("b1", "s1", "model_a", [], limits=limits)
    assert store.count_votes() == 1


def test_concurrent_votes_from_one_address_pass_its_limit_only_up_to_it(store):
    """Eight fresh sessions from one address vote at the same moment; the limit is 3."""
    voter = store.voter("198.51.100.1", None, None)
    for i in range(8):
        ready(store, f"b{i}", f"s{i}")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def vote(i: int) -> None:
        barrier.wait()
        try:
            store.record_vote(f"b{i}", f"s{i}", "model_a", [], voter=voter, limits=VoteLimits(per_address=3))
            outcomes.append("accepted")
        except VoteRejected as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("accepted") == 3
    assert all("limit of 3 votes per hour" in o for o in outcomes if o != "accepted")
    assert store.count_votes() == 3


# --- the attack, against the real app and its default limits ------------------------------

TARGET, OTHER = "sakura-3b", "hinoki-7b"
STRENGTH = {"hinoki-7b": 1100.0, "matsu-13b": 1050.0, "sakura-3b": 980.0, "kaede-1b": 900.0}


def seed_honest_votes(url: str, per_pair: int = 30) -> None:
    """Earlier votes of many people (two each, from their own addresses), drawn from fixed strengths."""
    rng = random.Random(0)
    store = VoteStore(url)
    names = list(STRENGTH)
    votes = []
    n = 0
    for _ in range(per_pair):
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if rng.random() < 0.5:
                    a, b = b, a
                p_a = 1 / (1 + 10 ** ((STRENGTH[b] - STRENGTH[a]) / 400))
                winner = "tie" if rng.random() < 0.1 else "model_a" if rng.random() < p_a else "model_b"
                session = store.hash_session(f"honest-{n}")
                store.create_battle(f"honest-{n:03d}", "anony", a, b, session)
                store.add_turn(f"honest-{n:03d}", 0, Turn("質問", "答え", "答え"), time.time() - 60, [])
                votes.append((f"honest-{n:03d}", session, winner, store.voter(f"198.51.100.{n // 2}", None, "UA")))
                n += 1
    time.sleep(2.0)
    for battle_id, session, winner, voter in votes:
        store.record_vote(battle_id, session, winner, [], voter=voter)
    store.close()


def last_answer(pane: list[dict]) -> str:
    """The text of a pane's last message (Gradio sends a message's content as a list of parts)."""
    content = pane[-1]["content"] if pane else ""
    return "".join(part.get("text", "") for part in content) if isinstance(content, list) else str(content)


def stuff(url: str, sessions: int) -> list[tuple[str, str]]:
    """The issue's script: fresh sessions from one machine, each claiming another address in
    X-Forwarded-For, recognise the target by its answer (the shorter one) and vote for it at once,
    and again once the reading time has passed. Returns the statuses shown after both tries."""
    from gradio_client import Client

    def one(i: int) -> tuple[str, str]:
        client = Client(url, verbose=False, headers={"X-Forwarded-For": f"198.18.{i}.1"},
                        httpx_kwargs={"timeout": 300}, analytics_enabled=False)
        client.predict(api_name="/accept_terms")
        out = client.predict(f"質問 {i}: 日本の山について", api_name="/battle_send")
        vote = "/battle_vote_a" if len(last_answer(out[0])) < len(last_answer(out[1])) else "/battle_vote_b"
        at_once = client.predict(api_name=vote)[0]
        time.sleep(2.2)
        return at_once, client.predict(api_name=vote)[0]

    with ThreadPoolExecutor(10) as pool:
        return list(pool.map(one, range(sessions)))


def target_row(battles: list) -> ModelRow:
    return {r.model: r for r in compute(battles, RatingOptions(bootstrap=100, seed=0)).rows}[TARGET]


def test_thirty_fresh_sessions_from_one_client_do_not_move_the_target(served, tmp_path, capsys):
    """Two arena models on one real `transformers serve` of the tiny checkpoint; the target answers
    in 3 tokens, the other in 12, which is how the script tells them apart."""
    models = [{"name": name, "base_url": served.base_url, "model": served.model_id,
               "params": {"max_tokens": 3 if name == TARGET else 12, "temperature": 0.0}} for name in (OTHER, TARGET)]
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    seed_honest_votes(url)
    store = VoteStore(url)
    honest = select(store.battles())
    before = target_row(honest)
    config = write_config(tmp_path / "arena.yaml", models, url, deployed_limits=True)
    arena = start_arena(config, tmp_path / "arena.log")
    try:
        t0 = time.perf_counter()
        statuses = stuff(arena.url, 30)
        attack_s = time.perf_counter() - t0
    finally:
        arena.close()

    attack = [r for r in store.vote_records() if not r.battle_id.startswith("honest")]
    assert len(attack) == 20, statuses
    assert {r.chosen for r in attack} == {TARGET}
    assert len({r.voter.address for r in attack}) == 1
    assert attack[0].voter.address == store.hash_value("address", "127.0.0.1")
    assert all(r.tstamp - r.finished >= 2.0 for r in attack)
    refused = [s for s in statuses if "20" in s[1]]
    assert len(refused) == 10
    assert all(first for first, _ in statuses)

    audited = jeval("arena", "audit", "--store", url, "--exclude", "--json")
    assert audited.returncode == 0, audited.stderr
    report = json.loads(audited.stdout)
    flagged = {r["vote"]: r for r in report["flagged"]}
    assert {r.battle_id for r in attack} <= set(flagged)
    assert all({"burst", "one_model"} <= set(flagged[r.battle_id]["excluded"]) for r in attack)
    assert not any(v.startswith("honest") for v in flagged)

    after = target_row(select(store.battles()))
    undefended = target_row(honest + [Battle(TARGET, OTHER, "model_a", time.time() + i) for i in range(30)])
    only_limited = target_row(select(store.battles()) + [Battle(r.model_a, r.model_b, r.winner, r.tstamp)
                                                         for r in attack])
    half_width = (before.upper - before.lower) / 2
    with capsys.disabled():
        print(f"\nstuffing: 30 sessions in {attack_s:.1f} s; {len(attack)} votes accepted, {len(refused)} refused "
              f"by the address limit; {TARGET} {before.rating:.1f} [{before.lower:.1f}, {before.upper:.1f}] -> "
              f"{after.rating:.1f} after audit --exclude; {only_limited.rating:.1f} with the limits alone; "
              f"{undefended.rating:.1f} with all 30 votes counted")
    assert abs(after.rating - before.rating) < half_width
    assert undefended.rating - before.rating > half_width
    store.close()
