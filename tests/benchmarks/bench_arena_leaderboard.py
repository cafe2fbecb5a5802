"""How long opening the arena's leaderboard tab takes as the vote store grows.

For each size (default 1,000 and 10,000 voted battles, each with Japanese answers of
--answer-chars characters a side: about 290 MB of store at 10,000, as in the issue), a SQLite vote
store is filled and timed three ways:

- before: what the tab did on every open until now, rating every stored battle read with its
  conversation (`select(store.battles())` + `compute`), once;
- refresh: what the background refresher now does every `refresh_s` seconds when votes came in
  (votes only, no conversation), once;
- open: what the tab does now on every open, the handler reading the stored summary, median of
  --repeats, the sizes taking turns; and the same through the running app over HTTP (the Gradio
  event the tab fires).

It prints the figures and the ratios of the largest size to the smallest.

    python tests/benchmarks/bench_arena_leaderboard.py
    python tests/benchmarks/bench_arena_leaderboard.py --sizes 1000 10000 --answer-chars 4800 --repeats 30
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from arena_votes import fill

from jeval.arena.app import board_view, launch
from jeval.arena.battles import select
from jeval.arena.board import BoardKeeper
from jeval.arena.config import parse_config
from jeval.arena.ratings import RatingOptions, compute
from jeval.arena.service import ArenaService
from jeval.arena.store import VoteStore

MODELS = [f"model-{i:02d}" for i in range(12)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(size: int, answer_chars: int, root: Path, baseline: bool) -> tuple[ArenaService, BoardKeeper, dict]:
    """A filled store, timed once the old way (if `baseline`) and by one background refresh."""
    path = root / f"votes-{size}.sqlite"
    url = f"sqlite:///{path}"
    config = parse_config({"models": [{"name": m, "base_url": "http://127.0.0.1:9/v1", "model": m} for m in MODELS],
                           "store": url, "leaderboard": {"bootstrap": 100, "refresh_s": 3600}})
    store = VoteStore(url)
    started = time.perf_counter()
    fill(store, size, MODELS, answer_chars=answer_chars)
    with store.engine.begin() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    figures = {"fill_s": time.perf_counter() - started, "store_mb": path.stat().st_size / 1e6}
    if baseline:
        started = time.perf_counter()
        compute(select(store.battles()), RatingOptions(bootstrap=100, prior=1e-6))
        figures["before_s"] = time.perf_counter() - started
    keeper = BoardKeeper(store, config.leaderboard)
    started = time.perf_counter()
    keeper.refresh(force=True)
    figures["refresh_s"] = time.perf_counter() - started
    return ArenaService(config, store), keeper, figures


def time_opens(prepared: dict[int, tuple[ArenaService, BoardKeeper, dict]], repeats: int) -> None:
    """The tab's open, in-process and over HTTP, the sizes taking turns (so that other load on the
    machine falls on all of them alike); medians go into each size's figures."""
    from gradio_client import Client

    apps, clients = {}, {}
    try:
        for size, (service, _, _) in prepared.items():
            apps[size] = launch(service, "127.0.0.1", free_port())
            clients[size] = Client(apps[size][1], verbose=False)
            note = clients[size].predict(api_name="/leaderboard_on_open")[0]
            assert f"{size:,}" in note, note[:200]
        local: dict[int, list[float]] = {size: [] for size in prepared}
        http: dict[int, list[float]] = {size: [] for size in prepared}
        for _ in range(repeats):
            for size, (service, keeper, _) in prepared.items():
                started = time.perf_counter()
                board_view(keeper.read(), service.texts)
                local[size].append(time.perf_counter() - started)
                started = time.perf_counter()
                clients[size].predict(api_name="/leaderboard_on_open")
                http[size].append(time.perf_counter() - started)
        for size, (_, _, figures) in prepared.items():
            figures["open_s"] = statistics.median(local[size])
            figures["open_http_s"] = statistics.median(http[size])
    finally:
        for demo, _ in apps.values():
            demo.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--answer-chars", type=int, default=4800)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-baseline", action="store_true", help="skip the old full recomputation")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        prepared = {size: prepare(size, args.answer_chars, Path(tmp), not args.no_baseline) for size in args.sizes}
        time_opens(prepared, args.repeats)
        for size, (service, _, figures) in prepared.items():
            service.store.close()
            results[size] = figures
            shown = ", ".join(f"{k} {v:.4f}" if k.endswith("_s") else f"{k} {v:.0f}" for k, v in figures.items())
            print(f"{size:>6} battles: {shown}", flush=True)
    small, large = min(results), max(results)
    for key in ("open_s", "open_http_s", "refresh_s", "before_s"):
        if key in results[small]:
            print(f"ratio {large}/{small} battles, {key}: {results[large][key] / results[small][key]:.2f} "
                  f"({results[small][key] * 1000:.1f} ms -> {results[large][key] * 1000:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
