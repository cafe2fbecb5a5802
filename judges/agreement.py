"""`jeval judge agreement`: how far one can trust an LLM judge.

Compares two judgment sets over the same answers (two judges, a judge and its repeat, a judge and
the arena's human votes), or looks into one set that holds repeats or both orders of a comparison.
The sets are read by jeval.judges.judgment_sets.

Statistics (all with percentile bootstrap 95% intervals that resample *items*, i.e. questions, with
every judgment of a drawn item; `bootstrap` resamples, `seed`):

Single scores, joined on (model, item, turn) and, with `same_answers`, on the answer text:
- `spearman`, `kendall_tau_b`: rank correlation over the joined judgments (item level);
- `model_spearman`, `model_kendall_tau_b`: over models, of each model's mean score in A and in B
  (with the per-model table of both means);
- `weighted_kappa`: Cohen's kappa with quadratic (default) or linear disagreement weights on the
  score values themselves, w(x, y) = |x - y|^2 or |x - y|: kappa = 1 - mean_observed(w) /
  mean_expected(w), the expectation taken over A's and B's marginal score distributions;
- `exact`, `within_1`: shares of judgments with equal scores, and with scores at most 1 apart;
- `mean_diff`: mean of B - A.

Pairwise verdicts, joined on (model pair, item, turn): each set's verdict on a comparison is its
game's verdict, or over both orders FastChat's rule (the same winner in both games wins, anything
else is a tie). `agreement` (three outcomes), `agreement_without_ties` (over comparisons neither set
calls a tie), `kappa` (Cohen's, unweighted, on {model_1 wins, model_2 wins, tie}, model_1 being the
pair's model whose name sorts first). Where both sets
show the order, games are also compared one by one (`games`). A single-score set is turned into
verdicts first (the higher score wins; equal scores tie).

Position bias, for a set that judged comparisons in both orders: per both-order pair, `consistent`
when both games name the same winner (or both tie); an inconsistent pair leans to the first position
when in both games the first-shown answer won, or it won in one game and the other was a tie
(`first_preference` = such pairs / inconsistent pairs, with a two-sided sign test against 1/2), and
`first_win_rate`: of all games with a winner, the share won by the answer shown first.

Self-consistency, for a set with repeats (or two sets of one judge): the statistics above between
every two repeats, the per-answer standard deviation of the repeats' scores (sample SD, n - 1), and
the share of answers on which every repeat gave the same score.

`by_pair` compares sets that share model pairs but not items (a judge against arena votes): per
unordered model pair, the share won by its first model (ties count half), in A and in B.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from jeval.errors import JevalError
from jeval.judges.judgment_sets import JudgmentSet, PairJudgment, SingleJudgment

Weights = Literal["quadratic", "linear"]
Stats = dict[str, float | None]
OUTCOMES = ("model_1 wins", "model_2 wins", "tie")
"""Verdict labels in a comparison's canonical frame: model_1 is the pair's model whose name sorts first."""
MIN_MODELS = 3


@dataclass(frozen=True)
class Options:
    same_answers: bool = False
    bootstrap: int = 1000
    seed: int = 0
    weights: Weights = "quadratic"
    by_pair: bool = False

    def __post_init__(self) -> None:
        if self.bootstrap < 0:
            raise JevalError(f"--bootstrap must be 0 (no intervals) or more, got {self.bootstrap}")
        if self.weights not in ("quadratic", "linear"):
            raise JevalError(f"--weights is quadratic or linear, got {self.weights!r}")

    def as_dict(self) -> dict[str, Any]:
        return {"same_answers": self.same_answers, "bootstrap": self.bootstrap, "seed": self.seed,
                "weights": self.weights, "by_pair": self.by_pair}


# ---------------------------------------------------------------------------------------------
# Statistics


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho (Pearson's r of mid-ranks); None when either side is constant."""
    from scipy.stats import rankdata

    if len(x) < 2:
        return None
    rx, ry = rankdata(x), rankdata(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    return _finite(float(np.corrcoef(rx, ry)[0, 1]))


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> float | None:
    from scipy.stats import kendalltau

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return _finite(float(kendalltau(x, y).statistic))


def weighted_kappa(x: np.ndarray, y: np.ndarray, weights: Weights = "quadratic") -> float | None:
    """Cohen's weighted kappa with disagreement weights |x - y|^p on the score values (p = 2
    quadratic, 1 linear); on a scale of consecutive integers this is the textbook statistic. None
    when the expected disagreement is 0 (both sides gave one and the same score throughout)."""
    if len(x) == 0:
        return None
    power = 2 if weights == "quadratic" else 1
    values, codes = np.unique(np.concatenate([x, y]), return_inverse=True)
    cx, cy = codes[: len(x)], codes[len(x):]
    pa = np.bincount(cx, minlength=len(values)) / len(x)
    pb = np.bincount(cy, minlength=len(values)) / len(y)
    w = np.abs(values[:, None] - values[None, :]) ** power
    expected = float(pa @ w @ pb)
    if expected == 0:
        return None
    observed = float(np.mean(np.abs(x - y) ** power))
    return 1 - observed / expected


def cohen_kappa(x: np.ndarray, y: np.ndarray, categories: int) -> float | None:
    """Cohen's (unweighted) kappa of two codings 0..categories-1; None when chance agreement is 1."""
    if len(x) == 0:
        return None
    pa = np.bincount(x, minlength=categories) / len(x)
    pb = np.bincount(y, minlength=categories) / len(y)
    pe = float(pa @ pb)
    if pe >= 1:
        return None
    po = float(np.mean(x == y))
    return (po - pe) / (1 - pe)


def sign_test_p(k: int, n: int) -> float | None:
    """Two-sided binomial test of k successes in n against 1/2."""
    from scipy.stats import binomtest

    return float(binomtest(k, n, 0.5).pvalue) if n > 0 else None


def _share(mask: np.ndarray) -> float | None:
    return float(np.mean(mask)) if len(mask) else None


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None = None
    high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        ci = [self.low, self.high] if self.low is not None and self.high is not None else None
        return {"value": _round(self.value), "ci95": [_round(v) for v in ci] if ci else None}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def bootstrap(clusters: Iterable[str], fn: Callable[[np.ndarray], Stats], n: int, seed: int,
              what: str = "bootstrap") -> dict[str, Estimate]:
    """The statistics `fn(indices)` on all rows, with percentile 95% intervals from `n` resamples of
    the clusters (items), each drawn cluster bringing all of its rows."""
    from tqdm import tqdm

    labels = np.asarray(list(clusters), dtype=object)
    full = fn(np.arange(len(labels)))
    if n == 0 or len(labels) == 0:
        return {k: Estimate(v) for k, v in full.items()}
    _, codes = np.unique(labels.astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    members = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {k: [] for k in full}
    for _ in tqdm(range(n), desc=what, unit="resample", disable=None, leave=False):
        pick = rng.integers(0, len(members), len(members))
        stats = fn(np.concatenate([members[i] for i in pick]))
        for k in draws:
            v = stats.get(k)
            draws[k].append(np.nan if v is None else v)
    out = {}
    for k, v in full.items():
        arr = np.asarray(draws[k], dtype=float)
        arr = arr[np.isfinite(arr)]
        if v is None or len(arr) < n / 2:
            out[k] = Estimate(v)
        else:
            lo, hi = np.percentile(arr, [2.5, 97.5])
            out[k] = Estimate(v, float(lo), float(hi))
    return out


def _estimates(stats: dict[str, Estimate]) -> dict[str, Any]:
    return {k: e.as_dict() for k, e in stats.items()}


# ---------------------------------------------------------------------------------------------
# Single scores


def table_statistics(table: np.ndarray, vx: np.ndarray, vy: np.ndarray, weights: Weights) -> Stats:
    """Agreement statistics of paired scores from their joint count table (rows: A's values `vx`,
    columns: B's values `vy`, both ascending): exact as over the pairs, in O(cells) instead of
    O(n log n), which keeps the bootstrap fast on large sets."""
    n = float(table.sum())
    if n == 0:
        return dict.fromkeys(("spearman", "kendall_tau_b", "weighted_kappa", "exact", "within_1", "mean_diff"))
    rows, cols = table.sum(1), table.sum(0)
    diff = vy[None, :] - vx[:, None]
    power = 2 if weights == "quadratic" else 1
    w = np.abs(diff) ** power
    expected = float(rows @ w @ cols) / n**2
    kappa = None if expected == 0 else 1 - float((table * w).sum()) / n / expected
    stats: Stats = {"spearman": None, "kendall_tau_b": None, "weighted_kappa": kappa,
                    "exact": float(table[diff == 0].sum()) / n, "within_1": float(table[np.abs(diff) <= 1].sum()) / n,
                    "mean_diff": float(cols @ vy - rows @ vx) / n}
    if (rows > 0).sum() < 2 or (cols > 0).sum() < 2:
        return stats
    # Spearman: Pearson's r of the mid-ranks.
    rx = np.cumsum(rows) - (rows - 1) / 2
    ry = np.cumsum(cols) - (cols - 1) / 2
    mean = (n + 1) / 2
    dx, dy = rx - mean, ry - mean
    cov = float(dx @ table @ dy)
    stats["spearman"] = _finite(cov / math.sqrt(float(rows @ dx**2) * float(cols @ dy**2)))
    # Kendall's tau-b: concordant and discordant pairs from the table's corner sums.
    padded = np.zeros((table.shape[0] + 1, table.shape[1] + 2))
    padded[:-1, 1:-1] = table
    below = padded[::-1].cumsum(0)[::-1][1:]  # rows strictly below, columns padded
    right = below[:, ::-1].cumsum(1)[:, ::-1]  # and at or right of each column
    left = below.cumsum(1)  # and at or left of each column
    concordant = float((table * right[:, 2:]).sum())
    discordant = float((table * left[:, :-2]).sum())
    pairs = n * (n - 1) / 2
    ties_x = float((rows * (rows - 1)).sum()) / 2
    ties_y = float((cols * (cols - 1)).sum()) / 2
    denominator = math.sqrt((pairs - ties_x) * (pairs - ties_y))
    stats["kendall_tau_b"] = _finite((concordant - discordant) / denominator) if denominator else None
    return stats


def _score_fn(a: np.ndarray, b: np.ndarray, model_idx: np.ndarray, n_models: int,
              weights: Weights) -> Callable[[np.ndarray], Stats]:
    vx, cx = np.unique(a, return_inverse=True)
    vy, cy = np.unique(b, return_inverse=True)
    cell = cx * len(vy) + cy

    def fn(idx: np.ndarray) -> Stats:
        table = np.bincount(cell[idx], minlength=len(vx) * len(vy)).reshape(len(vx), len(vy))
        stats = table_statistics(table.astype(float), vx, vy, weights)
        x, y = a[idx], b[idx]
        m = model_idx[idx]
        count = np.bincount(m, minlength=n_models)
        present = count > 0
        if present.sum() >= MIN_MODELS:
            ma = np.bincount(m, x, minlength=n_models)[present] / count[present]
            mb = np.bincount(m, y, minlength=n_models)[present] / count[present]
            stats["model_spearman"] = spearman(ma, mb)
            stats["model_kendall_tau_b"] = kendall_tau_b(ma, mb)
        else:
            stats["model_spearman"] = stats["model_kendall_tau_b"] = None
        return stats
    return fn


def score_statistics(rows: list[tuple[SingleJudgment, SingleJudgment]], opts: Options,
                     what: str = "scores") -> dict[str, Any]:
    """Agreement of the paired scores (A, B) of the same answers."""
    a = np.array([x.score for x, _ in rows], dtype=float)
    b = np.array([y.score for _, y in rows], dtype=float)
    models = sorted({x.model for x, _ in rows})
    index = {m: i for i, m in enumerate(models)}
    model_idx = np.array([index[x.model] for x, _ in rows], dtype=int)
    est = bootstrap((x.item for x, _ in rows), _score_fn(a, b, model_idx, len(models), opts.weights),
                    opts.bootstrap, opts.seed, what)
    table: list[dict[str, Any]] = []
    for m in models:
        mask = model_idx == index[m]
        table.append({"model": m, "n": int(mask.sum()), "mean_a": round(float(a[mask].mean()), 4),
                      "mean_b": round(float(b[mask].mean()), 4),
                      "diff": round(float(b[mask].mean() - a[mask].mean()), 4)})
    table.sort(key=lambda r: -r["mean_a"])
    notes = []
    if len(models) < MIN_MODELS:
        notes.append(f"{len(models)} model(s): model-level correlations need at least {MIN_MODELS}")
    return {"n": len(rows), "items": len({x.item for x, _ in rows}), "models": len(models),
            "statistics": _estimates(est), "per_model": table, "notes": notes}


_RepeatMode = Literal["match", "first", "ignore"]


def _repeat_modes(a: JudgmentSet, b: JudgmentSet) -> tuple[_RepeatMode, _RepeatMode, list[str]]:
    ra, rb = a.repeats, b.repeats
    if len(ra) > 1 and len(rb) > 1:
        return "match", "match", ["both sets hold repeats: repeat i of A is compared with repeat i of B"]
    notes = []
    modes: list[_RepeatMode] = []
    for name, reps in (("A", ra), ("B", rb)):
        if len(reps) > 1:
            modes.append("first")
            notes.append(f"{name} holds {len(reps)} repeats; its first (repeat {reps[0]}) is compared, and the repeats "
                         "with each other under self-consistency")
        else:
            modes.append("ignore")
    return modes[0], modes[1], notes


def _single_index(s: JudgmentSet, mode: _RepeatMode) -> dict[tuple[Any, ...], SingleJudgment]:
    first = s.repeats[0] if s.repeats else 0
    out: dict[tuple[Any, ...], SingleJudgment] = {}
    for j in s.singles:
        if mode == "match":
            out[(j.model, j.item, j.turn, j.repeat or 0)] = j
        elif mode == "ignore" or (j.repeat or 0) == first:
            out[(j.model, j.item, j.turn)] = j
    return out


def _no_join(a: JudgmentSet, b: JudgmentSet) -> JevalError:
    def about(s: JudgmentSet) -> str:
        models, items = s.models, s.items
        shown = ", ".join(models[:4]) + (", ..." if len(models) > 4 else "")
        return f"{s.label}: {len(models)} models ({shown}), {len(items)} items ({', '.join(items[:3])}, ...)"
    hint = ""
    if not set(a.models) & set(b.models):
        hint = "; no model name is in both (match names with --rename OLD=NEW)"
    elif not set(a.items) & set(b.items):
        hint = "; no item is in both"
        if a.kind == "pairwise" or b.kind == "pairwise":
            hint += " (compare them model pair by model pair with --by-pair)"
    return JevalError(f"A and B share no (model, item) — are they judgments of the same answers? A = {about(a)}; "
                      f"B = {about(b)}{hint}")


def _check_scales(a: JudgmentSet, b: JudgmentSet) -> None:
    if a.scale and b.scale and a.scale != b.scale:
        raise JevalError(f"mixed scales: A ({a.label}) scores on {a.scale[0]}-{a.scale[1]} and B ({b.label}) on "
                         f"{b.scale[0]}-{b.scale[1]}; kappa and agreement need one scale")


def _answers(ha: str | None, hb: str | None) -> str:
    if ha is None or hb is None:
        return "unknown"
    return "same" if ha == hb else "different"


def _need_hashes(sets: Iterable[JudgmentSet]) -> None:
    for s in sets:
        if not s.has_answer_hashes:
            raise JevalError(f"--same-answers needs the answer texts, and {s.label} ({s.source}, {s.format}) "
                             "holds none")


def _answer_filter(counts: dict[str, int], opts: Options, n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"same": counts.get("same", 0), "different": counts.get("different", 0),
                           "unknown": counts.get("unknown", 0)}
    if opts.same_answers:
        out["dropped"] = n - out["same"]
        if out["same"] == 0:
            raise JevalError(f"--same-answers: none of the {n} joined judgments was made on identical answer text "
                             f"({out['different']} different, {out['unknown']} unknown)")
    return out


def compare_scores(a: JudgmentSet, b: JudgmentSet, opts: Options) -> dict[str, Any]:
    _check_scales(a, b)
    if opts.same_answers:
        _need_hashes((a, b))
    mode_a, mode_b, notes = _repeat_modes(a, b)
    ia, ib = _single_index(a, mode_a), _single_index(b, mode_b)
    shared = [k for k in ia if k in ib]
    if not shared:
        raise _no_join(a, b)
    counts: dict[str, int] = defaultdict(int)
    rows = []
    for k in shared:
        x, y = ia[k], ib[k]
        if x.question_hash and y.question_hash and x.question_hash != y.question_hash:
            raise JevalError(f"A and B name different questions item {x.item} ({x.where} and {y.where}); are the "
                             "files in the same (test.csv) order?")
        state = _answers(x.answer_hash, y.answer_hash)
        counts[state] += 1
        if not opts.same_answers or state == "same":
            rows.append((x, y))
    answers = _answer_filter(counts, opts, len(shared))
    out = score_statistics(rows, opts, "A vs B")
    out["joined"] = len(shared)
    out["answers"] = answers
    out["notes"] = notes + out["notes"]
    out["only_in_a"] = len(ia) - len(shared)
    out["only_in_b"] = len(ib) - len(shared)
    return {"kind": "single", **out}


def self_consistency_scores(s: JudgmentSet, opts: Options) -> dict[str, Any] | None:
    reps = s.repeats
    if len(reps) < 2:
        return None
    by_rep: dict[int, dict[tuple[Any, ...], SingleJudgment]] = defaultdict(dict)
    for j in s.singles:
        by_rep[j.repeat or 0][(j.model, j.item, j.turn)] = j
    pairs = []
    for r1, r2 in itertools.combinations(reps, 2):
        rows = [(x, by_rep[r2][k]) for k, x in by_rep[r1].items() if k in by_rep[r2]]
        if rows:
            stats = score_statistics(rows, opts, f"repeats {r1}-{r2}")
            pairs.append({"repeats": [r1, r2], **stats})
    keys = sorted({k for r in reps for k in by_rep[r]}, key=str)
    spread = []
    for k in keys:
        scores = [by_rep[r][k].score for r in reps if k in by_rep[r]]
        if len(scores) >= 2:
            spread.append((k, np.array(scores)))
    sd = np.array([float(np.std(v, ddof=1)) for _, v in spread])
    equal = np.array([bool(np.ptp(v) == 0) for _, v in spread])
    spread_est = bootstrap((k[1] for k, _ in spread),
                           lambda idx: {"mean_sd": float(sd[idx].mean()) if len(idx) else None,
                                        "all_equal": _share(equal[idx])},
                           opts.bootstrap, opts.seed, "repeat spread")
    per_model = []
    for model in sorted({k[0] for k, _ in spread}):
        mask = np.array([k[0] == model for k, _ in spread])
        pooled = [(x, y) for p1, p2 in itertools.combinations(reps, 2) for k, x in by_rep[p1].items()
                  if k[0] == model and k in by_rep[p2] for y in (by_rep[p2][k],)]
        xs = np.array([x.score for x, _ in pooled])
        ys = np.array([y.score for _, y in pooled])
        per_model.append({
            "model": model, "answers": int(mask.sum()), "mean_sd": round(float(sd[mask].mean()), 4),
            "all_equal": round(float(equal[mask].mean()), 4),
            "exact": round(float(np.mean(xs == ys)), 4) if len(xs) else None,
            "within_1": round(float(np.mean(np.abs(xs - ys) <= 1)), 4) if len(xs) else None,
            "weighted_kappa": _round(weighted_kappa(xs, ys, opts.weights)),
            "mean_by_repeat": [round(float(np.mean([x.score for k, x in by_rep[r].items() if k[0] == model])), 4)
                               if any(k[0] == model for k in by_rep[r]) else None for r in reps],
        })
    return {"kind": "single", "repeats": reps, "answers": len(spread), "pairs": pairs,
            "spread": _estimates(spread_est), "per_model": per_model}


# ---------------------------------------------------------------------------------------------
# Pairwise verdicts


@dataclass(frozen=True)
class _Game:
    """A verdict in a canonical frame: m1 < m2 by name; outcome 0 = m1 won, 1 = m2 won, 2 = tie."""

    m1: str
    m2: str
    item: str
    turn: int
    repeat: int
    outcome: int
    first: int | None  # 0 = m1 was shown first, 1 = m2, None = not known
    h1: str | None
    h2: str | None


_CODE = {"a": 0, "b": 1, "tie": 2}


def _canonical(p: PairJudgment) -> _Game:
    code = _CODE[p.winner]
    first = p.first_shown
    if p.model_a <= p.model_b:
        return _Game(p.model_a, p.model_b, p.item, p.turn, p.repeat or 0, code,
                     None if first is None else (0 if first == p.model_a else 1), p.hash_a, p.hash_b)
    return _Game(p.model_b, p.model_a, p.item, p.turn, p.repeat or 0, {0: 1, 1: 0, 2: 2}[code],
                 None if first is None else (0 if first == p.model_b else 1), p.hash_b, p.hash_a)


@dataclass(frozen=True)
class _Verdict:
    item: str
    outcome: int
    h1: str | None
    h2: str | None


def _combine(outcomes: list[int]) -> int:
    """FastChat's rule over the games of one comparison: one winner throughout wins, else a tie."""
    return outcomes[0] if len(set(outcomes)) == 1 else 2


def _pair_verdicts(s: JudgmentSet, mode: _RepeatMode) -> dict[tuple[Any, ...], _Verdict]:
    first_rep = s.repeats[0] if s.repeats else 0
    games: dict[tuple[Any, ...], list[_Game]] = defaultdict(list)
    for p in s.pairs:
        g = _canonical(p)
        if mode == "match":
            games[(g.m1, g.m2, g.item, g.turn, g.repeat)].append(g)
        elif mode == "ignore" or g.repeat == first_rep:
            games[(g.m1, g.m2, g.item, g.turn)].append(g)
    return {k: _Verdict(v[0].item, _combine([g.outcome for g in v]), v[0].h1, v[0].h2) for k, v in games.items()}


def _derived_verdicts(s: JudgmentSet, keys: Iterable[tuple[Any, ...]], mode: _RepeatMode
                      ) -> dict[tuple[Any, ...], _Verdict]:
    """Verdicts from scores on the comparisons `keys` (m1, m2, item, turn[, repeat]): the higher
    score wins, equal scores tie."""
    index = _single_index(s, mode)
    out = {}
    for k in keys:
        m1, m2, rest = k[0], k[1], k[2:]
        x, y = index.get((m1, *rest)), index.get((m2, *rest))
        if x is None or y is None:
            continue
        outcome = 0 if x.score > y.score else 1 if y.score > x.score else 2
        out[k] = _Verdict(x.item, outcome, x.answer_hash, y.answer_hash)
    return out


def _verdict_fn(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], Stats]:
    def fn(idx: np.ndarray) -> Stats:
        a, b = x[idx], y[idx]
        decided = (a != 2) & (b != 2)
        return {"agreement": _share(a == b), "agreement_without_ties": _share(a[decided] == b[decided]),
                "kappa": cohen_kappa(a, b, 3), "ties_a": _share(a == 2), "ties_b": _share(b == 2)}
    return fn


def verdict_statistics(rows: list[tuple[str, int, int]], opts: Options, what: str) -> dict[str, Any]:
    """Agreement of paired verdicts (item, A's outcome, B's outcome)."""
    x = np.array([r[1] for r in rows], dtype=int)
    y = np.array([r[2] for r in rows], dtype=int)
    est = bootstrap((r[0] for r in rows), _verdict_fn(x, y), opts.bootstrap, opts.seed, what)
    table = np.zeros((3, 3), dtype=int)
    np.add.at(table, (x, y), 1)
    return {"n": len(rows), "without_ties": int(((x != 2) & (y != 2)).sum()), "items": len({r[0] for r in rows}),
            "statistics": _estimates(est),
            "table": {"rows_a_cols_b": list(OUTCOMES), "counts": table.tolist()}}


def _hash_state(va: _Verdict, vb: _Verdict) -> str:
    states = {_answers(va.h1, vb.h1), _answers(va.h2, vb.h2)}
    if "different" in states:
        return "different"
    return "unknown" if "unknown" in states else "same"


def _join_verdicts(va: dict[tuple[Any, ...], _Verdict], vb: dict[tuple[Any, ...], _Verdict], opts: Options
                   ) -> tuple[list[tuple[str, int, int]], dict[str, Any], int]:
    shared = [k for k in va if k in vb]
    counts: dict[str, int] = defaultdict(int)
    rows = []
    for k in shared:
        state = _hash_state(va[k], vb[k])
        counts[state] += 1
        if not opts.same_answers or state == "same":
            rows.append((va[k].item, va[k].outcome, vb[k].outcome))
    return rows, _answer_filter(counts, opts, len(shared)) if shared else {}, len(shared)


def _game_rows(a: JudgmentSet, b: JudgmentSet, mode_a: _RepeatMode, mode_b: _RepeatMode, opts: Options
               ) -> list[tuple[str, int, int]]:
    def index(s: JudgmentSet, mode: _RepeatMode) -> dict[tuple[Any, ...], _Game]:
        first_rep = s.repeats[0] if s.repeats else 0
        out: dict[tuple[Any, ...], _Game] = {}
        for p in s.pairs:
            g = _canonical(p)
            if g.first is None:
                continue
            if mode == "match":
                out[(g.m1, g.m2, g.item, g.turn, g.repeat, g.first)] = g
            elif mode == "ignore" or g.repeat == first_rep:
                out[(g.m1, g.m2, g.item, g.turn, g.first)] = g
        return out
    ga, gb = index(a, mode_a), index(b, mode_b)
    rows = []
    for k, x in ga.items():
        y = gb.get(k)
        if y is None:
            continue
        if opts.same_answers and not (x.h1 and x.h1 == y.h1 and x.h2 and x.h2 == y.h2):
            continue
        rows.append((x.item, x.outcome, y.outcome))
    return rows


def compare_verdicts(a: JudgmentSet, b: JudgmentSet, opts: Options) -> dict[str, Any]:
    """Two pairwise sets, or a pairwise set and a single-score set (turned into verdicts)."""
    if opts.same_answers:
        _need_hashes((a, b))
    mode_a, mode_b, notes = _repeat_modes(a, b)
    va = _pair_verdicts(a, mode_a) if a.kind == "pairwise" else None
    vb = _pair_verdicts(b, mode_b) if b.kind == "pairwise" else None
    if va is None and vb is not None:
        va = _derived_verdicts(a, vb, mode_a)
        notes.append("A's scores are turned into verdicts: the higher score wins, equal scores tie")
    if vb is None and va is not None:
        vb = _derived_verdicts(b, va, mode_b)
        notes.append("B's scores are turned into verdicts: the higher score wins, equal scores tie")
    assert va is not None and vb is not None
    rows, answers, joined = _join_verdicts(va, vb, opts)
    if not joined:
        raise _no_join(a, b)
    out: dict[str, Any] = {"kind": "pairwise" if a.kind == b.kind else "single-vs-pairwise", "joined": joined,
                           "answers": answers, "notes": notes}
    out.update(verdict_statistics(rows, opts, "A vs B"))
    if a.kind == b.kind == "pairwise":
        games = _game_rows(a, b, mode_a, mode_b, opts)
        if games:
            out["games"] = verdict_statistics(games, opts, "A vs B games")
    return out


def _pair_codes(outcome_first: int, outcome_second: int) -> str:
    """The verdicts of a both-order pair in terms of position: game X shows m1 first, game Y m2."""
    pos = lambda outcome, first: "tie" if outcome == 2 else ("first" if outcome == first else "second")
    x, y = pos(outcome_first, 0), pos(outcome_second, 1)
    if (x, y) in (("first", "second"), ("second", "first"), ("tie", "tie")):
        return "consistent"
    if x == y:
        return f"both_{x}"
    return "lean_first" if "first" in (x, y) else "lean_second"


def position_bias(s: JudgmentSet, opts: Options) -> dict[str, Any] | None:
    """Position bias of a set holding comparisons judged in both orders."""
    if s.kind != "pairwise":
        return None
    groups: dict[tuple[Any, ...], list[_Game]] = defaultdict(list)
    for p in s.pairs:
        g = _canonical(p)
        if g.first is not None:
            groups[(g.m1, g.m2, g.item, g.turn)].append(g)
    pairs: list[tuple[str, str]] = []
    same_order: list[tuple[str, bool]] = []
    for games in groups.values():
        by_first: dict[int, list[_Game]] = {0: [], 1: []}
        for g in sorted(games, key=lambda g: g.repeat):
            by_first[g.first or 0].append(g)
        for gx, gy in zip(by_first[0], by_first[1]):
            pairs.append((gx.item, _pair_codes(gx.outcome, gy.outcome)))
        for order in by_first.values():
            same_order.extend((order[0].item, order[i].outcome == order[0].outcome) for i in range(1, len(order)))
    if not pairs:
        return None
    kinds = np.array([c for _, c in pairs])
    leans_first = np.isin(kinds, ("both_first", "lean_first"))
    inconsistent = kinds != "consistent"

    def fn(idx: np.ndarray) -> Stats:
        inc = inconsistent[idx]
        return {"consistency": _share(~inc), "first_preference": _share(leans_first[idx][inc]),
                "both_first": _share(kinds[idx] == "both_first"), "both_second": _share(kinds[idx] == "both_second")}
    est = bootstrap((i for i, _ in pairs), fn, opts.bootstrap, opts.seed, "position bias")
    n_inc, n_first = int(inconsistent.sum()), int(leans_first.sum())
    games = [_canonical(p) for p in s.pairs if p.order is not None]
    won = [(g.item, g.outcome == g.first) for g in games if g.outcome != 2]
    won_first = np.array([w for _, w in won], dtype=bool)
    first_est = bootstrap((i for i, _ in won), lambda idx: {"first_win_rate": _share(won_first[idx])},
                          opts.bootstrap, opts.seed, "first-position wins")
    counts = {k: int((kinds == k).sum()) for k in ("consistent", "both_first", "both_second", "lean_first",
                                                    "lean_second")}
    out: dict[str, Any] = {
        "both_order_pairs": len(pairs), "items": len({i for i, _ in pairs}), "counts": counts,
        "inconsistent": n_inc, "leaning_first": n_first,
        "statistics": _estimates({**est, **first_est}),
        "sign_test_p": _round(sign_test_p(n_first, n_inc)),
        "games_with_a_winner": len(won), "games_won_by_first": int(won_first.sum()),
        "first_win_sign_test_p": _round(sign_test_p(int(won_first.sum()), len(won))),
    }
    if same_order:
        out["same_order_repeats"] = {"n": len(same_order),
                                     "consistent": _round(float(np.mean([c for _, c in same_order])))}
    return out


def self_consistency_verdicts(s: JudgmentSet, opts: Options) -> dict[str, Any] | None:
    reps = s.repeats
    if s.kind != "pairwise" or len(reps) < 2:
        return None
    full = _pair_verdicts(s, "match")
    by_rep: dict[int, dict[tuple[Any, ...], _Verdict]] = defaultdict(dict)
    for k, v in full.items():
        by_rep[k[4]][k[:4]] = v
    pairs = []
    for r1, r2 in itertools.combinations(reps, 2):
        rows = [(v.item, v.outcome, by_rep[r2][k].outcome) for k, v in by_rep[r1].items() if k in by_rep[r2]]
        if rows:
            pairs.append({"repeats": [r1, r2], **verdict_statistics(rows, opts, f"repeats {r1}-{r2}")})
    return {"kind": "pairwise", "repeats": reps, "pairs": pairs} if pairs else None


# ---------------------------------------------------------------------------------------------
# Model pair by model pair


def _pair_shares(s: JudgmentSet, wanted: set[tuple[str, str]] | None) -> dict[tuple[str, str], tuple[int, float]]:
    """Per unordered model pair (m1 < m2): (comparisons, share won by m1 with ties as halves)."""
    tally: dict[tuple[str, str], list[float]] = defaultdict(list)
    if s.kind == "pairwise":
        for k, v in _pair_verdicts(s, "match").items():
            tally[(k[0], k[1])].append({0: 1.0, 1: 0.0, 2: 0.5}[v.outcome])
    else:
        by_answer: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
        for j in s.singles:
            by_answer[(j.item, j.turn, j.repeat or 0)][j.model] = j.score
        for scores in by_answer.values():
            for m1, m2 in itertools.combinations(sorted(scores), 2):
                if wanted is None or (m1, m2) in wanted:
                    x, y = scores[m1], scores[m2]
                    tally[(m1, m2)].append(1.0 if x > y else 0.0 if y > x else 0.5)
    return {k: (len(v), float(np.mean(v))) for k, v in tally.items() if wanted is None or k in wanted}


def compare_by_pair(a: JudgmentSet, b: JudgmentSet, opts: Options) -> dict[str, Any]:
    pa = _pair_shares(a, None if a.kind == "pairwise" else _pairs_of(b))
    pb = _pair_shares(b, set(pa))
    shared = sorted(k for k in pa if k in pb)
    if not shared:
        raise JevalError(f"A and B share no model pair: A ({a.label}) compares {len(pa)} pairs, B ({b.label}) "
                         f"{len(pb)}; are they judgments of the same models? (match names with --rename OLD=NEW)")
    x = np.array([pa[k][1] for k in shared])
    y = np.array([pb[k][1] for k in shared])
    side = lambda v: np.where(v > 0.5, 0, np.where(v < 0.5, 1, 2))
    sx, sy = side(x), side(y)
    models = sorted({m for k in shared for m in k})

    def fn(idx: np.ndarray) -> Stats:
        stats: Stats = {"spearman": spearman(x[idx], y[idx]), "kendall_tau_b": kendall_tau_b(x[idx], y[idx]),
                        "preferred_agreement": _share(sx[idx] == sy[idx]),
                        "kappa": cohen_kappa(sx[idx], sy[idx], 3)}
        ma, mb = _model_rates([shared[i] for i in idx], x[idx], y[idx], models)
        stats["model_spearman"] = spearman(ma, mb) if len(ma) >= MIN_MODELS else None
        return stats
    est = bootstrap(("|".join(k) for k in shared), fn, opts.bootstrap, opts.seed, "model pairs")
    table = [{"model_1": k[0], "model_2": k[1], "n_a": pa[k][0], "share_a": round(pa[k][1], 4),
              "n_b": pb[k][0], "share_b": round(pb[k][1], 4)} for k in shared]
    return {"kind": "by-pair", "pairs": len(shared), "models": len(models), "statistics": _estimates(est),
            "per_pair": table,
            "notes": ["per model pair: the share of comparisons won by model_1 (ties count half); intervals "
                      "resample model pairs"]}


def _pairs_of(s: JudgmentSet) -> set[tuple[str, str]]:
    if s.kind == "pairwise":
        return {(min(p.model_a, p.model_b), max(p.model_a, p.model_b)) for p in s.pairs}
    return set(itertools.combinations(s.models, 2))


def _model_rates(keys: list[tuple[str, str]], x: np.ndarray, y: np.ndarray, models: list[str]
                 ) -> tuple[np.ndarray, np.ndarray]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for (m1, m2), va, vb in zip(keys, x, y):
        for m, sa, sb in ((m1, va, vb), (m2, 1 - va, 1 - vb)):
            t = sums[m]
            t[0] += sa
            t[1] += sb
            t[2] += 1
    present = [m for m in models if m in sums]
    return (np.array([sums[m][0] / sums[m][2] for m in present]), np.array([sums[m][1] / sums[m][2] for m in present]))


# ---------------------------------------------------------------------------------------------
# The report


def _same_judge(a: JudgmentSet, b: JudgmentSet) -> bool:
    return a.judge is not None and a.judge == b.judge and a.kind == b.kind and a.format == b.format


def _merged_repeats(a: JudgmentSet, b: JudgmentSet) -> JudgmentSet:
    """Two runs of one judge as one set with repeats (A's, then B's after them)."""
    from dataclasses import replace

    shift = (max(a.repeats) + 1) if a.repeats else 1
    base = min(b.repeats) if b.repeats else 0
    singles = a.singles + tuple(replace(j, repeat=(j.repeat or 0) - base + shift) for j in b.singles)
    pairs = a.pairs + tuple(replace(p, repeat=(p.repeat or 0) - base + shift) for p in b.pairs)
    return replace(a, label=f"{a.label} (A and B)", source=f"{a.source} + {b.source}", singles=singles, pairs=pairs)


def _self_consistency(s: JudgmentSet, opts: Options) -> dict[str, Any] | None:
    return self_consistency_scores(s, opts) if s.kind == "single" else self_consistency_verdicts(s, opts)


def agreement(a: JudgmentSet, b: JudgmentSet | None, opts: Options) -> dict[str, Any]:
    """The whole report: the sets, A against B, self-consistency and position bias where they apply."""
    report: dict[str, Any] = {"options": opts.as_dict(), "sets": {"A": a.describe()}}
    sets = {"A": a}
    if b is not None:
        report["sets"]["B"] = b.describe()
        sets["B"] = b
        if opts.by_pair:
            report["comparison"] = compare_by_pair(a, b, opts)
        elif a.kind == b.kind == "single":
            report["comparison"] = compare_scores(a, b, opts)
        else:
            report["comparison"] = compare_verdicts(a, b, opts)
    consistency = {name: r for name, s in sets.items() if (r := _self_consistency(s, opts)) is not None}
    if b is not None and _same_judge(a, b) and len(a.repeats) == 1 and len(b.repeats) == 1:
        merged = _self_consistency(_merged_repeats(a, b), opts)
        if merged is not None:
            consistency["A+B"] = merged
    bias = {name: r for name, s in sets.items() if (r := position_bias(s, opts)) is not None}
    if b is None and not consistency and not bias:
        raise JevalError(f"{a.label} ({a.source}) holds neither repeats nor both orders of a comparison, so there is "
                         "nothing to measure in it alone; give a second set B to compare it with")
    report["self_consistency"] = consistency
    report["position_bias"] = bias
    return report


# ---------------------------------------------------------------------------------------------
# Text


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _est(e: dict[str, Any]) -> str:
    text = _num(e["value"])
    if e.get("ci95"):
        text += f" [{_num(e['ci95'][0])}, {_num(e['ci95'][1])}]"
    return text


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            .rstrip() for r in rows]


