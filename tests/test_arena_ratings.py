"""Ratings: Elo, Bradley-Terry, bootstrap intervals and matrices, against hand-computed cases."""

from __future__ import annotations

import json
import math
import random
import time

import numpy as np
import pytest

from jeval.arena.battles import (
    MAX_WEIGHT,
    Battle,
    Selection,
    read_battles_jsonl,
    select,
    usable,
    write_battles_jsonl,
)
from jeval.arena.ratings import (
    EXACT_REPEATS,
    Cells,
    Leaderboard,
    RatingOptions,
    battle_count_matrix,
    bootstrap,
    bradley_terry,
    compute,
    elo_online,
    fit_bt,
    leaderboard,
    online_elo,
    predicted_matrix,
    predicted_win_rates,
    rank_by_intervals,
    ranks,
    repeated_update,
    to_rating,
    win_rate_matrix,
)
from jeval.errors import JevalError


def battles_of(*spec: tuple[str, str, str, int]) -> list[Battle]:
    """(model_a, model_b, winner, count) -> that many battles, tstamps in order."""
    out = []
    for a, b, winner, count in spec:
        out += [Battle(a, b, winner, tstamp=len(out) + i) for i in range(count)]
    return out


def ratings(report) -> dict[str, float]:
    return {r.model: r.rating for r in report.rows}


def test_two_models_three_wins_to_one_differ_by_400_log10_3():
    report = compute(battles_of(("x", "y", "model_a", 3), ("x", "y", "model_b", 1)),
                     RatingOptions(bootstrap=0, prior=0))
    r = ratings(report)
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert r["x"] + r["y"] == pytest.approx(2000, abs=1e-6)


def test_a_tie_is_half_a_win_each_way():
    with_tie = compute(battles_of(("x", "y", "model_a", 1), ("x", "y", "tie", 1)), RatingOptions(bootstrap=0, prior=0))
    both_bad = compute(battles_of(("x", "y", "model_a", 1), ("x", "y", "tie (bothbad)", 1)),
                       RatingOptions(bootstrap=0, prior=0))
    assert ratings(with_tie)["x"] - ratings(with_tie)["y"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert ratings(both_bad) == pytest.approx(ratings(with_tie))


def test_a_battle_of_weight_three_counts_as_three_battles():
    weighted = [Battle("x", "y", "model_a", weight=3), Battle("x", "y", "model_b")]
    plain = battles_of(("x", "y", "model_a", 3), ("x", "y", "model_b", 1))
    options = RatingOptions(bootstrap=0)
    assert ratings(compute(weighted, options)) == pytest.approx(ratings(compute(plain, options)))
    assert elo_online(weighted) == pytest.approx(elo_online(plain))
    assert compute(weighted, options).rows[0].battles == 4


def test_a_cycle_of_single_wins_rates_everyone_equal():
    report = compute(battles_of(("x", "y", "model_a", 1), ("y", "z", "model_a", 1), ("z", "x", "model_a", 1)),
                     RatingOptions(bootstrap=0))
    assert list(ratings(report).values()) == pytest.approx([1000, 1000, 1000], abs=1e-6)


def test_online_elo_by_hand():
    # first battle: both expected 0.5, x wins: x 1002, y 998.
    # second battle: y wins; y expected 1 / (1 + 10^(4/400)).
    e_y = 1 / (1 + 10 ** (4 / 400))
    elo = elo_online(battles_of(("x", "y", "model_a", 1), ("x", "y", "model_b", 1)))
    assert elo["x"] == pytest.approx(1002 - 4 * (1 - e_y))
    assert elo["y"] == pytest.approx(998 + 4 * (1 - e_y))


def test_online_elo_follows_time_order_not_file_order():
    late_win = [Battle("x", "y", "model_a", tstamp=2.0), Battle("x", "y", "model_b", tstamp=1.0)]
    in_order = [Battle("x", "y", "model_b", tstamp=1.0), Battle("x", "y", "model_a", tstamp=2.0)]
    assert elo_online(late_win) == pytest.approx(elo_online(in_order))
    assert elo_online(late_win)["x"] > 1000


def test_a_model_with_only_wins_gets_a_finite_rating_from_the_prior():
    data = battles_of(("x", "y", "model_a", 5), ("y", "z", "model_a", 3), ("z", "y", "model_a", 1))
    weak = ratings(compute(data, RatingOptions(bootstrap=0, prior=1e-6)))
    strong = ratings(compute(data, RatingOptions(bootstrap=0, prior=1.0)))
    assert all(math.isfinite(v) for v in [*weak.values(), *strong.values()])
    assert weak["x"] > strong["x"] > strong["y"] > strong["z"]


def test_relabelling_models_relabels_the_ratings():
    rng = random.Random(1)
    names = ["m0", "m1", "m2", "m3"]
    data = [Battle(*rng.sample(names, 2), rng.choice(["model_a", "model_b", "tie"]), tstamp=i) for i in range(300)]
    rename = {"m0": "zeta", "m1": "alpha", "m2": "mu", "m3": "beta"}
    renamed = [Battle(rename[b.model_a], rename[b.model_b], b.winner, tstamp=b.tstamp) for b in data]
    first, second = compute(data, RatingOptions(bootstrap=0)), compute(renamed, RatingOptions(bootstrap=0))
    assert {rename[k]: v for k, v in ratings(first).items()} == pytest.approx(ratings(second))
    assert {rename[r.model]: r.elo for r in first.rows} == pytest.approx({r.model: r.elo for r in second.rows})


def test_swapping_sides_with_inverted_outcomes_changes_nothing():
    rng = random.Random(2)
    names = ["a", "b", "c"]
    data = [Battle(*rng.sample(names, 2), rng.choice(["model_a", "model_b", "tie", "tie (bothbad)"]), tstamp=i)
            for i in range(200)]
    invert = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}
    swapped = [Battle(b.model_b, b.model_a, invert[b.winner], tstamp=b.tstamp) for b in data]
    first, second = compute(data, RatingOptions(bootstrap=0)), compute(swapped, RatingOptions(bootstrap=0))
    assert ratings(first) == pytest.approx(ratings(second))
    assert [r.elo for r in first.rows] == pytest.approx([r.elo for r in second.rows])
    np.testing.assert_allclose(first.win_rates, second.win_rates)
    np.testing.assert_array_equal(first.battle_counts, second.battle_counts)


