"""Standard errors beside scores, named as lm-eval names them (`exact_match_stderr`,
`acc_stderr,none` for `acc,none`).

Two estimates, chosen per metric from what the task's scores show:

- analytic: where the score is the mean of per-item values that the task's scores carry under
  the metric's own name, the sample standard deviation over the square root of n (lm-eval's
  `mean_stderr`);
- bootstrap: otherwise (correlations, ROUGE's bootstrap median, pass@k, F1 over sets: any score
  computed from the whole set), the sample standard deviation of the score recomputed, by the
  task's own aggregation, on resamples of the scored items drawn with replacement, from a fixed
  seed, so that the same answers always give the same error.

A suite's mean of independent scores gets sqrt(sum of squared errors) / k (lm-eval's
`unweighted_mean_stderr`). No score is changed here; a standard error that cannot be had is
None, with the reason recorded beside.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

log = logging.getLogger(__name__)

T = TypeVar("T")
S = TypeVar("S", bound=Mapping[str, Any])

RESAMPLES = 1000
SEED = 1234
FEWER_RESAMPLES = {"rouge1": 100, "rouge2": 100, "rougeLsum": 100}
"""Metrics whose recomputation costs tens of milliseconds (MeCab tokenizing, ROUGE's own bootstrap):
resampled 100 times, as lm-eval caps its costly corpus metrics (BLEU, chrF, TER) at 100."""
NOT_RESAMPLED = {"comet_wmt22": "each resample would run the COMET model again"}
TOO_FEW = "needs at least 2 scored items"


def is_stderr_key(key: str) -> bool:
    return key.partition(",")[0].endswith("_stderr")


def stderr_key(metric: str) -> str:
    """`acc` -> `acc_stderr`; `acc,none` -> `acc_stderr,none` (lm-eval's `metric,filter` keys)."""
    name, comma, rest = metric.partition(",")
    return f"{name}_stderr{comma}{rest}"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def sample_stddev(values: Sequence[float]) -> float:
    """Standard deviation with Bessel's correction (n - 1)."""
    mu = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((x - mu) ** 2 for x in values) / (len(values) - 1))


def mean_stderr(values: Sequence[float]) -> float | None:
    """The standard error of a mean of per-item values: sample std / sqrt(n); None below 2 items."""
    if len(values) < 2:
        return None
    return sample_stddev(values) / math.sqrt(len(values))


def bootstrap_stderrs(statistic: Callable[[list[T]], Mapping[str, Any]], items: Sequence[T], keys: Sequence[str],
                      resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, float | None]:
    """For each of `keys`, the sample standard deviation of `statistic(resample)[key]` over
    `resamples` resamples of `items` (each as many items as `items`, drawn with replacement from
    numpy's PCG64 seeded `seed`). Resamples where a key's value is not a finite number are left
    out for that key; fewer than 2 items, or fewer than 2 usable resamples, give None."""
    import numpy as np

    n = len(items)
    if n < 2 or not keys:
        return dict.fromkeys(keys)
    rng = np.random.default_rng(seed)
    found: dict[str, list[float]] = {key: [] for key in keys}
    for _ in range(resamples):
        chosen = [items[i] for i in rng.integers(0, n, size=n)]
        values = statistic(chosen)
        for key in keys:
            value = values.get(key)
            if isinstance(value, int | float) and _number(value):
                found[key].append(float(value))
    return {key: sample_stddev(v) if len(v) >= 2 else None for key, v in found.items()}


def bootstrap_stderr(statistic: Callable[[list[T]], float], items: Sequence[T], resamples: int = RESAMPLES,
                     seed: int = SEED) -> float | None:
    """`bootstrap_stderrs` of one statistic."""
    return bootstrap_stderrs(lambda chosen: {"value": statistic(chosen)}, items, ["value"], resamples, seed)["value"]


def unweighted_mean_stderr(stderrs: Sequence[float | None]) -> float | None:
    """The standard error of an unweighted mean of k independent scores: sqrt(sum se_i^2) / k;
    None where any member's is unknown. A member counted as 0 (a missing Jaster category) has 0."""
    if not stderrs or any(se is None for se in stderrs):
        return None
    return math.sqrt(math.fsum(se * se for se in stderrs if se is not None)) / len(stderrs)


@dataclass(frozen=True)
class Stderrs:
    """A task's metrics with `<metric>_stderr` after each score, and how each was estimated."""

    metrics: dict[str, Any]
    record: dict[str, Any]


def scored_metrics(metrics: Mapping[str, Any]) -> list[str]:
    """The metrics that are scores needing a standard error: finite numbers, not themselves
    standard errors, without one already (lm-eval reports its own)."""
    return [k for k, v in metrics.items()
            if _number(v) and not is_stderr_key(k) and stderr_key(k) not in metrics]


def _is_item_mean(values: list[Any], score: float) -> bool:
    if not values or not all(_number(v) for v in values):
        return False
    return math.isclose(math.fsum(values) / len(values), score, rel_tol=1e-9, abs_tol=1e-12)


def _by_item(scores: Sequence[S], field: str) -> list[list[S]]:
    groups: dict[Any, list[S]] = {}
    for s in scores:
        groups.setdefault(s.get(field), []).append(s)
    return list(groups.values())


def _drawn_apart(field: str, drawn: list[list[S]]) -> list[S]:
    """The scores of drawn items, each draw's under a name of its own (an item drawn twice is two
    items to the aggregation, as a scored item drawn twice is two)."""
    return cast(list[S], [{**s, field: f"{s.get(field)}#{i}"} for i, group in enumerate(drawn) for s in group])


def with_stderrs(metrics: Mapping[str, Any], scores: Sequence[S],
                 recompute: Callable[[list[S]], Mapping[str, Any]] | None = None, seed: int = SEED,
                 item: str | None = None) -> Stderrs:
    """`metrics` with a standard error after every score (see the module's doc): analytic where
    the scores carry the metric's per-item values and the score is their mean, else a bootstrap
    through `recompute` (the task's aggregation) over the scored items. Where several scores
    belong to one item (samples of one problem, for pass@k), `item` names the score field that
    says which, and the bootstrap draws items, each with all its scores (samples of one problem
    are not independent draws; resampling them apart would understate the error and leave
    problems with fewer samples than pass@k needs). The record says which method, how many
    resamples from which seed and of what, and why an error is missing where one is."""
    wanted = scored_metrics(metrics)
    method: dict[str, str] = {}
    errors: dict[str, float | None] = {}
    missing: dict[str, str] = {}
    resampled = []
    for key in wanted:
        values: list[Any] = [s.get(key) for s in scores]
        if item is None and _is_item_mean(values, float(metrics[key])):
            method[key] = "mean"
            errors[key] = mean_stderr([float(v) for v in values])
        elif key in NOT_RESAMPLED:
            errors[key], missing[key] = None, NOT_RESAMPLED[key]
        elif recompute is None:
            errors[key], missing[key] = None, "the score is not a mean of per-item values and cannot be recomputed"
        else:
            method[key] = "bootstrap"
            resampled.append(key)
    resamples = min((FEWER_RESAMPLES.get(k, RESAMPLES) for k in resampled), default=RESAMPLES)
    if resampled and recompute is not None:
        aggregate = recompute
        try:
            if item is None:
                errors.update(bootstrap_stderrs(aggregate, list(scores), resampled, resamples, seed))
            else:
                field = item
                errors.update(bootstrap_stderrs(lambda drawn: aggregate(_drawn_apart(field, drawn)),
                                                _by_item(scores, field), resampled, resamples, seed))
        except Exception as e:  # a resample the aggregation cannot score must not cost the run its scores
            log.warning("standard errors by bootstrap failed (%s: %s); the scores stand without them",
                        type(e).__name__, e)
            for key in resampled:
                errors[key], missing[key] = None, f"bootstrap failed: {type(e).__name__}: {e}"
                method.pop(key)
    for key, value in errors.items():
        if value is None and key not in missing:
            missing[key] = TOO_FEW
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        out[key] = value
        if key in errors:
            out[stderr_key(key)] = errors[key]
    record: dict[str, Any] = {"method": method, "n": len(scores)}
    if resampled:
        unit = "scored item" if item is None else f"item ({item}), with all its scores"
        record["bootstrap"] = {"resamples": resamples, "seed": seed, "unit": unit}
        if item is not None:
            record["items"] = len(_by_item(scores, item))
    if missing:
        record["missing"] = missing
    return Stderrs(out, record)
