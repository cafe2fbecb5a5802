"""How long `jeval run --model CKPT` (served by transformers serve) takes to exit after Ctrl-C
(SIGINT) sent while requests are in flight, and whether the answers committed before it stay in
the cache. Prints the seconds from SIGINT to exit.

    python tests/benchmarks/bench_interrupt.py CKPT DATA_DIR   # jcommonsenseqa prepared in DATA_DIR
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def answers(cache: Path) -> int:
    try:
        with sqlite3.connect(cache) as db:
            return db.execute("SELECT count(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return 0


def main(checkpoint: str, data_dir: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-interrupt-"))
    cache = work / "c.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "jeval", "run", "--model", checkpoint, "--engine", "transformers",
                             "--tasks", "jcommonsenseqa", "--limit", "-1", "--concurrency", "4", "--data-dir", data_dir,
                             "--cache", str(cache), "--output", str(work / "out")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    while answers(cache) < 1 and proc.poll() is None:
        time.sleep(0.05)
    print(f"first answer {time.monotonic() - started:.1f} s after start")
    time.sleep(0.5)
    before = answers(cache)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate()
    print(f"exit {proc.returncode} {time.monotonic() - sent:.2f} s after SIGINT; last line: "
          f"{stderr.strip().splitlines()[-1]!r}; answers cached before SIGINT {before}, after {answers(cache)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