def test_bradley_terry_equals_fastchats_logistic_regression():
    sklearn = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(3)
    strength = rng.normal(size=6)
    data = []
    for t in range(3000):
        i, j = rng.choice(6, 2, replace=False)
        p = 1 / (1 + np.exp(-(strength[i] - strength[j])))
        u = rng.random()
        winner = "tie" if u < 0.1 else ("model_a" if u < 0.1 + 0.9 * p else "model_b")
        data.append(Battle(f"m{i}", f"m{j}", winner, tstamp=t))
    cells = Cells.of(data)
    wins = cells.win_matrix()
    x, y, w = [], [], []
    for i in range(6):
        for j in range(6):
            if i != j:
                row = np.zeros(6)
                row[i], row[j] = math.log(10), -math.log(10)
                x += [row, row]
                y += [1, 0]
                w += [wins[i, j], wins[j, i]]
    lr = sklearn.LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=10000)
    lr.fit(np.array(x), np.array(y), sample_weight=np.array(w))
    expected = 400 * lr.coef_[0] + 1000
    np.testing.assert_allclose(to_rating(fit_bt(wins)), expected, atol=1e-3)


def test_batched_fit_equals_one_fit_per_round():
    rng = np.random.default_rng(4)
    wins = rng.integers(0, 20, size=(5, 4, 4)).astype(float)
    for r in range(5):
        np.fill_diagonal(wins[r], 0)
    batched = fit_bt(wins, prior=0.01)
    for r in range(5):
        np.testing.assert_allclose(batched[r], fit_bt(wins[r], prior=0.01), atol=1e-8)


def test_bootstrap_is_seeded_and_brackets_the_rating():
    rng = random.Random(5)
    data = [Battle(*rng.sample(["a", "b", "c"], 2), rng.choice(["model_a", "model_b"]), tstamp=i) for i in range(500)]
    one = compute(data, RatingOptions(bootstrap=200, seed=7))
    two = compute(data, RatingOptions(bootstrap=200, seed=7))
    other = compute(data, RatingOptions(bootstrap=200, seed=8))
    assert [(r.lower, r.upper) for r in one.rows] == [(r.lower, r.upper) for r in two.rows]
    assert [(r.lower, r.upper) for r in one.rows] != [(r.lower, r.upper) for r in other.rows]
    assert all(r.lower < r.rating < r.upper for r in one.rows)