_NAMES = {
    "spearman": "Spearman rho", "kendall_tau_b": "Kendall tau-b", "weighted_kappa": "weighted kappa",
    "exact": "exact agreement", "within_1": "within +-1", "mean_diff": "mean diff (B - A)",
    "model_spearman": "per-model Spearman", "model_kendall_tau_b": "per-model Kendall tau-b",
    "agreement": "agreement", "agreement_without_ties": "agreement without ties", "kappa": "Cohen's kappa",
    "ties_a": "ties in A", "ties_b": "ties in B", "consistency": "consistency (same verdict in both orders)",
    "first_preference": "first-position preference (of inconsistent)", "both_first": "first shown won both games",
    "both_second": "second shown won both games", "first_win_rate": "first-shown win rate (games with a winner)",
    "preferred_agreement": "same preferred model", "mean_sd": "mean per-answer SD", "all_equal": "all repeats equal",
}


def _stat_lines(stats: dict[str, Any], indent: str = "  ") -> list[str]:
    return _table([[_NAMES.get(k, k), _est(v)] for k, v in stats.items()], indent)


def _answers_line(ans: dict[str, Any]) -> str:
    if not ans:
        return ""
    text = f"  answer texts: {ans['same']} same, {ans['different']} different, {ans['unknown']} unknown"
    if "dropped" in ans:
        text += f"; --same-answers dropped {ans['dropped']}"
    return text


