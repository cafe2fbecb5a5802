"""The leaderboard tab: ratings computed in the background and stored as one summary row, read by
the tab in one query; tables headed by model names; caveats for small samples and undefeated or
winless models; the prior that keeps a small arena's ratings finite and its intervals honest."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from arena_votes import fill

from jeval.arena.app import board_view
from jeval.arena.battles import Battle
from jeval.arena.board import BoardKeeper, compute_board
from jeval.arena.config import LeaderboardSettings, parse_config
from jeval.arena.ratings import RatingOptions, compute
from jeval.arena.store import VoteStore
from jeval.arena.texts import EN, JA

MODELS = ["hinoki-7b", "sakura-3b", "kaede-1b"]


def battles(*games: tuple[str, str, str]) -> list[Battle]:
    return [Battle(a, b, w, float(i)) for i, (a, b, w) in enumerate(games)]


def test_an_undefeated_model_in_a_small_arena_gets_a_finite_rating_and_an_honest_interval():
    four = battles(*[("hinoki-7b", "sakura-3b", "model_a")] * 4)
    board = compute_board(four, LeaderboardSettings(bootstrap=50), votes=4)
    top, bottom = board.rows
    assert (top.model, bottom.model) == ("hinoki-7b", "sakura-3b")
    assert 1050 < top.rating < 1250 and 750 < bottom.rating < 950
    assert top.upper - top.lower > 200, "four votes cannot pin a rating down"
    assert top.lower < 1000 < top.upper
    assert set(top.caveats) == {"few", "wide", "undefeated"} and set(bottom.caveats) == {"few", "wide", "winless"}
    # what the tab used to show: FastChat's tiny prior, bootstrap interval only
    old = compute(four, RatingOptions(bootstrap=50, prior=1e-6)).rows[0]
    assert old.rating > 2000 and old.upper - old.lower < 1e-6


def test_with_many_votes_the_prior_hardly_matters_and_no_caveat_is_left():
    settings = LeaderboardSettings(bootstrap=50, max_interval=200)
    store = VoteStore("sqlite://")
    fill(store, 3000, MODELS, answer_chars=10)
    board = compute_board(store.vote_outcomes(), settings, votes=3000)
    fastchat = {r.model: r for r in compute(store.battles(), RatingOptions(bootstrap=50, prior=1e-6)).rows}
    for row in board.rows:
        assert abs(row.rating - fastchat[row.model].rating) < 1.0
        assert row.lower <= fastchat[row.model].lower + 1 and row.upper >= fastchat[row.model].upper - 1
        assert row.caveats == ()
    assert [r.model for r in board.rows] == ["kaede-1b", "sakura-3b", "hinoki-7b"]


def test_the_tab_tables_are_headed_by_model_names_and_warn_in_the_arena_language():
    board = compute_board(battles(("hinoki-7b", "sakura-3b", "model_a"), ("hinoki-7b", "kaede-1b", "model_a"),
                                  ("sakura-3b", "kaede-1b", "tie")), LeaderboardSettings(bootstrap=20), votes=3)
    note, table, warnings, rates, counts = board_view(board, JA)
    assert list(table.columns) == list(JA.board_columns)
    assert list(rates.columns) == ["モデル", *board.models] and list(counts.columns) == ["モデル", *board.models]
    assert list(rates["モデル"]) == list(board.models)
    hinoki = list(board.models).index("hinoki-7b")
    assert rates.iloc[hinoki]["sakura-3b"] == 1.0 and counts.iloc[hinoki]["kaede-1b"] == 1
    assert "hinoki-7b（" in warnings and "無敗" in warnings and "バトル 30 件未満" in warnings
    assert "prior = 1" in note and "174" in note
    _, table_en, warnings_en, rates_en, _ = board_view(board, EN)
    assert list(table_en.columns)[:2] == ["rank", "model"] and "undefeated" in warnings_en
    assert list(rates_en.columns) == ["model", *board.models]
    assert board_view(None, JA)[0] == JA.board_loading


def test_the_stored_board_survives_a_round_trip():
    board = compute_board(battles(("hinoki-7b", "sakura-3b", "model_b")), LeaderboardSettings(bootstrap=5), votes=1)
    store = VoteStore("sqlite://")
    store.save_summary("leaderboard", board.to_json(), 1)
    assert BoardKeeper(store, board.settings).read() == board


@pytest.fixture
def store(tmp_path):
    s = VoteStore(f"sqlite:///{tmp_path / 'votes.sqlite'}")
    yield s
    s.close()


def statements_during(store: VoteStore, action) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    return seen


def test_opening_the_tab_reads_one_stored_row_and_no_conversation(store):
    fill(store, 500, MODELS, answer_chars=2000)
    keeper = BoardKeeper(store, LeaderboardSettings(bootstrap=10))
    assert keeper.read() is None
    assert keeper.refresh() is True
    seen = statements_during(store, keeper.read)
    assert len(seen) == 1 and "arena_summary" in seen[0]
    refreshing = statements_during(store, lambda: keeper.refresh(force=True))
    assert not any("arena_turns" in s for s in refreshing), "ratings need the votes, not the conversations"
    assert keeper.read().battles == 500


def test_the_board_is_recomputed_only_when_votes_come_in_or_are_excluded(store):
    fill(store, 50, MODELS, seed=1)
    keeper = BoardKeeper(store, LeaderboardSettings(bootstrap=5, refresh_s=1))
    assert keeper.refresh() is True
    time.sleep(0.6)
    assert keeper.refresh() is False
    fill(store, 10, MODELS, seed=2)
    assert keeper.refresh() is True and keeper.read().battles == 60
    time.sleep(0.6)
    store.exclude([("bench-2-0000000", "test", "excluded by a test")])
    assert keeper.refresh() is True and keeper.read().battles == 59
    assert BoardKeeper(store, LeaderboardSettings(bootstrap=6, refresh_s=1)).refresh() is True, \
        "new settings make a new board"


def test_the_refresher_thread_picks_up_new_votes_by_itself(store):
    keeper = BoardKeeper(store, LeaderboardSettings(bootstrap=5, refresh_s=1))
    keeper.start()
    try:
        deadline = time.monotonic() + 10
        while keeper.read() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert keeper.read().battles == 0
        fill(store, 20, MODELS, seed=3)
        while keeper.read().battles != 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert keeper.read().battles == 20
    finally:
        keeper.stop()


def test_leaderboard_settings_are_read_from_the_config():
    config = parse_config({"models": [{"name": "x", "base_url": "u", "model": "m"},
                                      {"name": "y", "base_url": "u", "model": "m"}],
                           "leaderboard": {"refresh_s": 30, "min_battles": 100, "max_interval": 50}})
    assert config.leaderboard == LeaderboardSettings(refresh_s=30, min_battles=100, max_interval=50)
    assert config.leaderboard.prior == 1.0


def test_the_board_command_stores_the_summary_for_the_tab(tmp_path):
    from conftest import jeval

    from jeval.arena.board import SUMMARY_KEY

    store = VoteStore(f"sqlite:///{tmp_path / 'votes.sqlite'}")
    fill(store, 40, MODELS, seed=4)
    store.close()
    config = tmp_path / "arena.yaml"
    config.write_text("store: sqlite:///votes.sqlite\nleaderboard: {bootstrap: 5}\nmodels:\n"
                      "- {name: hinoki-7b, base_url: http://127.0.0.1:9/v1, model: m}\n"
                      "- {name: sakura-3b, base_url: http://127.0.0.1:9/v1, model: m}\n")
    done = jeval("arena", "board", "--config", config)
    assert done.returncode == 0, done.stderr
    assert "40 counted battles of 40 votes, 3 models" in done.stderr
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.sqlite'}")
    assert store.load_summary(SUMMARY_KEY) is not None
    store.close()
    missing = jeval("arena", "board", "--config", tmp_path / "nope.yaml")
    assert missing.returncode == 2 and "arena config not found" in missing.stderr


def test_the_markdown_report_names_models_whose_place_is_not_settled():
    from jeval.arena.report import markdown

    report = compute(battles(*[("hinoki-7b", "sakura-3b", "model_a")] * 3), RatingOptions(bootstrap=5, prior=1.0))
    text = markdown(report)
    assert "Caveats: hinoki-7b: fewer than 30 battles, undefeated; sakura-3b: fewer than 30 battles, winless" in text
