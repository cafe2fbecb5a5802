"""Summaries of judgments, the way Nejumi's leaderboard computes MT-Bench scores.

Single grading: failed judgments are left out of the means and counted in the score's coverage
(jeval.judges.coverage: judged, failed by reason, per category, complete or not, so that a mean
over few items is never shown as a plain score); the repeats of a (question, turn) are averaged;
a category's score is the mean over its (question, turn) items; the overall score is the mean of the category
means (so every category weighs the same, however many items it has). Turn 1 and turn 2 are the
same computation restricted to one turn. With repeats, each repeat's overall score is also computed
on its own and their mean, median and spread are reported.

Pairwise: FastChat's win rate and adjusted win rate (a tie counts half), battles weighted.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping
from typing import Any

from jeval.judges.coverage import DEFAULT_RULE, CoverageRule, coverage, reason_word
from jeval.tasks.jmt_bench.files import CATEGORIES


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _category_order(categories: Collection[str]) -> list[str]:
    known = [c for c in CATEGORIES if c in categories]
    return known + sorted(c for c in categories if c not in CATEGORIES)


def _scores(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Category, turn and overall scores of one model's successful judgments."""
    items: dict[tuple[int, int], list[float]] = defaultdict(list)
    category_of: dict[int, str] = {}
    for r in records:
        items[(r["question_id"], r["turn"])].append(float(r["score"]))
        category_of[r["question_id"]] = r["category"]
    item_mean = {k: sum(v) / len(v) for k, v in items.items()}

    def by_category(turn: int | None) -> dict[str, float]:
        grouped: dict[str, list[float]] = defaultdict(list)
        for (qid, t), value in item_mean.items():
            if turn is None or t == turn:
                grouped[category_of[qid]].append(value)
        return {c: sum(grouped[c]) / len(grouped[c]) for c in _category_order(grouped)}

    categories = by_category(None)
    turns = sorted({t for _, t in item_mean})
    per_turn = {t: by_category(t) for t in turns}
    return {
        "overall": _mean(list(categories.values())),
        "categories": categories,
        "turns": {str(t): _mean(list(per_turn[t].values())) for t in turns},
        "category_turns": {str(t): per_turn[t] for t in turns},
        "n_items": len(item_mean),
    }


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "stdev": None, "min": None, "max": None}
    return {"mean": statistics.fmean(values), "median": statistics.median(values),
            "stdev": statistics.stdev(values) if len(values) > 1 else 0.0, "min": min(values), "max": max(values)}


def summarize_single(records: list[dict[str, Any]], repeat: int, rule: CoverageRule = DEFAULT_RULE,
                     expected: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Per model: scores over its judged items and their coverage; `expected` is the judgments per
    category the benchmark calls for (see `coverage`)."""
    by_model: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_model[r["model"]].append(r)
    out = {}
    for model, rows in by_model.items():
        ok = [r for r in rows if r["failure"] is None]
        summary = _scores(ok)
        summary["judgments"] = len(rows)
        summary["failures"] = len(rows) - len(ok)
        summary["failure_reasons"] = dict(Counter(r["failure"] for r in rows if r["failure"] is not None))
        summary["coverage"] = coverage(rows, rule, expected)
        summary["radar"] = {"axes": list(summary["categories"]), "values": list(summary["categories"].values()),
                            "scale": [1, 10]}
        if repeat > 1:
            per_repeat = [_scores([r for r in ok if r["repeat"] == i])["overall"] for i in range(repeat)]
            item_values: dict[tuple, list[float]] = defaultdict(list)
            for r in ok:
                item_values[(r["question_id"], r["turn"])].append(float(r["score"]))
            ranges = [max(v) - min(v) for v in item_values.values() if len(v) > 1]
            summary["repeats"] = {
                "n": repeat,
                "overall_by_repeat": per_repeat,
                "overall": _spread([v for v in per_repeat if v is not None]),
                "items_with_differing_scores": sum(1 for r in ranges if r > 0),
                "mean_item_range": _mean(ranges),
                "item_stdev_mean": _mean([statistics.stdev(v) for v in item_values.values() if len(v) > 1]),
            }
        out[model] = summary
    return out


def summarize_pairwise(records: list[dict[str, Any]], battles: list[dict[str, Any]],
                       rule: CoverageRule = DEFAULT_RULE, expected: Mapping[str, int] | None = None
                       ) -> dict[str, Any]:
    """Win rates over the battles; `coverage` counts comparisons (judged when both games were)
    against `expected`, the comparisons per category the benchmark calls for."""
    tally: dict[str, Counter] = defaultdict(Counter)
    for b in battles:
        w = b.get("weight", 1)
        a, bb = b["model_a"], b["model_b"]
        if b["winner"] == "tie":
            tally[a]["tie"] += w
            tally[bb]["tie"] += w
        else:
            winner, loser = (a, bb) if b["winner"] == "model_a" else (bb, a)
            tally[winner]["win"] += w
            tally[loser]["loss"] += w
    models = {}
    for model, c in sorted(tally.items()):
        total = c["win"] + c["loss"] + c["tie"]
        models[model] = {"win": c["win"], "loss": c["loss"], "tie": c["tie"],
                         "win_rate": c["win"] / total if total else None,
                         "win_rate_adjusted": (c["win"] + 0.5 * c["tie"]) / total if total else None}
    failures = [r for r in records if r["failure"] is not None]
    return {
        "models": models,
        "comparisons": len(records),
        "battles": len(battles),
        "inconsistent": sum(1 for r in records if r.get("inconsistent")),
        "failures": len(failures),
        "failure_reasons": dict(Counter(reason_word(r["failure"]) for r in failures)),
        "coverage": coverage(records, rule, expected),
    }
