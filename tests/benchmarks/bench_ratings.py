"""Bradley-Terry with 1,000 bootstrap rounds on 100k battles among 20 models.

jeval's method: battles aggregated into (pair, outcome) cells, every bootstrap round drawn at once
as a multinomial over the cells, all rounds fitted together by batched Newton on 20x20 win
matrices, warm-started from the full-data fit. Baseline written for this benchmark: each round
resamples the 100k battles one by one and refits the per-battle logistic likelihood with scipy's
L-BFGS (what a straightforward port of the per-round refit does). The baseline runs a few rounds
and is extrapolated to 1,000.

    python tests/benchmarks/bench_ratings.py [--battles 100000] [--models 20]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.optimize import minimize

from jeval.arena.battles import Battle
from jeval.arena.ratings import Cells, bootstrap, bootstrap_strengths, fit_bt, to_rating


def synthetic(n_battles: int, n_models: int, seed: int = 0) -> list[Battle]:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    p = 1 / (1 + np.exp(-(strength[a] - strength[b])))
    u = rng.random(n_battles)
    winner = np.where(u < 0.1, "tie", np.where(u < 0.1 + 0.9 * p, "model_a", "model_b"))
    return [Battle(f"model-{i:02d}", f"model-{j:02d}", w, float(t)) for t, (i, j, w) in enumerate(zip(a, b, winner))]


def baseline_fit(ia: np.ndarray, ib: np.ndarray, y: np.ndarray, m: int) -> np.ndarray:
    """Per-battle logistic likelihood (ties as 0.5), fitted from scratch."""

    def loss(s):
        d = s[ia] - s[ib]
        value = np.logaddexp(0, d) - y * d
        p = 1 / (1 + np.exp(-d))
        g = np.zeros(m)
        np.add.at(g, ia, p - y)
        np.add.at(g, ib, y - p)
        return value.sum(), g

    s = minimize(loss, np.zeros(m), jac=True, method="L-BFGS-B", options={"gtol": 1e-8, "maxiter": 1000}).x
    return s - s.mean()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--battles", type=int, default=100_000)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--baseline-rounds", type=int, default=20)
    args = parser.parse_args()

    battles = synthetic(args.battles, args.models)
    t0 = time.perf_counter()
    cells = Cells.of(battles)
    t_cells = time.perf_counter() - t0
    t0 = time.perf_counter()
    point = fit_bt(cells.win_matrix(), prior=0.0)
    samples = bootstrap_strengths(cells, args.rounds, seed=0, prior=0.0, start=point)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    bootstrap_strengths(cells, args.rounds, seed=0, prior=0.0)
    t_cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    bootstrap(battles, rounds=args.rounds, seed=0)
    t_public = time.perf_counter() - t0
    lower, upper = np.quantile(to_rating(samples), [0.025, 0.975], axis=0)

    index = {m: i for i, m in enumerate(cells.models)}
    ia = np.array([index[b.model_a] for b in battles])
    ib = np.array([index[b.model_b] for b in battles])
    y = np.array([{"model_a": 1.0, "model_b": 0.0}.get(b.winner, 0.5) for b in battles])
    m = len(cells.models)
    reference = baseline_fit(ia, ib, y, m)
    rng = np.random.default_rng(1)
    base_samples = []
    t0 = time.perf_counter()
    for _ in range(args.baseline_rounds):
        k = rng.integers(0, len(battles), len(battles))
        base_samples.append(baseline_fit(ia[k], ib[k], y[k], m))
    t_base_round = (time.perf_counter() - t0) / args.baseline_rounds
    t_base = t_base_round * args.rounds

    print(f"{len(battles):,} battles, {m} models, {len(cells.count)} distinct cells (aggregation {t_cells:.2f} s)")
    print(f"jeval (multinomial cells + batched Newton, warm start): {args.rounds} rounds in {t_fast:.2f} s "
          f"(cold start {t_cold:.2f} s); arena.ratings.bootstrap() on the battle list, end to end: {t_public:.2f} s")
    print(f"baseline (per-round resample + L-BFGS refit): {t_base_round:.3f} s/round, "
          f"{args.rounds} rounds ≈ {t_base:.0f} s (extrapolated from {args.baseline_rounds} rounds)")
    print(f"speed-up: {t_base / t_fast:.0f}x ({t_base / t_public:.0f}x end to end, aggregation included)")
    print(f"point fit agreement with the baseline: max |Δrating| = "
          f"{np.abs(to_rating(point) - to_rating(reference)).max():.2e}")
    base_sd = (to_rating(np.array(base_samples))).std(axis=0)
    fast_sd = to_rating(samples).std(axis=0)
    print(f"bootstrap spread, median over models: jeval sd {np.median(fast_sd):.2f}, baseline sd "
          f"{np.median(base_sd):.2f} ({args.baseline_rounds} rounds); median 95% width {np.median(upper - lower):.2f}")
    assert math.isfinite(t_fast)


if __name__ == "__main__":
    main()
