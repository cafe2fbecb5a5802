"""`jeval judge agreement` on a large single-score comparison: 150 models x 100 items (15,000 joined
judgments, 1-5 scale), 1,000 bootstrap resamples of items.

jeval's method: each resample's statistics come from the joint count table of the two judges'
scores (Spearman from mid-ranks, Kendall's tau-b from corner sums, kappa from the table), O(cells)
per resample. Baseline: the same resamples with scipy.stats.spearmanr and kendalltau on the
resampled rows (run for a few resamples and extrapolated to 1,000).

    python tests/benchmarks/bench_judge_agreement.py [--models 150] [--items 100] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import kendalltau, spearmanr

from jeval.judges.agreement import Options, score_statistics
from jeval.judges.judgment_sets import SingleJudgment


def synthetic(models: int, items: int, seed: int = 0) -> list[tuple[SingleJudgment, SingleJudgment]]:
    rng = np.random.default_rng(seed)
    quality = rng.normal(0, 1, models)[:, None] + rng.normal(0, 1, (models, items))
    a = np.clip(np.round(3 + quality + rng.normal(0, 0.6, quality.shape)), 1, 5)
    b = np.clip(np.round(3 + quality + rng.normal(0, 0.6, quality.shape)), 1, 5)
    return [(SingleJudgment(f"m{m}", str(i), 1, float(a[m, i])), SingleJudgment(f"m{m}", str(i), 1, float(b[m, i])))
            for m in range(models) for i in range(items)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()
    rows = synthetic(args.models, args.items)

    started = time.perf_counter()
    out = score_statistics(rows, Options(bootstrap=args.bootstrap, seed=0))
    jeval_s = time.perf_counter() - started

    a = np.array([x.score for x, _ in rows])
    b = np.array([y.score for _, y in rows])
    item = np.array([int(x.item) for x, _ in rows])
    members = [np.flatnonzero(item == i) for i in range(args.items)]
    rng = np.random.default_rng(0)
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        idx = np.concatenate([members[i] for i in rng.integers(0, args.items, args.items)])
        spearmanr(a[idx], b[idx])
        kendalltau(a[idx], b[idx])
    baseline_s = (time.perf_counter() - started) / rounds * args.bootstrap

    s = out["statistics"]
    print(f"{len(rows)} joined judgments, {args.models} models, {args.items} items, {args.bootstrap} resamples")
    print(f"spearman {s['spearman']['value']:.4f} {s['spearman']['ci95']}  kendall {s['kendall_tau_b']['value']:.4f}  "
          f"kappa {s['weighted_kappa']['value']:.4f}")
    print(f"jeval (count tables, all statistics incl. per-model): {jeval_s:.2f} s")
    print(f"baseline (scipy on resampled rows, Spearman + Kendall only, extrapolated): {baseline_s:.2f} s")


if __name__ == "__main__":
    main()
