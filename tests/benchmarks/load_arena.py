"""Bounded load test of the arena on loopback: N concurrent sessions (Gradio clients) each play
B blind battles against two real `transformers serve` endpoints on a tiny checkpoint and vote.
Prints votes/s, vote and turn latencies, and checks in the store that no vote is lost or doubled.

    python tests/benchmarks/load_arena.py --checkpoint ./tiny-ckpt --sessions 32 --battles 4
    ... --store postgresql+psycopg://postgres@127.0.0.1:5432/arena   # an empty PostgreSQL database instead of SQLite
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena_support import run_load, start_arena, start_endpoints, write_config

from jeval.arena.store import VoteStore


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=os.environ.get("JEVAL_TEST_CHECKPOINT"),
                        required="JEVAL_TEST_CHECKPOINT" not in os.environ,
                        help="a checkpoint from `jeval train --preset tiny` (default: $JEVAL_TEST_CHECKPOINT)")
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--battles", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=600)
    parser.add_argument("--store", help="vote-store URL of an empty store (default: a new SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        endpoints = start_endpoints(Path(args.checkpoint), root)
        store_url = args.store or f"sqlite:///{root / 'votes.sqlite'}"
        config = write_config(root / "arena.yaml", endpoints.models(max_tokens=args.max_tokens), store_url,
                              limits={"concurrency": max(16, args.sessions)}, ui={"language": "en"})
        app = start_arena(config, root / "arena.log")
        try:
            result = run_load(app.url, args.sessions, args.battles, args.deadline)
        finally:
            app.close()
            endpoints.close()
        store = VoteStore(store_url)
        rows = store.export()
        store.close()
    print(result.summary())
    per_session = collections.Counter(r["judge"] for r in rows)
    lost = result.accepted - len(rows)
    doubled = len(rows) - len({r["question_id"] for r in rows})
    exact = sum(v == args.battles for v in per_session.values())
    print(f"store: {len(rows)} votes, lost {lost}, duplicated {doubled}, "
          f"sessions with exactly {args.battles} votes: {exact}/{args.sessions}")
    for error in result.errors[:10]:
        print("error:", error)
    return 0 if not result.errors and lost == 0 and doubled == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
