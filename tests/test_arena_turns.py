"""A battle's turns against endpoints that misbehave on purpose (a loopback server speaking the
OpenAI streaming API, tests/arena_endpoints.py; `transformers serve` cannot be made to ignore
max_tokens or to write thinking blocks): the answer cap, thinking blocks, regenerate, a dead model
taken out of the draw with the prompt sent again, moderation, and the new configuration."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from arena_endpoints import THINKING_SECRET, ScriptedEndpoints, dead_url

from jeval.arena.app import panes
from jeval.arena.config import parse_config
from jeval.arena.render import Renderer
from jeval.arena.service import ArenaService, UserError
from jeval.arena.store import VoteStore
from jeval.arena.texts import EN, JA, texts_for, translate
from jeval.errors import JevalError


@pytest.fixture(scope="module")
def scripted():
    server = ScriptedEndpoints()
    yield server
    server.close()


def arena(tmp_path, models: list[dict], **extra) -> ArenaService:
    raw = {"models": models, "store": f"sqlite:///{tmp_path / 'votes.sqlite'}",
           "limits": {"request_timeout_s": 10, "min_read_s": 0}, **extra}
    config = parse_config(raw)
    return ArenaService(config, VoteStore(config.store), random.Random(0))


def collect(service: ArenaService, updates) -> list:
    async def run():
        try:
            return [p async for p in updates]
        finally:
            await service.aclose()
    return asyncio.run(run())


def turns_stored(service: ArenaService, battle_id: str) -> int:
    import sqlalchemy as sa

    from jeval.arena.store import turns_table

    with service.store.engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(turns_table)
                         .where(turns_table.c.battle_id == battle_id)).scalar_one()


# --- the answer cap ---------------------------------------------------------------------------------

def test_an_endpoint_that_never_stops_is_cut_at_the_cap_and_the_battle_notes_it(scripted, tmp_path):
    service = arena(tmp_path, [scripted.model("short", "echo"),
                               scripted.model("endless", "endless", max_answer_chars=3000)])
    session = service.session_key("s")
    state = service.new_battle(session, ("short", "endless"))
    started = time.monotonic()
    updates = collect(service, service.play(session, state, "こんにちは"))
    assert time.monotonic() - started < 10
    last = updates[-1]
    assert last.done and not (last.failed_a or last.failed_b)
    assert len(last.answer_b) == 3000 and last.truncated_b and not last.truncated_a
    assert last.answer_a == "こんにちは"
    assert state.truncated_b == [True] and state.truncated_a == [False]
    pane_a, pane_b = panes(Renderer(), JA, state)
    cut_note = Renderer().html(JA.truncated_pane)
    assert pane_b[-1]["content"].endswith(cut_note) and cut_note not in pane_a[-1]["content"]
    deadline = time.monotonic() + 5
    while not scripted.stats.endless_closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert scripted.stats.endless_closed, "the arena must hang up on an answer past its cap"
    service.vote(state, session, "model_a")
    [row] = service.store.export(conversations=True)
    assert len(row["conversation_b"][1]["content"]) == 3000


def test_the_default_cap_is_twenty_thousand_characters():
    config = parse_config({"models": [{"name": "x", "base_url": "u", "model": "m"},
                                      {"name": "y", "base_url": "u", "model": "m", "max_answer_chars": 50}]})
    assert [m.max_answer_chars for m in config.models] == [20_000, 50]


# --- thinking blocks --------------------------------------------------------------------------------

def test_thinking_blocks_are_left_out_of_panes_store_and_history_when_configured(scripted, tmp_path):
    service = arena(tmp_path, [scripted.model("thinker", "think", thinking=True),
                               scripted.model("plain", "think")])
    session = service.session_key("s")
    state = service.new_battle(session, ("thinker", "plain"))
    updates = collect(service, service.play(session, state, "質問です"))
    assert all(THINKING_SECRET not in p.answer_a for p in updates)
    assert any(p.thinking_a for p in updates), "while the block streams, the pane says the model is thinking"
    assert updates[-1].answer_a == "質問です" and not updates[-1].thinking_a
    assert THINKING_SECRET in updates[-1].answer_b, "a model without `thinking` is shown as it answers"
    collect(service, service.play(session, state, "続き"))
    history = [r for r in scripted.stats.requests if r["path"].startswith("/think/")][-2]
    assert all(THINKING_SECRET not in m["content"] for m in history["messages"])
    service.vote(state, session, "tie")
    [row] = service.store.export(conversations=True)
    assert THINKING_SECRET not in row["conversation_a"][1]["content"]


@pytest.mark.parametrize("value, message", [
    ({"start": "<t>", "end": "<t>"}, "two different"),
    ({"begin": "<t>"}, "unknown key"),
    ("yes", "expected a mapping"),
])
def test_thinking_settings_are_checked(value, message):
    with pytest.raises(JevalError, match=message):
        parse_config({"models": [{"name": "x", "base_url": "u", "model": "m", "thinking": value},
                                 {"name": "y", "base_url": "u", "model": "m"}]})


# --- regenerate -------------------------------------------------------------------------------------

def test_regenerate_asks_the_same_pair_again_and_replaces_the_stored_turn(scripted, tmp_path):
    service = arena(tmp_path, [scripted.model("one", "echo"), scripted.model("two", "echo"),
                               scripted.model("three", "echo")])
    session = service.session_key("s")
    with pytest.raises(UserError, match="nothing to regenerate"):
        collect(service, service.regenerate(None))
    state = service.new_battle(session)
    pair = (state.model_a, state.model_b)
    collect(service, service.play(session, state, "一つ目"))
    collect(service, service.play(session, state, "二つ目"))
    asked = len(scripted.stats.requests)
    updates = collect(service, service.regenerate(state))
    assert updates[-1].done and updates[-1].answer_a == "二つ目"
    assert (state.model_a, state.model_b) == pair
    assert len(scripted.stats.requests) == asked + 2
    assert state.prompts == ["一つ目", "二つ目"] and len(state.answers_a) == 2
    assert turns_stored(service, state.battle_id) == 2
    assert service.store.battle_status(state.battle_id) == "ready"
    service.vote(state, session, "model_b")
    with pytest.raises(UserError, match="nothing to regenerate"):
        collect(service, service.regenerate(state))
    [row] = service.store.export()
    assert row["turn"] == 2 and row["winner"] == "model_b"


def test_a_battle_being_regenerated_cannot_be_voted_on(scripted, tmp_path):
    service = arena(tmp_path, [scripted.model("one", "echo"), scripted.model("two", "echo")])
    session = service.session_key("s")
    state = service.new_battle(session)
    collect(service, service.play(session, state, "質問"))

    async def vote_midway():
        updates = service.regenerate(state)
        await updates.__anext__()
        with pytest.raises(UserError, match="wait until both answers"):
            service.vote(state, session, "model_a")
        assert service.store.battle_status(state.battle_id) == "open"
        async for _ in updates:
            pass
        await service.aclose()

    asyncio.run(vote_midway())
    assert service.vote(state, session, "model_a").winner == "model_a"


# --- a model that is down ------------------------------------------------------------------------

def test_a_dead_model_leaves_the_draw_and_the_prompt_goes_to_a_new_pair(scripted, tmp_path):
    models = [scripted.model("good-1", "echo"), scripted.model("good-2", "echo"),
              {**scripted.model("dead", "echo"), "base_url": dead_url(), "weight": 1000}]
    service = arena(tmp_path, models, health={"cooldown_s": 300, "retries": 2})
    session = service.session_key("s")
    updates = collect(service, service.play(session, None, "消えない質問"))
    last = updates[-1]
    assert last.done and not (last.failed_a or last.failed_b) and last.retried
    state = last.state
    assert {state.model_a, state.model_b} == {"good-1", "good-2"}
    assert state.prompts == ["消えない質問"] and last.answer_a == "消えない質問"
    assert service.health() == {"good-1": "up", "good-2": "up", "dead": "down"}
    assert all("dead" not in (b := service.new_battle(session)).model_a + b.model_b for _ in range(30))
    assert service.vote(state, session, "model_a").winner == "model_a"
    rows = service.store.export()
    assert [(r["model_a"], r["model_b"]) for r in rows] == [(state.model_a, state.model_b)]


def test_with_too_few_live_models_the_person_is_told_and_nothing_is_lost(scripted, tmp_path):
    models = [scripted.model("good", "echo"), {**scripted.model("dead", "echo"), "base_url": dead_url()}]
    service = arena(tmp_path, models, health={"cooldown_s": 300})
    session = service.session_key("s")
    last = collect(service, service.play(session, None, "質問"))[-1]
    assert last.done and (last.failed_a or last.failed_b) and not last.retried
    with pytest.raises(UserError, match="not enough models") as refused:
        service.new_battle(session)
    assert refused.value.shown(JA) == JA.not_enough_models
    service.outages.answered("dead")
    battle = service.new_battle(session)
    assert {battle.model_a, battle.model_b} == {"good", "dead"}


def test_side_by_side_battles_are_not_redrawn(scripted, tmp_path):
    models = [scripted.model("good", "echo"), {**scripted.model("dead", "echo"), "base_url": dead_url()},
              scripted.model("other", "echo")]
    service = arena(tmp_path, models)
    session = service.session_key("s")
    state = service.new_battle(session, ("good", "dead"))
    last = collect(service, service.play(session, state, "質問"))[-1]
    assert last.failed_b and not last.retried and last.state is state and state.status == "failed"


# --- moderation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("moderation", ["endpoint", "callable"])
def test_moderation_refuses_a_flagged_prompt_before_any_model_sees_it(scripted, tmp_path, moderation):
    setting = ({"url": scripted.url("moderation"), "model": "omni-moderation-latest"} if moderation == "endpoint"
               else {"callable": "arena_endpoints:refuse_forbidden"})
    service = arena(tmp_path, [scripted.model("one", "echo"), scripted.model("two", "echo")], moderation=setting)
    session = service.session_key("s")
    asked = len([r for r in scripted.stats.requests if r["path"].endswith("/chat/completions")])
    with pytest.raises(UserError, match="cannot be sent") as refused:
        collect(service, service.play(session, None, "これは FORBIDDEN な質問"))
    assert refused.value.shown(JA) == JA.moderation_blocked
    assert len([r for r in scripted.stats.requests if r["path"].endswith("/chat/completions")]) == asked
    assert service.store.export() == []
    last = collect(service, service.play(session, None, "普通の質問"))[-1]
    assert last.done and last.answer_a == "普通の質問"
    if moderation == "endpoint":
        checked = [r for r in scripted.stats.requests if r["path"].endswith("/moderations")]
        assert checked[-1]["input"] == "普通の質問" and checked[-1]["model"] == "omni-moderation-latest"


@pytest.mark.parametrize("setting", [{"url": "broken"}, {"callable": "arena_endpoints:broken_check"},
                                     {"url": "dead"}])
def test_moderation_that_cannot_check_refuses_rather_than_letting_prompts_through(scripted, tmp_path, setting):
    if setting.get("url") == "broken":
        setting = {"url": scripted.url("broken")}
    elif setting.get("url") == "dead":
        setting = {"url": dead_url(), "timeout_s": 2}
    service = arena(tmp_path, [scripted.model("one", "echo"), scripted.model("two", "echo")], moderation=setting)
    with pytest.raises(UserError, match="cannot be checked"):
        collect(service, service.play(service.session_key("s"), None, "質問"))


@pytest.mark.parametrize("setting, message", [
    ({}, "exactly one of"),
    ({"url": "http://x/v1", "callable": "a:b"}, "exactly one of"),
    ({"callable": "no_colon"}, "package.module:function"),
    ({"url": "http://x/v1", "colour": "red"}, "unknown key"),
])
def test_moderation_settings_are_checked(setting, message):
    with pytest.raises(JevalError, match=message):
        parse_config({"models": [{"name": "x", "base_url": "u", "model": "m"},
                                 {"name": "y", "base_url": "u", "model": "m"}], "moderation": setting})


def test_a_moderation_callable_that_does_not_exist_fails_at_start(tmp_path):
    with pytest.raises(JevalError, match="has no function 'nothing'"):
        arena(tmp_path, [{"name": "x", "base_url": "u", "model": "m"}, {"name": "y", "base_url": "u", "model": "m"}],
              moderation={"callable": "arena_endpoints:nothing"})


# --- language -------------------------------------------------------------------------------------

def test_the_interface_is_japanese_by_default_and_english_on_request():
    base = {"models": [{"name": "x", "base_url": "u", "model": "m"}, {"name": "y", "base_url": "u", "model": "m"}]}
    assert parse_config(base).ui.language == "ja"
    assert parse_config({**base, "ui": {"language": "en"}}).ui.language == "en"
    with pytest.raises(JevalError, match=r"ui\.language must be ja or en"):
        parse_config({**base, "ui": {"language": "fr"}})
    assert texts_for("ja") is JA and texts_for("en") is EN


def test_every_sentence_exists_in_both_languages_with_the_same_placeholders():
    import re
    from dataclasses import fields

    for f in fields(JA):
        ja, en = getattr(JA, f.name), getattr(EN, f.name)
        assert type(ja) is type(en) and ja and en, f.name
        if isinstance(ja, str):
            assert set(re.findall(r"\{(\w+)", ja)) == set(re.findall(r"\{(\w+)", en)), f.name


def test_english_messages_raised_without_a_key_are_shown_in_the_arena_language():
    assert translate("this battle already has your vote; start a new round", JA) == JA.already_voted
    assert translate("you have reached the limit of 60 votes per hour; please come back later", JA) == \
        JA.vote_limit.format(limit="60")
    assert translate("an unknown sentence", JA) == "an unknown sentence"
    error = UserError.of("prompt_too_long", length=5000, limit=4000)
    assert str(error) == "the prompt has 5000 characters; the limit is 4000"
    assert error.shown(JA) == "質問が 5,000 文字あります。上限は 4,000 文字です。"
