"""How much of the benchmark a judged score stands on, and whether that is enough to show it.

A judged score is a mean over the judgments that gave a verdict. A failed judgment (a request
error, a reply that is not a chat completion, a verdict that cannot be read, an ambiguous or a
planted one) is kept in the accounting, never dropped silently: otherwise 7 judged items out of 160
would give a score that looks like any other, and an answer that makes judging fail would remove
itself from the mean.

The rule (`CoverageRule`, `jeval judge --min-coverage`): a score is complete when at least
`min_share` of the judgments the benchmark calls for gave a verdict (default 95 %) and, with
`every_category`, every category has at least one. The benchmark calls for one judgment per
prepared question, graded turn and repeat; a question a model did not answer counts as
`unanswered`. A category's own score is complete when its own share reaches `min_share`. Anything
less is reported as incomplete wherever the score is shown: results.json, the console, the
leaderboard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from jeval.errors import JevalError
from jeval.tasks.jmt_bench.files import CATEGORIES

DEFAULT_MIN_SHARE = 0.95


@dataclass(frozen=True)
class CoverageRule:
    min_share: float = DEFAULT_MIN_SHARE
    every_category: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.min_share <= 1.0:
            raise JevalError(f"--min-coverage is a share of the items, more than 0 and at most 1 "
                             f"(e.g. 0.95); got {self.min_share:g}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_RULE = CoverageRule()


def _ordered(categories: Iterable[str]) -> list[str]:
    present = set(categories)
    return [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))


def _share(judged: int, expected: int) -> float:
    return judged / expected if expected else 0.0


def _enough(share: float, rule: CoverageRule) -> bool:
    return share >= rule.min_share - 1e-12  # 19 of 20 is 95 %, whatever the float rounding


def coverage(records: list[dict[str, Any]], rule: CoverageRule,
             expected: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The coverage of one score: `records` are its judgment records (`category`, `failure`), and
    `expected` the judgments per category the benchmark calls for (default: those recorded)."""
    judged: Counter[str] = Counter(r["category"] for r in records if r["failure"] is None)
    recorded: Counter[str] = Counter(r["category"] for r in records)
    reasons: Counter[str] = Counter(reason_word(r["failure"]) for r in records if r["failure"] is not None)
    wanted: Counter[str] = Counter(expected) if expected is not None else Counter(recorded)
    for category, n in recorded.items():
        wanted[category] = max(wanted[category], n)
    unanswered = sum(wanted[c] - recorded[c] for c in wanted)
    n_expected, n_judged = sum(wanted.values()), sum(judged.values())
    categories = {c: {"expected": wanted[c], "judged": judged[c], "share": _share(judged[c], wanted[c]),
                      "complete": _enough(_share(judged[c], wanted[c]), rule)}
                  for c in _ordered(wanted)}
    missing = [c for c, v in categories.items() if v["judged"] == 0]
    share = _share(n_judged, n_expected)
    complete = n_expected > 0 and _enough(share, rule) and not (rule.every_category and missing)
    out = {"expected": n_expected, "judged": n_judged, "failed": sum(reasons.values()), "unanswered": unanswered,
           "failure_reasons": dict(sorted(reasons.items())), "share": share,
           "categories": categories, "categories_missing": missing, "rule": rule.as_dict(), "complete": complete}
    out["summary"] = describe(out)
    return out


def reason_word(failure: str) -> str:
    """The reason word of a failure (pairwise failures read `game 1: no_verdict: ...`)."""
    parts = [p.strip() for p in failure.split(":")]
    return parts[1] if parts[0].startswith("game ") and len(parts) > 1 else parts[0]


def describe(cov: Mapping[str, Any]) -> str:
    """One line, e.g. "7 of 160 judged (4 %), 4 of 8 categories; failed: request_error 100, no_verdict 53"."""
    categories = cov["categories"]
    covered = sum(1 for v in categories.values() if v["judged"])
    text = (f"{cov['judged']} of {cov['expected']} judged ({cov['share']:.0%}), "
            f"{covered} of {len(categories)} categories")
    lost = dict(cov["failure_reasons"])
    if cov.get("unanswered"):
        lost["unanswered"] = cov["unanswered"]
    if lost:
        text += "; not judged: " + ", ".join(f"{k} {v}" for k, v in lost.items())
    return text


def why_incomplete(cov: Mapping[str, Any]) -> str:
    """What the rule found missing, e.g. "below 95 % judged; no verdict in math, coding"; empty when
    the score is complete."""
    if cov["complete"]:
        return ""
    rule = cov["rule"]
    parts = []
    if cov["share"] < rule["min_share"] - 1e-12 or not cov["expected"]:
        parts.append(f"below {rule['min_share']:.0%} judged")
    if rule["every_category"] and cov["categories_missing"]:
        parts.append("no verdict in " + ", ".join(cov["categories_missing"]))
    return "; ".join(parts)


def expected_judgments(question_turns: Iterable[tuple[str, int]], turns: tuple[int, ...],
                       repeat: int) -> dict[str, int]:
    """Judgments per category the benchmark calls for: per question (category, number of turns),
    one per graded turn it has, times the repeats."""
    out: Counter[str] = Counter()
    for category, n_turns in question_turns:
        out[category] += sum(1 for t in turns if t <= n_turns) * repeat
    return dict(out)
