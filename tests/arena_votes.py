"""Vote stores filled with many voted battles at once, for the leaderboard tests and benchmark.
Rows go in through SQLAlchemy in one transaction per thousand battles (the arena's own path, one
battle at a time, would take minutes for 10,000); the rows are what the arena itself writes."""

from __future__ import annotations

import json
import random
import time

from jeval.arena.store import VoteStore, battles_table, turns_table, votes_table


def fill(store: VoteStore, battles: int, models: list[str], answer_chars: int = 200, seed: int = 0,
         strengths: dict[str, float] | None = None) -> None:
    """`battles` voted anonymous battles between random pairs of `models`, each with one turn whose
    two answers have `answer_chars` characters; the winner follows `strengths` (Elo points)."""
    rng = random.Random(seed)
    strengths = strengths or {m: 25.0 * i for i, m in enumerate(models)}
    filler = "日本語の回答です。" * (answer_chars // 9 + 1)
    now = time.time() - battles
    for start in range(0, battles, 1000):
        rows_b, rows_t, rows_v = [], [], []
        for i in range(start, min(battles, start + 1000)):
            a, b = rng.sample(models, 2)
            p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
            r = rng.random()
            winner = "model_a" if r < p * 0.9 else "model_b" if r < 0.9 else "tie"
            battle_id = f"bench-{seed}-{i:07d}"
            session = f"s{i % 97:02d}"
            rows_b.append({"id": battle_id, "mode": "anony", "model_a": a, "model_b": b, "session": session,
                           "created": now + i, "status": "voted", "flags": "[]"})
            rows_t.append({"battle_id": battle_id, "turn": 0, "prompt": f"質問 {i}", "answer_a": filler[:answer_chars],
                           "answer_b": filler[:answer_chars], "error_a": None, "error_b": None,
                           "started": now + i, "finished": now + i + 0.5})
            rows_v.append({"battle_id": battle_id, "winner": winner, "tstamp": now + i + 1, "session": session,
                           "flags": json.dumps([])})
        with store.engine.begin() as c:
            c.execute(battles_table.insert(), rows_b)
            c.execute(turns_table.insert(), rows_t)
            c.execute(votes_table.insert(), rows_v)
