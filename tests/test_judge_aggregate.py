"""Aggregation as Nejumi does it, FastChat's both-orders rule with 5-level weights, battle records
the arena reads, and rescoring stored judgments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import jeval

from jeval.judges.aggregate import summarize_pairwise, summarize_single
from jeval.judges.coverage import CoverageRule, expected_judgments, why_incomplete
from jeval.judges.pairwise import STRONG_WEIGHT, combine, pairs
from jeval.judges.rescore import rescore

FIXTURES = Path(__file__).parent / "fixtures" / "jmt_bench" / "model_judgment"


def rec(qid, category, turn, score, repeat=0, model="m", failure=None):
    return {"question_id": qid, "category": category, "turn": turn, "score": score if failure is None else -1,
            "repeat": repeat, "model": model, "failure": failure}


def test_overall_is_the_mean_of_category_means_with_failures_dropped():
    records = [
        rec(1, "writing", 1, 10), rec(1, "writing", 2, 8),
        rec(2, "writing", 1, 6), rec(2, "writing", 2, 4),
        rec(3, "math", 1, 2), rec(3, "math", 2, 9, failure="no_verdict"),
    ]
    s = summarize_single(records, repeat=1)["m"]
    assert s["categories"] == {"writing": 7.0, "math": 2.0}
    assert s["overall"] == 4.5
    assert s["turns"] == {"1": (8.0 + 2.0) / 2, "2": 6.0}
    assert s["category_turns"]["2"] == {"writing": 6.0}
    assert s["failures"] == 1 and s["judgments"] == 6 and s["failure_reasons"] == {"no_verdict": 1}
    assert s["radar"] == {"axes": ["writing", "math"], "values": [7.0, 2.0], "scale": [1, 10]}


def test_categories_follow_mt_bench_order_for_the_radar_chart():
    records = [rec(i, c, 1, 5) for i, c in enumerate(["humanities", "coding", "writing", "stem"])]
    assert summarize_single(records, 1)["m"]["radar"]["axes"] == ["writing", "coding", "stem", "humanities"]


def test_repeats_are_averaged_per_item_and_reported_with_their_spread():
    records = [
        rec(1, "writing", 1, 6, repeat=0), rec(1, "writing", 1, 8, repeat=1), rec(1, "writing", 1, 7, repeat=2),
        rec(2, "math", 1, 4, repeat=0), rec(2, "math", 1, 4, repeat=1), rec(2, "math", 1, 4, repeat=2),
    ]
    s = summarize_single(records, repeat=3)["m"]
    assert s["categories"] == {"writing": 7.0, "math": 4.0}
    rep = s["repeats"]
    assert rep["overall_by_repeat"] == [5.0, 6.0, 5.5]
    assert rep["overall"]["mean"] == 5.5 and rep["overall"]["median"] == 5.5
    assert rep["overall"]["min"] == 5.0 and rep["overall"]["max"] == 6.0 and rep["overall"]["stdev"] == 0.5
    assert rep["items_with_differing_scores"] == 1 and rep["mean_item_range"] == 1.0


def test_models_are_summarised_separately():
    records = [rec(1, "writing", 1, 9, model="a"), rec(1, "writing", 1, 3, model="b")]
    s = summarize_single(records, 1)
    assert s["a"]["overall"] == 9.0 and s["b"]["overall"] == 3.0


@pytest.mark.parametrize("g1, g2, five, expected", [
    ("A>B", "B>A", False, ("model_a", 1)),
    ("B>A", "A>B", False, ("model_b", 1)),
    ("A>B", "A>B", False, ("tie", 1)),
    ("A=B", "B>A", False, ("tie", 1)),
    ("A>B", "A=B", False, ("tie", 1)),
    ("A=B", "A=B", False, ("tie", 1)),
    ("A>>B", "B>>A", True, ("model_a", STRONG_WEIGHT)),
    ("A>>B", "B>A", True, ("model_a", 1)),
    ("B>>A", "A>>B", True, ("model_b", STRONG_WEIGHT)),
    ("A>>B", "A>>B", True, ("tie", 1)),
])
def test_both_orders_combine_by_fastchats_rule(g1, g2, five, expected):
    assert combine(g1, g2, five) == expected


def test_pairs_are_all_pairs_or_everyone_against_the_baseline():
    assert pairs(["a", "b", "c"], None) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert pairs(["a", "b", "c"], "b") == [("a", "b"), ("c", "b")]


def test_pairwise_summary_weights_battles_and_counts_ties_half():
    battles = [
        {"model_a": "x", "model_b": "y", "winner": "model_a", "weight": 3},
        {"model_a": "x", "model_b": "y", "winner": "tie"},
        {"model_a": "x", "model_b": "y", "winner": "model_b", "weight": 1},
    ]
    records = [{"failure": None, "inconsistent": True, "category": "writing"},
               {"failure": "game 2: no_verdict: none", "category": "math"}]
    s = summarize_pairwise(records, battles)
    assert s["models"]["x"] == {"win": 3, "loss": 1, "tie": 1, "win_rate": 0.6, "win_rate_adjusted": 0.7}
    assert s["models"]["y"]["win"] == 1 and s["models"]["y"]["loss"] == 3
    assert s["inconsistent"] == 1 and s["failures"] == 1 and s["failure_reasons"] == {"no_verdict": 1}


def test_rescore_of_fastchat_single_judgments_counts_agreement_and_recoveries():
    r = rescore(FIXTURES / "gpt-4_single.jsonl").as_dict()
    assert r["judgments"] == 6 and r["parsed"] == 5 and r["failure_reasons"] == {"no_verdict": 1}
    assert r["with_stored_verdict"] == 4 and r["agree"] == 3 and r["disagree"] == 1
    assert r["recovered"] == 1
    assert r["disagreements"] == [{"line": 6, "question_id": "16", "turn": 1, "stored": 7.0, "parsed": 9.0,
                                   "failure": None}]


def test_rescore_of_fastchat_pairwise_judgments_reads_both_games():
    r = rescore(FIXTURES / "gpt-4_pair.jsonl").as_dict()
    assert r["judgments"] == 6 and r["parsed"] == 5 and r["failed"] == 1
    assert r["with_stored_verdict"] == 5 and r["agree"] == 5 and r["disagree"] == 0


def test_rescore_cli_reports_counts_and_rejects_other_files(tmp_path):
    proc = jeval("judge", "rescore", "--judgments", FIXTURES / "gpt-4_single.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert "parsed: 5  failed: 1" in proc.stdout and "agree: 3  disagree: 1" in proc.stdout
    as_json = json.loads(jeval("judge", "rescore", "--judgments", FIXTURES / "gpt-4_single.jsonl", "--json").stdout)
    assert as_json["agree"] == 3
    other = tmp_path / "votes.jsonl"
    other.write_text('{"model_a": "x", "model_b": "y", "winner": "tie"}\n')
    proc = jeval("judge", "rescore", "--judgments", other)
    assert proc.returncode == 2
    assert "votes.jsonl: pairwise verdicts without the judge's texts; nothing to parse again" in proc.stderr


def test_coverage_counts_failures_by_reason_and_questions_left_unanswered():
    """A model that answered one of two questions per category, judged twice each (two repeats):
    8 judgments are called for, 4 were asked, 3 gave a verdict."""
    records = [rec(1, "writing", 1, 8, repeat=0), rec(1, "writing", 1, 6, repeat=1),
               rec(2, "math", 1, 4, repeat=0), rec(2, "math", 1, 0, repeat=1, failure="planted")]
    expected = expected_judgments([("writing", 2), ("writing", 2), ("math", 2), ("math", 2)], (1,), 2)
    assert expected == {"writing": 4, "math": 4}
    cov = summarize_single(records, 2, CoverageRule(min_share=0.3), expected)["m"]["coverage"]
    assert (cov["expected"], cov["judged"], cov["failed"], cov["unanswered"]) == (8, 3, 1, 4)
    assert cov["failure_reasons"] == {"planted": 1} and cov["share"] == 3 / 8
    assert cov["categories"] == {"writing": {"expected": 4, "judged": 2, "share": 0.5, "complete": True},
                                 "math": {"expected": 4, "judged": 1, "share": 0.25, "complete": False}}
    assert cov["complete"] is True and cov["categories_missing"] == []
    assert cov["summary"] == "3 of 8 judged (38%), 2 of 2 categories; not judged: planted 1, unanswered 4"
    strict = summarize_single(records, 2, expected=expected)["m"]["coverage"]
    assert strict["complete"] is False and why_incomplete(strict) == "below 95% judged"


def test_a_category_without_any_verdict_makes_the_score_incomplete_whatever_the_share():
    records = [rec(i, "writing", 1, 7) for i in range(99)] + [rec(99, "math", 1, 0, failure="no_verdict")]
    cov = summarize_single(records, 1, CoverageRule(min_share=0.9))["m"]["coverage"]
    assert cov["share"] == 0.99 and cov["categories_missing"] == ["math"] and cov["complete"] is False
    assert why_incomplete(cov) == "no verdict in math"
    lenient = summarize_single(records, 1, CoverageRule(min_share=0.9, every_category=False))["m"]["coverage"]
    assert lenient["complete"] is True and why_incomplete(lenient) == ""
