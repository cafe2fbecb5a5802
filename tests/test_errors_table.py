"""Mistakes found in use, each answered by one actionable error line (exit status 2, no traceback);
the `latest` alias of a model's newest run; and Ctrl-C, which stops a run at once and keeps the
answers it already has.

The model servers here are loopback doubles (a test double: say so) of what a real server answers:
vLLM's `/v1/models` listing and its 404 for a model id it does not serve, and a server slow enough
that requests are still in flight when the run is interrupted. `transformers serve` lists no
model ids and cannot be made slow on purpose.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import JEVAL, jeval, run_files
from http_support import JsonHandler

from jeval.leaderboard.collect import collect

SERVED = ("served-a", "served-b")


class FakeVllm(JsonHandler):
    """Lists SERVED at /v1/models and answers "1" to completions of a listed model; any other model
    id gets vLLM's 404. The first `fast` requests are answered at once, later ones wait for
    `release` (requests held in flight)."""

    fast: ClassVar[int] = 1_000_000
    answered: ClassVar[list[str]] = []
    held: ClassVar[list[str]] = []
    release: ClassVar[threading.Event]

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": m, "object": "model", "owned_by": "vllm", "root": m}
                                                for m in SERVED]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = body.get("model")
        if model not in SERVED:
            self._send({"object": "error", "message": f"The model `{model}` does not exist.",
                        "type": "NotFoundError", "param": None, "code": 404}, status=404)
            return
        cls = type(self)
        if len(cls.answered) >= cls.fast:
            cls.held.append(body.get("prompt", ""))
            cls.release.wait(60)
        cls.answered.append(body.get("prompt", ""))
        self._send({"id": "c", "object": "text_completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "text": "1", "finish_reason": "stop", "logprobs": None}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})


@pytest.fixture
def fake_vllm() -> Iterator[tuple[type[FakeVllm], str]]:
    handler = type("Handler", (FakeVllm,), {"answered": [], "held": [], "release": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1"
    handler.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else holds (listening, never answering)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def corrupt(data: Path) -> Path:
    """Cut the prepared test split in half, as a full disk or an interrupted copy leaves it."""
    test_file = data / "jcommonsenseqa" / "test.json"
    text = test_file.read_text(encoding="utf-8")
    test_file.write_text(text[: len(text) // 2], encoding="utf-8")
    return test_file


@dataclass(frozen=True)
class Case:
    """A command (built from the fixtures it needs) and what its one error line must say."""

    id: str
    command: Callable[[dict], list]
    says: Callable[[dict], list[str]]


CASES = [
    Case("wrong --model-id",
         lambda f: ["run", "--base-url", f["url"], "--model-id", "nosuch", "--tasks", "jcommonsenseqa",
                    "--data-dir", f["prepared"], "--cache", f["tmp"] / "c.sqlite", "--output", f["tmp"] / "out"],
         lambda f: ["rejected the request (HTTP 404): The model `nosuch` does not exist",
                    "model id 'nosuch' is not among the ids it serves", "served-a, served-b",
                    "pass one of them with --model-id"]),
    Case("port in use",
         lambda f: ["serve", f["checkpoint"], "--port", f["port"], "--log-dir", f["tmp"] / "logs"],
         lambda f: [f"port {f['port']} on 127.0.0.1 is already in use; pass another --port (or stop what is "
                    "using it)"]),
    Case("corrupt prepared file",
         lambda f: ["run", "--base-url", f["url"], "--model-id", "served-a", "--tasks", "jcommonsenseqa",
                    "--data-dir", f["prepared"], "--cache", f["tmp"] / "c.sqlite", "--output", f["tmp"] / "out"],
         lambda f: [f"{f['corrupt']}:", ": not valid JSON (",
                    "run `jeval data prepare jcommonsenseqa` again (add --mirror DIR_OR_URL when offline)"]),
    Case("task name in upper case",
         lambda f: ["run", "--base-url", f["url"], "--model-id", "served-a", "--tasks", "JAMP",
                    "--data-dir", f["tmp"] / "empty", "--cache", f["tmp"] / "c.sqlite"],
         lambda f: ["task 'jamp' has no prepared data", "run `jeval data prepare jamp`"]),
    Case("misspelt option",
         lambda f: ["run", "--modle", f["tmp"], "--tasks", "jcommonsenseqa"],
         lambda f: ["unknown option --modle; did you mean --model"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_mistake_is_one_actionable_error_line(case, fake_vllm, prepared, busy_port, tiny_checkpoint, tmp_path):
    found = {"url": fake_vllm[1], "prepared": prepared, "tmp": tmp_path, "port": busy_port,
             "checkpoint": tiny_checkpoint}
    if case.id == "corrupt prepared file":
        found["corrupt"] = corrupt(prepared)
    proc = jeval(*case.command(found), timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert [ln for ln in lines if ln.startswith("jeval: error:")] == [lines[-1]]
    for part in case.says(found):
        assert part in lines[-1], lines[-1]


def test_a_wrong_model_id_stops_the_run_before_every_item_fails(fake_vllm, prepared, tmp_path):
    handler, url = fake_vllm
    proc = jeval("run", "--base-url", url, "--model-id", "nosuch", "--tasks", "jcommonsenseqa", "--limit", "-1",
                 "--data-dir", prepared, "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out",
                 "--concurrency", "1")
    assert proc.returncode == 2
    assert not list(run_files(tmp_path / "out", "results.json"))
    assert handler.answered == []


def run_against(url: str, data: Path, tmp_path: Path, run_id: str) -> subprocess.CompletedProcess:
    return jeval("run", "--base-url", url, "--model-id", "served-a", "--tasks", "jcommonsenseqa", "--data-dir",
                 data, "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out", "--run-id", run_id)


def test_latest_points_at_the_newest_run_and_the_leaderboard_counts_each_run_once(fake_vllm, prepared, tmp_path):
    _, url = fake_vllm
    for run_id in ("first", "second"):
        proc = run_against(url, prepared, tmp_path, run_id)
        assert proc.returncode == 0, proc.stderr[-2000:]
        [model_folder] = [p for p in (tmp_path / "out").iterdir() if p.name != "logs"]
        latest = model_folder / "latest"
        assert latest.is_symlink() and os.readlink(latest) == run_id
        assert json.loads((latest / "results.json").read_text(encoding="utf-8"))["run_id"] == run_id
    assert sorted(p.name for p in model_folder.iterdir() if p.name.startswith(".")) == []
    runs = collect([tmp_path / "out"]).runs
    assert len(runs) == 2
    exported = jeval("export", "lmeval", model_folder / "latest", "--out", tmp_path / "lmeval.json")
    assert exported.returncode == 0, exported.stderr[-2000:]


def cached_answers(cache: Path) -> int:
    try:
        with sqlite3.connect(cache) as db:
            return db.execute("SELECT count(*) FROM generations").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_ctrl_c_stops_a_run_at_once_and_keeps_the_answers_it_has(fake_vllm, prepared, tmp_path):
    handler, url = fake_vllm
    handler.fast = 3
    cache = tmp_path / "c.sqlite"
    proc = subprocess.Popen([*JEVAL, "run", "--base-url", url, "--model-id", "served-a", "--tasks", "jcommonsenseqa",
                             "--limit", "-1", "--concurrency", "4", "--data-dir", str(prepared), "--cache", str(cache),
                             "--output", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (len(handler.held) < 2 or cached_answers(cache) < 3) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:] if proc.stderr else ""
        time.sleep(0.05)
    assert len(handler.held) >= 2, "requests must be in flight when the run is interrupted"
    interrupted = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    took = time.monotonic() - interrupted
    assert proc.returncode == 130
    assert stderr.strip().splitlines()[-1] == "jeval: interrupted"
    assert took < 5.0, f"{took:.1f} s from Ctrl-C to exit"
    assert cached_answers(cache) == 3
    assert not (tmp_path / "out").exists() or not list(run_files(tmp_path / "out", "results.json"))