def test_bootstrap_intervals_match_resampling_battles_one_by_one():
    rng = random.Random(6)
    strength = {"a": 0.6, "b": 0.0, "c": -0.4}
    data = []
    for i in range(600):
        x, y = rng.sample(list(strength), 2)
        win = rng.random() < 1 / (1 + math.exp(strength[y] - strength[x]))
        data.append(Battle(x, y, "model_a" if win else "model_b", tstamp=i))
    report = compute(data, RatingOptions(bootstrap=1000, seed=0, prior=0))
    by_battle = np.random.default_rng(1)
    samples = []
    for _ in range(400):
        resampled = [data[k] for k in by_battle.integers(0, len(data), len(data))]
        samples.append(ratings(compute(resampled, RatingOptions(bootstrap=0, prior=0))))
    for row in report.rows:
        values = np.array([s[row.model] for s in samples])
        width = np.quantile(values, 0.975) - np.quantile(values, 0.025)
        assert row.upper - row.lower == pytest.approx(width, rel=0.15)


def test_rank_counts_models_whose_lower_bound_is_above_the_upper_bound():
    lower = np.array([1100.0, 1050.0, 1040.0, 900.0])
    upper = np.array([1200.0, 1090.0, 1120.0, 1060.0])
    assert rank_by_intervals(lower, upper).tolist() == [1, 2, 1, 2]


def test_win_rate_and_count_matrices_by_hand():
    data = battles_of(("x", "y", "model_a", 3), ("y", "x", "model_a", 1), ("x", "y", "tie", 2),
                      ("y", "z", "model_b", 2))
    report = compute(data, RatingOptions(bootstrap=0, prior=0.1))
    i = {m: k for k, m in enumerate(report.models)}
    assert report.battle_counts[i["x"], i["y"]] == report.battle_counts[i["y"], i["x"]] == 6
    assert report.battle_counts[i["y"], i["z"]] == 2
    assert report.battle_counts[i["x"], i["z"]] == 0
    assert report.win_rates[i["x"], i["y"]] == pytest.approx(0.75)
    assert report.win_rates[i["y"], i["x"]] == pytest.approx(0.25)
    assert report.win_rates[i["z"], i["y"]] == 1.0
    assert np.isnan(report.win_rates[i["x"], i["z"]])
    rows = {r.model: r for r in report.rows}
    assert (rows["x"].battles, rows["x"].wins, rows["x"].losses, rows["x"].ties) == (6, 3, 1, 2)


def test_predicted_win_rate_of_a_400_point_lead_is_ten_to_one():
    p = predicted_matrix(np.array([1400.0, 1000.0]))
    assert p[0, 1] == pytest.approx(10 / 11)
    assert p[1, 0] == pytest.approx(1 / 11)


def test_anchor_fixes_one_model_and_keeps_differences():
    data = battles_of(("x", "y", "model_a", 3), ("x", "y", "model_b", 1))
    free = ratings(compute(data, RatingOptions(bootstrap=50)))
    anchored = compute(data, RatingOptions(bootstrap=50, anchor=("y", 1114.0)))
    r = ratings(anchored)
    assert r["y"] == pytest.approx(1114.0)
    assert r["x"] - r["y"] == pytest.approx(free["x"] - free["y"])
    with pytest.raises(JevalError, match="anchor model 'w'"):
        compute(data, RatingOptions(anchor=("w", 1000.0)))


def test_no_battles_is_an_error():
    with pytest.raises(JevalError, match="no battles"):
        compute([], RatingOptions())


def test_style_control_removes_a_preference_for_long_answers():
    rng = random.Random(9)
    data = []
    for i in range(2000):
        x_long = rng.random() < 0.75
        len_x, len_y = (900, 300) if x_long else (300, 900)
        longer_wins = rng.random() < 0.8
        x_wins = longer_wins == x_long
        meta = {"sum_assistant_a_chars": len_x, "sum_assistant_b_chars": len_y,
                "header_count_a": {"h1": 0}, "header_count_b": {"h1": 0},
                "list_count_a": {"ordered": 0, "unordered": 0}, "list_count_b": {"ordered": 0, "unordered": 0},
                "bold_count_a": {"**": 0, "__": 0}, "bold_count_b": {"**": 0, "__": 0}}
        data.append(Battle("x", "y", "model_a" if x_wins else "model_b", tstamp=i, conv_metadata=meta))
    plain = ratings(compute(data, RatingOptions(bootstrap=0)))
    styled = compute(data, RatingOptions(bootstrap=20, style=True))
    assert plain["x"] - plain["y"] > 100
    assert abs(ratings(styled)["x"] - ratings(styled)["y"]) < 30
    assert styled.style_coefficients["length"] > 0.5
    assert all(r.lower <= r.rating <= r.upper for r in styled.rows)