def _comparison_lines(c: dict[str, Any], weights: str) -> list[str]:
    lines = []
    if c["kind"] == "single":
        lines.append(f"A vs B (scores): {c['n']} joined judgments of {c['models']} models on {c['items']} items "
                     f"(only in A: {c['only_in_a']}, only in B: {c['only_in_b']}); kappa weights: {weights}")
        lines.append(_answers_line(c["answers"]))
        lines += _stat_lines(c["statistics"])
        lines.append("  per model:")
        rows = [["model", "n", "mean A", "mean B", "B - A"]]
        rows += [[r["model"], str(r["n"]), f"{r['mean_a']:.3f}", f"{r['mean_b']:.3f}", f"{r['diff']:+.3f}"]
                 for r in c["per_model"]]
        lines += _table(rows, "    ")
    elif c["kind"] == "by-pair":
        lines.append(f"A vs B (model pair by pair): {c['pairs']} shared pairs of {c['models']} models")
        lines += _stat_lines(c["statistics"])
        rows = [["model_1", "model_2", "n A", "share A", "n B", "share B"]]
        rows += [[r["model_1"], r["model_2"], str(r["n_a"]), f"{r['share_a']:.3f}", str(r["n_b"]),
                  f"{r['share_b']:.3f}"] for r in c["per_pair"]]
        lines += _table(rows, "    ")
    else:
        lines.append(f"A vs B (verdicts, {c['kind']}): {c['n']} joined comparisons on {c['items']} items "
                     f"({c['without_ties']} where neither is a tie)")
        lines.append(_answers_line(c["answers"]))
        lines += _stat_lines(c["statistics"])
        lines += _confusion(c["table"])
        lines.append("    (model_1: the model of each pair whose name sorts first)")
        if "games" in c:
            g = c["games"]
            lines.append(f"  game by game (same order shown): {g['n']} games")
            lines += _stat_lines(g["statistics"], "    ")
    lines += [f"  note: {n}" for n in c.get("notes", [])]
    return [line for line in lines if line]


