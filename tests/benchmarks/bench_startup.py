"""Start-up cost of the CLI: `jeval tasks list` and a fully cached `jeval run`, as ratios of the
wall time of `jeval --version` measured in the same run (these machines are noisy, so each
command runs alternately, `--repeat` times, and medians are compared).

The cached runs evaluate JCommonsenseQA (the project's own sample files, prepared through the
mirror mechanism) on a fixed tiny checkpoint, served by `transformers serve` and in process
(`--backend local`, its own cache entries: the engine is part of the identity); the first runs
fill the generation cache, the timed ones find every answer there (and must load and start
nothing: issue 22 asks for at most 2 s of wall time). Whether a server was started is
read from the run's results.json.

    python tests/benchmarks/bench_startup.py [--repeat 5] [--limit 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from golden_support import build_fixed_checkpoint  # noqa: E402

JEVAL = [sys.executable, "-m", "jeval"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""As a user runs jeval: with compiled bytecode cached after the first run (a machine that sets
PYTHONDONTWRITEBYTECODE recompiles every module of every command, a second of CPU here)."""


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run([*JEVAL, *args], capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"jeval {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return elapsed


def imported_modules(args: list[str]) -> int:
    code = ("import sys, jeval.cli\nsys.argv = ['jeval', *sys.argv[1:]]\n"
            "import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        jeval.cli.main(sys.argv[1:])\n    except SystemExit:\n        pass\n"
            "print(len(sys.modules), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV)
    return int(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=int, default=5)
    args = parser.parse_args()
    from importlib.resources import files

    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    checkpoint = work / "ckpt"
    build_fixed_checkpoint(checkpoint, context=4096)
    data, cache, out = work / "data", work / "cache.sqlite", work / "results"
    samples = str(files("jeval.tasks") / "jaster" / "samples")
    timed(["data", "prepare", "jcommonsenseqa", "--mirror", samples, "--data-dir", str(data)])
    run = ["run", "--model", str(checkpoint), "--tasks", "jcommonsenseqa", "--limit", str(args.limit),
           "--data-dir", str(data), "--cache", str(cache), "--output", str(out)]
    local = [*run[:3], "--backend", "local", *run[3:-2], "--output", str(work / "local")]
    first = timed(run)
    timed(local)
    times: dict[str, list[float]] = {"--version": [], "tasks list": [], "cached run": [], "cached local": []}
    for _ in range(args.repeat):
        times["--version"].append(timed(["--version"]))
        times["tasks list"].append(timed(["tasks", "list"]))
        times["cached run"].append(timed(run))
        times["cached local"].append(timed(local))
    newest = max(out.glob("*/*/results.json"), key=lambda p: p.stat().st_mtime)
    results = json.loads(newest.read_text(encoding="utf-8"))
    base = statistics.median(times["--version"])
    print(f"first run (fills the cache, starts a server): {first:.2f} s")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:12s} median {median:6.3f} s  = {median / base:6.2f} x --version")
    cached = imported_modules([*run[:-2], "--output", str(work / "again")])
    cached_local = imported_modules([*local[:-2], "--output", str(work / "again-local")])
    print(f"modules imported: --version {imported_modules(['--version'])}, "
          f"tasks list {imported_modules(['tasks', 'list'])}, cached run {cached}, cached local run {cached_local}")
    backend = results.get("backend", {})
    started = backend.get("server_started", backend.get("kind") == "server")
    print(f"cached run: {results['requests']['from_cache']} of {results['requests']['total']} answers from the cache; "
          f"server started: {started}")


if __name__ == "__main__":
    main()