def test_style_control_needs_conversation_metadata():
    data = battles_of(("x", "y", "model_a", 2), ("x", "y", "model_b", 1))
    with pytest.raises(JevalError, match="conv_metadata"):
        compute(data, RatingOptions(style=True))


def test_battle_file_errors_name_file_and_line(tmp_path):
    path = tmp_path / "battles.jsonl"
    good = {"model_a": "x", "model_b": "y", "winner": "model_a", "tstamp": 1.0, "extra": "ignored"}
    cases = [
        ({"model_a": "x", "winner": "model_a"}, "battle has no model_b"),
        ({**good, "winner": "model_c"}, "winner 'model_c' is not one of"),
        ({**good, "weight": 0}, "weight must be a positive integer"),
        ({**good, "model_b": "x"}, "model_a and model_b are the same model"),
        ({**good, "flags": "names_model"}, "flags must be a list"),
        ({**good, "source": 3}, "source must be a non-empty string"),
        ({**good, "question_id": [1]}, "question_id must be a string or an integer"),
        ({**good, "tstamp": "yesterday"}, "tstamp must be a number"),
    ]
    for bad, message in cases:
        path.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n")
        with pytest.raises(JevalError, match=f"battles.jsonl:3: {message}"):
            read_battles_jsonl(path)
    path.write_text(json.dumps(good) + "\n{oops\n")
    with pytest.raises(JevalError, match=r"battles.jsonl:2: not valid JSON"):
        read_battles_jsonl(path)
    with pytest.raises(JevalError, match="file not found"):
        read_battles_jsonl(tmp_path / "missing.jsonl")


def test_defaults_keep_flagged_and_named_battles_out():
    data = [Battle("x", "y", "model_a"), Battle("x", "y", "model_a", flags=("names_model",)),
            Battle("x", "y", "model_b", anony=False), Battle("x", "y", "tie", source="judge")]
    assert select(data) == [data[0], data[3]]
    assert len(select(data, Selection(include_flagged=True, include_named=True))) == 4
    assert select(data, Selection(sources=("judge",))) == [data[3]]


# The functional API (names keyed by model, matrices as DataFrames) that the app and the CLI call.

