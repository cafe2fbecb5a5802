"""Cross-check of the Bradley-Terry code on the pair counts of the Chatbot Arena paper (Chiang et
al. 2024, Figure 2): a CSV with model_a, model_b, n, wins_a, wins_b, whose models are listed in
the paper's ranking order. Not a test: the data is not shipped with jeval.

    python tests/benchmarks/check_ratings_paper.py PATH/chatbot_arena_paper_fig2_pairs.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from scipy.stats import kendalltau, spearmanr

from jeval.arena.battles import Battle
from jeval.arena.ratings import RatingOptions, compute


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("csv", type=Path)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--anchor-mixtral", action="store_true",
                        help="shift so that mixtral-8x7b-instruct-v0.1 is 1114, as FastChat's leaderboard does")
    args = parser.parse_args()
    rows = list(csv.DictReader(args.csv.open(encoding="utf-8")))
    paper_order: list[str] = []
    battles = []
    for r in rows:
        for m in (r["model_a"], r["model_b"]):
            if m not in paper_order:
                paper_order.append(m)
        battles += [Battle(r["model_a"], r["model_b"], "model_a")] * int(r["wins_a"])
        battles += [Battle(r["model_a"], r["model_b"], "model_b")] * int(r["wins_b"])
    anchor = ("mixtral-8x7b-instruct-v0.1", 1114.0) if args.anchor_mixtral else None
    report = compute(battles, RatingOptions(bootstrap=args.bootstrap, seed=0, prior=0.0, anchor=anchor))
    ours = [r.model for r in report.rows]
    print(f"{len(battles):,} battles over {len(rows)} pairs, {len(paper_order)} models; "
          f"{args.bootstrap} bootstrap rounds{'; mixtral anchored at 1114' if anchor else ''}")
    print(f"{'paper':>5} {'ours':>4} {'rank(CI)':>8}  {'model':<28} {'rating':>8}  95% CI")
    for r in report.rows:
        print(f"{paper_order.index(r.model) + 1:>5} {ours.index(r.model) + 1:>4} {r.rank:>8}  {r.model:<28} "
              f"{r.rating:8.1f}  [{r.lower:.1f}, {r.upper:.1f}]")
    paper_pos = [paper_order.index(m) for m in ours]
    print(f"Spearman {spearmanr(range(len(ours)), paper_pos).statistic:.4f}, "
          f"Kendall tau {kendalltau(range(len(ours)), paper_pos).statistic:.4f}")
    rows_by = {r.model: r for r in report.rows}
    swaps = [(a, b) for i, a in enumerate(paper_order) for b in paper_order[i + 1:]
             if rows_by[a].rating < rows_by[b].rating]
    for a, b in swaps:
        overlap = rows_by[a].upper >= rows_by[b].lower and rows_by[b].upper >= rows_by[a].lower
        print(f"order differs: paper puts {a} above {b}; ratings {rows_by[a].rating:.1f} vs "
              f"{rows_by[b].rating:.1f}, intervals {'overlap' if overlap else 'do NOT overlap'}")
    if not swaps:
        print("the Bradley-Terry order equals the paper's order")


if __name__ == "__main__":
    main()
