"""How long `jeval run --model CKPT` (served by transformers serve) takes to exit after Ctrl-C
(SIGINT) sent while requests are in flight, and whether the answers committed before it stay in
the cache. Prints the seconds from SIGINT to exit.

    python tests/benchmarks/bench_interrupt.py CKPT DATA_DIR   # jcommonsenseqa prepared in DATA_DIR

With `serve`, how long `jeval serve CKPT` takes to exit: after SIGTERM with nothing in flight, after
one Ctrl-C with a short request in flight (it is answered first), and after a second Ctrl-C with a
long request in flight (the first one waits for it, up to the 15 s grace):

    python tests/benchmarks/bench_interrupt.py serve CKPT
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


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


def start_serve(checkpoint: str, log_dir: Path) -> tuple[subprocess.Popen, str, str]:
    """`jeval serve` started: the process, its base URL and its model id."""
    proc = subprocess.Popen([sys.executable, "-m", "jeval", "serve", checkpoint, "--engine", "transformers",
                             "--log-dir", str(log_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed = {}
    for line in proc.stdout or ():
        key, _, value = line.partition(": ")
        printed[key] = value.strip()
        if key == "log":
            return proc, printed["base URL"], printed["model id"]
    raise SystemExit(f"jeval serve exited: {proc.communicate()[1][-2000:]}")


def stream_until_first_chunk(base_url: str, model_id: str, tokens: int) -> subprocess.Popen:
    """A streamed completion of exactly `tokens` tokens, in a child process, once it is in flight."""
    body = {"model": model_id, "prompt": "日本の", "max_tokens": tokens, "stream": True,
            "generation_config": json.dumps({"max_new_tokens": tokens, "min_new_tokens": tokens, "do_sample": False})}
    client = ("import httpx, sys, json\n"
              f"with httpx.stream('POST', {base_url + '/completions'!r}, json=json.loads(sys.argv[1]), timeout=300) "
              "as r:\n"
              "    for line in r.iter_lines():\n"
              "        print(line, flush=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", client, json.dumps(body)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    while not proc.stdout.readline().startswith("data: "):
        if proc.poll() is not None:
            raise SystemExit("the request failed before streaming")
    return proc


def tree_of(pid: int) -> set[int]:
    """Every process below `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            children.setdefault(int(stat[stat.rfind(")") + 2:].split()[1]), []).append(int(entry.name))
    found, todo = set(), list(children.get(pid, []))
    while todo:
        found.add(child := todo.pop())
        todo.extend(children.get(child, []))
    return found


def until_gone(pids: set[int], timeout_s: float = 60.0) -> float:
    """When (time.monotonic()) none of `pids` runs any more (a zombie counts as gone)."""
    def running(pid: int) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rfind(")") + 2:].split()[0] not in ("Z", "X")

    deadline = time.monotonic() + timeout_s
    while any(running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return time.monotonic()


def serve_main(checkpoint: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-serve-stop-"))
    proc, base_url, _ = start_serve(checkpoint, work / "logs")
    httpx.get(base_url.removesuffix("/v1") + "/health", timeout=10)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.communicate()
    print(f"nothing in flight: exit {proc.returncode} {time.monotonic() - sent:.2f} s after SIGTERM")

    proc, base_url, model_id = start_serve(checkpoint, work / "logs")
    client = stream_until_first_chunk(base_url, model_id, 120)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate()
    exited = time.monotonic() - sent
    client.communicate()
    print(f"one Ctrl-C, a 120-token request in flight: exit {proc.returncode} {exited:.2f} s after SIGINT "
          f"(the request answered: {client.returncode == 0})")

    proc, base_url, model_id = start_serve(checkpoint, work / "logs")
    client = stream_until_first_chunk(base_url, model_id, 2000)
    tree = tree_of(proc.pid)
    proc.send_signal(signal.SIGINT)
    time.sleep(2.0)
    waiting = proc.poll() is None
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate()
    exited = time.monotonic() - sent
    gone = until_gone(tree) - sent
    print(f"second Ctrl-C 2 s after the first, a 2000-token request in flight (still waiting for it: {waiting}): "
          f"exit {proc.returncode} {exited:.2f} s after the second SIGINT, its server's process tree gone "
          f"{gone:.2f} s after it")
    client.kill()
    client.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve_main(sys.argv[2])
    else:
        main(*sys.argv[1:3])