def test_bradley_terry_by_name_two_models_three_to_one_around_a_mean_of_1000():
    r = bradley_terry(battles_of(("x", "y", "model_a", 3), ("x", "y", "model_b", 1)), l2=0)
    assert r["x"] - r["y"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert (r["x"] + r["y"]) / 2 == pytest.approx(1000, abs=1e-6)
    anchored = bradley_terry(battles_of(("x", "y", "model_a", 3), ("x", "y", "model_b", 1)), l2=0, anchor=("y", 1114))
    assert anchored["y"] == pytest.approx(1114) and anchored["x"] - anchored["y"] == pytest.approx(r["x"] - r["y"])


def test_bradley_terry_by_name_is_invariant_to_relabelling_and_side_swaps_and_weights_are_duplication():
    rng = random.Random(11)
    names = ["p", "q", "r", "s"]
    data = [Battle(*rng.sample(names, 2), rng.choice(["model_a", "model_b", "tie"]), tstamp=i) for i in range(200)]
    base = bradley_terry(data)
    rename = dict(zip(names, ["s", "r", "q", "p"]))
    renamed = bradley_terry([Battle(rename[b.model_a], rename[b.model_b], b.winner) for b in data])
    assert {rename[m]: v for m, v in base.items()} == pytest.approx(renamed, abs=1e-6)
    invert = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    swapped = [Battle(b.model_b, b.model_a, invert[b.winner]) for b in data]
    assert bradley_terry(swapped) == pytest.approx(base, abs=1e-6)
    weighted = [Battle("x", "y", "model_a", tstamp=1, weight=2), Battle("y", "x", "tie", tstamp=2, weight=3)]
    duplicated = [Battle("x", "y", "model_a", tstamp=1)] * 2 + [Battle("y", "x", "tie", tstamp=2)] * 3
    assert bradley_terry(weighted) == pytest.approx(bradley_terry(duplicated))
    assert online_elo(weighted) == pytest.approx(online_elo(duplicated))


def test_online_elo_by_name_two_battles_by_hand():
    r = online_elo([Battle("x", "y", "model_a", tstamp=1), Battle("x", "y", "tie", tstamp=2)])
    expected_x = 1 / (1 + 10 ** ((998 - 1002) / 400))
    assert r["x"] == pytest.approx(1002 + 4 * (0.5 - expected_x))
    assert r["x"] + r["y"] == pytest.approx(2000)


def test_an_unbeaten_model_stays_finite_and_on_top_with_the_default_prior():
    data = battles_of(("x", "y", "model_a", 20), ("x", "z", "model_a", 20), ("y", "z", "model_a", 5),
                      ("z", "y", "model_a", 5), ("w", "z", "model_b", 10))
    r = bradley_terry(data)
    assert all(math.isfinite(v) for v in r.values())
    assert max(r, key=r.get) == "x" and min(r, key=r.get) == "w"
    for median, lower, upper in bootstrap(data, rounds=50).values():
        assert all(math.isfinite(v) for v in (median, lower, upper))


def test_bootstrap_by_name_is_seeded_and_agrees_with_the_leaderboard():
    rng = random.Random(12)
    data = [Battle(*rng.sample(["a", "b", "c"], 2), rng.choice(["model_a", "model_b", "tie"]), tstamp=i)
            for i in range(400)]
    one, again = bootstrap(data, rounds=300, seed=3), bootstrap(data, rounds=300, seed=3)
    assert one == again and one != bootstrap(data, rounds=300, seed=4)
    board = leaderboard(data, bootstrap_rounds=300, seed=3)
    point = bradley_terry(data)
    for row in board.rows:
        median, lower, upper = one[row.model]
        assert (row.lower, row.upper) == pytest.approx((lower, upper))
        assert row.rating == pytest.approx(point[row.model])
        assert lower < median < upper and abs(median - point[row.model]) < (upper - lower) / 4
    with pytest.raises(JevalError, match="rounds must be 1 or more"):
        bootstrap(data, rounds=0)


def test_ranks_by_name_count_models_surely_better():
    intervals = {"a": (1150, 1100, 1200), "b": (1070, 1050, 1090), "c": (1080, 1040, 1120), "d": (980, 900, 1060)}
    assert ranks(intervals) == {"a": 1, "b": 2, "c": 1, "d": 2}


def test_matrices_as_frames_by_hand():
    data = battles_of(("x", "y", "model_a", 3), ("y", "x", "model_a", 1), ("x", "y", "tie (bothbad)", 2),
                      ("y", "z", "model_b", 2))
    rates, counts = win_rate_matrix(data), battle_count_matrix(data)
    by_rating = sorted(bradley_terry(data).items(), key=lambda kv: -kv[1])
    assert list(rates.index) == list(rates.columns) == list(counts.index) == [m for m, _ in by_rating]
    assert rates.loc["x", "y"] == pytest.approx(0.75) and rates.loc["y", "x"] == pytest.approx(0.25)
    assert rates.loc["z", "y"] == 1.0 and np.isnan(rates.loc["x", "z"])
    assert counts.loc["x", "y"] == counts.loc["y", "x"] == 6 and counts.loc["x", "z"] == 0
    ordered = win_rate_matrix(data, order=["z", "y", "x"])
    assert list(ordered.index) == ["z", "y", "x"] and ordered.loc["x", "y"] == pytest.approx(0.75)
    with pytest.raises(JevalError, match="must list each rated model once"):
        battle_count_matrix(data, order=["x", "y"])


def test_predicted_win_rates_by_name():
    p = predicted_win_rates({"strong": 1400.0, "weak": 1000.0})
    assert p.loc["strong", "weak"] == pytest.approx(10 / 11) and p.loc["weak", "strong"] == pytest.approx(1 / 11)
    assert np.isnan(p.loc["strong", "strong"])


def test_leaderboard_rows_and_every_output_format(tmp_path):
    data = battles_of(("x", "y", "model_a", 6), ("x", "y", "model_b", 2), ("y", "z", "model_a", 5),
                      ("z", "y", "tie", 2), ("x", "z", "model_a", 4))
    board = leaderboard(data, bootstrap_rounds=100, seed=1)
    assert isinstance(board, Leaderboard)
    assert [r.model for r in board.rows] == ["x", "y", "z"]
    x = board.rows[0]
    assert (x.rank, x.battles, x.win_rate) == (1, 12, pytest.approx(10 / 12))
    assert x.elo == pytest.approx(online_elo(data)["x"])
    assert board.win_rates.loc["x", "y"] == pytest.approx(0.75)
    assert board.battle_counts.loc["y", "z"] == 7
    assert board.predicted_win_rates.loc["x", "z"] > 0.5
    assert "| 1 | x |" in board.to_markdown()
    assert board.to_csv().splitlines()[1].startswith("1,x,")
    doc = json.loads(board.to_json())
    assert [m["model"] for m in doc["models"]] == ["x", "y", "z"] and doc["battles"] == 19
    board.to_png(tmp_path / "board.png")
    assert (tmp_path / "board.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_battles_round_trip_through_jsonl_with_fastchat_field_names(tmp_path):
    path = tmp_path / "out" / "battles.jsonl"
    data = [Battle("x", "y", "tie (bothbad)", 1700000000.5, weight=3, question_id=81, turn=2, judge="gpt-4|pair-v2",
                   source="judge"),
            Battle("ｘモデル", "y", "model_b", 1700000001.0, anony=False, flags=("names_model",))]
    write_battles_jsonl(path, data)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"model_a": "x", "model_b": "y", "winner": "tie (bothbad)", "tstamp": 1700000000.5,
                        "question_id": 81, "turn": 2, "judge": "gpt-4|pair-v2", "weight": 3, "anony": True,
                        "flags": [], "source": "judge"}
    assert "ｘモデル" in path.read_text(encoding="utf-8")
    assert read_battles_jsonl(path) == data
    assert [p.name for p in path.parent.iterdir()] == ["battles.jsonl"]


def test_usable_drops_flagged_and_named_but_keeps_both_bad_as_a_tie():
    data = [Battle("x", "y", "tie (bothbad)"), Battle("x", "y", "model_a", flags=("names_model",)),
            Battle("x", "y", "model_b", anony=False)]
    assert usable(data) == [data[0]]
    assert usable(data, include_flagged=True) == data[:2]
    assert usable(data, include_named=True) == [data[0], data[2]]
    assert bradley_terry([*usable(data), Battle("x", "y", "model_a")], l2=0)["x"] == pytest.approx(
        1000 + 200 * math.log10(3))


# Battle weights: bounded, and an online Elo that takes a weight in O(1).

def exact_repeats(ra: float, rb: float, score: float, n: int, k: float = 4.0) -> tuple[float, float]:
    """n single Elo updates of one pair, one after the other (the reference for the closed form)."""
    for _ in range(n):
        expected_a = 1.0 / (1.0 + 10 ** ((rb - ra) / 400))
        ra, rb = ra + k * (score - expected_a), rb + k * ((1.0 - score) - (1.0 - expected_a))
    return ra, rb


@pytest.mark.parametrize("weight, shown", [
    ("1000000000000", "1000000000000"), ("1" + "0" * 400, "an integer of 401 digits"), ("1e400", "inf"),
    ("NaN", "nan"), ("-Infinity", "-inf"), ("1.5", "1.5"), ("0", "0"), ("-2", "-2"), ('"3"', "'3'"),
    ("true", "True"), ("1000001", "1000001"),
])
def test_a_weight_out_of_bounds_is_an_error_naming_file_and_line(tmp_path, weight, shown):
    path = tmp_path / "battles.jsonl"
    path.write_text('{"model_a": "x", "model_b": "y", "winner": "model_a"}\n'
                    f'{{"model_a": "x", "model_b": "y", "winner": "tie", "weight": {weight}}}\n')
    with pytest.raises(JevalError) as error:
        read_battles_jsonl(path)
    assert str(error.value) == (f"{path}:2: weight must be a positive integer no larger than {MAX_WEIGHT:,}, "
                                f"got {shown}")


def test_an_integer_too_long_to_read_is_an_error_not_a_traceback(tmp_path):
    path = tmp_path / "battles.jsonl"
    path.write_text('{"model_a": "x", "model_b": "y", "winner": "tie", "weight": ' + "9" * 5000 + "}\n")
    with pytest.raises(JevalError, match=r"battles.jsonl:1: not usable JSON \(Exceeds the limit \(4300 digits\)"):
        read_battles_jsonl(path)


def test_battles_built_in_code_meet_the_same_bounds_and_the_error_names_the_battle():
    data = [Battle("x", "y", "model_a", tstamp=1), Battle("y", "z", "tie", tstamp=2, weight=10**12)]
    message = r"battle 2 \(y vs z, tstamp 2\): weight must be a positive integer no larger than 1,000,000"
    for rate in (elo_online, bradley_terry, lambda b: compute(b, RatingOptions(bootstrap=0))):
        with pytest.raises(JevalError, match=message):
            rate(data)


def test_the_largest_weight_rates_in_well_under_a_second():
    data = [Battle("x", "y", "model_a", tstamp=1, weight=MAX_WEIGHT), Battle("y", "x", "tie", tstamp=2, weight=3),
            Battle("z", "x", "model_a", tstamp=3, weight=MAX_WEIGHT), Battle("y", "z", "model_b", tstamp=4)]
    started = time.perf_counter()
    report = compute(data, RatingOptions(bootstrap=100))
    assert time.perf_counter() - started < 1.0
    elo = {r.model: r.elo for r in report.rows}
    assert all(math.isfinite(v) for v in elo.values()) and sum(elo.values()) == pytest.approx(3000)
    assert report.battles == 4 and {r.model: r.battles for r in report.rows}["x"] == 2 * MAX_WEIGHT + 3


def test_up_to_exact_repeats_a_weight_is_exactly_that_many_battles():
    for weight in (2, 7, EXACT_REPEATS):
        weighted = [Battle("x", "y", "model_a", tstamp=0), Battle("x", "y", "model_b", tstamp=1, weight=weight)]
        repeated = [Battle("x", "y", "model_a", tstamp=0)] + [Battle("x", "y", "model_b", tstamp=1)] * weight
        assert elo_online(weighted) == elo_online(repeated)


@pytest.mark.parametrize("k, tolerance", [(4.0, 0.005), (32.0, 0.2)])
def test_a_heavier_weight_follows_the_repeated_updates_closely(k, tolerance):
    """The closed form against the loop it replaces, from level ratings and from big upsets."""
    worst = 0.0
    for n in (EXACT_REPEATS + 1, 40, 300, 3000):
        for gap in range(-1600, 1601, 200):
            for score in (0.0, 0.5, 1.0):
                start = (1000 + gap / 2, 1000 - gap / 2)
                closed = repeated_update(*start, score, n, k)
                looped = exact_repeats(*start, score, n, k)
                worst = max(worst, abs(closed[0] - looped[0]), abs(closed[1] - looped[1]))
                assert closed[0] + closed[1] == pytest.approx(2000), "Elo updates keep the sum of the two ratings"
    assert worst < tolerance


def test_elo_k_must_keep_a_single_update_from_overshooting():
    data = battles_of(("x", "y", "model_a", 1))
    for k in (0.0, -4.0, 174.0, math.inf, math.nan):
        with pytest.raises(JevalError, match=r"Elo K must be above 0 and below 173.7"):
            elo_online(data, k=k)
    assert elo_online(data, k=173.0)["x"] == pytest.approx(1000 + 173.0 / 2)


def test_jeval_arena_ratings_refuses_a_huge_weight_at_once_and_rates_the_largest_valid_one(tmp_path):
    from conftest import error_lines, jeval

    path = tmp_path / "battles.jsonl"
    rows = [{"model_a": "x", "model_b": "y", "winner": "model_a", "tstamp": 1, "weight": 10**12},
            {"model_a": "y", "model_b": "x", "winner": "tie", "tstamp": 2}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = jeval("arena", "ratings", "--battles", path, timeout=60)
    assert proc.returncode == 2
    assert error_lines(proc) == [f"jeval: error: {path}:1: weight must be a positive integer no larger than "
                                 f"1,000,000, got 1000000000000"]
    rows[0]["weight"] = MAX_WEIGHT
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = jeval("arena", "ratings", "--battles", path, "--format", "json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert {m["model"]: m["battles"] for m in report["models"]} == {"x": MAX_WEIGHT + 1, "y": MAX_WEIGHT + 1}
