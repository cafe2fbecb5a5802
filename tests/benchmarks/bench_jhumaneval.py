"""JHumanEval's canonical solutions, and wrong ones, through the two-sandbox scorer: how many pass
and how long the whole set takes. Reads upstream's `jhuman-eval.jsonl.gz` (a downloaded copy, or
the one `jeval data prepare jhumaneval` keeps under DATA_DIR/raw/) or a prepared `problems.jsonl`.
Needs bubblewrap.

    python tests/benchmarks/bench_jhumaneval.py PATH [--workers N] [--prompt ja|en]

Expected: every canonical solution passes; no `return None`, and no other problem's solution, does.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from jeval.tasks.jhumaneval.data import read_prepared, read_upstream
from jeval.tasks.jhumaneval.scoring import Problem, ScoringConfig, check_samples
from jeval.tasks.sandbox import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="jhuman-eval.jsonl.gz or a prepared problems.jsonl")
    parser.add_argument("--workers", type=int, default=ScoringConfig().workers)
    parser.add_argument("--prompt", choices=("ja", "en"), default="ja")
    args = parser.parse_args()
    records = read_prepared(args.path.parent) if args.path.name == "problems.jsonl" else read_upstream(args.path)
    field = "prompt" if args.prompt == "ja" else "prompt_en"
    problems = [Problem(r["task_id"], r[field], r["test"], r["entry_point"]) for r in records]
    config = ScoringConfig(workers=args.workers)
    sandbox = Sandbox.create()
    sets = {
        "canonical": [r["canonical_solution"] for r in records],
        "return None": ["    return None\n"] * len(records),
        "the next problem's solution": [records[(i + 1) % len(records)]["canonical_solution"]
                                        for i in range(len(records))],
    }
    print(f"{len(problems)} problems, {args.workers} workers, {args.prompt} prompts")
    for label, completions in sets.items():
        started = time.monotonic()
        verdicts = check_samples(list(zip(problems, completions)), config, sandbox)
        took = time.monotonic() - started
        kinds = Counter(v.result.split(" (", 1)[0] for v in verdicts).most_common(4)
        print(f"{label:28s} {sum(v.passed for v in verdicts):4d}/{len(verdicts)} pass  {took:6.1f} s  "
              f"rounds <= {max(v.rounds for v in verdicts)}  {kinds}")
        odd = [(p.task_id, v.result) for p, v in zip(problems, verdicts) if v.passed != (label == "canonical")]
        for task_id, result in odd:
            print(f"    unexpected: {task_id}: {result}")


if __name__ == "__main__":
    main()