def _confusion(t: dict[str, Any]) -> list[str]:
    rows = [["A \\ B", *t["rows_a_cols_b"]]]
    rows += [[name, *map(str, counts)] for name, counts in zip(t["rows_a_cols_b"], t["counts"])]
    return _table(rows, "    ")


def _consistency_lines(name: str, c: dict[str, Any], weights: str) -> list[str]:
    lines = [f"self-consistency of {name}: repeats {', '.join(map(str, c['repeats']))}"]
    if c["kind"] == "single":
        lines.append(f"  {c['answers']} answers judged at least twice")
        lines += _stat_lines(c["spread"])
        rows = [["model", "answers", "mean SD", "all equal", "exact", "within 1", "kappa", "mean by repeat"]]
        rows += [[r["model"], str(r["answers"]), _num(r["mean_sd"]), _num(r["all_equal"]), _num(r["exact"]),
                  _num(r["within_1"]), _num(r["weighted_kappa"]),
                  " / ".join(_num(v, 2) for v in r["mean_by_repeat"])] for r in c["per_model"]]
        lines += _table(rows, "    ")
    for p in c["pairs"]:
        lines.append(f"  repeat {p['repeats'][0]} vs {p['repeats'][1]}: n {p['n']}")
        lines += _stat_lines(p["statistics"], "    ")
    return lines


def _bias_lines(name: str, b: dict[str, Any]) -> list[str]:
    c = b["counts"]
    lines = [f"position bias of {name}: {b['both_order_pairs']} both-order pairs on {b['items']} items",
             f"  consistent {c['consistent']}, first shown won both {c['both_first']}, second shown won both "
             f"{c['both_second']}, first won one and tie {c['lean_first']}, second won one and tie {c['lean_second']}"]
    lines += _stat_lines(b["statistics"])
    lines.append(f"  inconsistent pairs leaning to the first position: {b['leaning_first']} of {b['inconsistent']}, "
                 f"sign test p = {_num(b['sign_test_p'], 4)}")
    lines.append(f"  games won by the first-shown answer: {b['games_won_by_first']} of {b['games_with_a_winner']}, "
                 f"sign test p = {_num(b['first_win_sign_test_p'], 4)}")
    if "same_order_repeats" in b:
        s = b["same_order_repeats"]
        lines.append(f"  same-order repeats: {s['n']}, same verdict {_num(s['consistent'])}")
    return lines


def format_report(report: dict[str, Any]) -> str:
    opts = report["options"]
    lines = []
    for name, s in report["sets"].items():
        scale = f", scale {s['scale'][0]}-{s['scale'][1]}" if s.get("scale") else ""
        lines.append(f"{name}: {s['label']} — {s['format']} ({s['kind']}{scale}), {s['judgments']} judgments, "
                     f"{s['models']} models, {s['items']} items, {s['repeats']} repeat(s); {s['source']}")
        lines += [f"  note: {n}" for n in s["notes"]]
    ci = f"95% intervals: {opts['bootstrap']} bootstrap resamples of items, seed {opts['seed']}"
    lines.append(ci if opts["bootstrap"] else "no intervals (--bootstrap 0)")
    if "comparison" in report:
        lines += _comparison_lines(report["comparison"], opts["weights"])
    for name, c in report["self_consistency"].items():
        lines += _consistency_lines(name, c, opts["weights"])
    for name, b in report["position_bias"].items():
        lines += _bias_lines(name, b)
    return "\n".join(lines)
