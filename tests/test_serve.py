"""`jeval serve`: starts the server, prints where it is, writes its log, stops cleanly, and its
server ends with jeval even when jeval is killed with SIGKILL (`jeval run` likewise)."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx
from conftest import JEVAL, start_jeval_serve, stop
from process_support import command_line, descendants, describe, wait_gone


def test_serve_prints_base_url_and_stops_cleanly_on_sigterm(tiny_checkpoint, tmp_path):
    server = start_jeval_serve(tiny_checkpoint, tmp_path / "logs")
    base = server.base_url.removesuffix("/v1")
    assert httpx.get(f"{base}/health", timeout=10).status_code == 200
    assert server.model_id == str(tiny_checkpoint.resolve())
    assert server.log.exists() and server.log.parent == (tmp_path / "logs").resolve()
    assert stop(server.process) == 0
    port = int(base.rsplit(":", 1)[1])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the model server outlived jeval serve"


# jeval killed with SIGKILL cannot stop its server: the watchdog between them must (see
# jeval.models.watchdog). Its tree is recorded while everything runs; all of it must go.

def server_port(jeval_pid: int) -> int | None:
    """The port of the `transformers serve` below `jeval_pid`, once one is running."""
    for pid, _ in descendants(jeval_pid):
        words = command_line(pid).split()
        if "serve" in words and "--port" in words:
            return int(words[words.index("--port") + 1])
    return None


def wait_healthy(jeval: subprocess.Popen, timeout_s: float = 300) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert jeval.poll() is None, f"jeval ended before its server was up: {jeval.communicate()[1][-2000:]}"
        port = server_port(jeval.pid)
        try:
            if port and httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return port
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server never answered /health")


def assert_tree_ends_with(jeval: subprocess.Popen, port: int) -> None:
    tree = descendants(jeval.pid)
    assert len(tree) >= 2, describe(tree)  # the watchdog and the server (and whatever the server started)
    assert jeval.poll() is None, "jeval must still be running when it is killed"
    jeval.kill()
    jeval.communicate()
    left = wait_gone(tree, timeout_s=15 + 5)  # the stop grace (15 s), should the server ignore SIGTERM
    assert not left, f"outlived jeval: {describe(left)}"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the model server outlived jeval"


def test_sigkill_of_jeval_serve_ends_the_server_and_its_children(tiny_checkpoint, tmp_path):
    server = start_jeval_serve(tiny_checkpoint, tmp_path / "logs")
    port = wait_healthy(server.process)
    started = time.monotonic()
    assert_tree_ends_with(server.process, port)
    assert time.monotonic() - started < 10, "transformers serve stops within seconds of SIGTERM"
    assert "is gone; ending the process tree" in server.log.read_text()


def test_sigkill_of_jeval_run_ends_the_server_it_started(tiny_checkpoint, prepared, tmp_path):
    """`jeval run` starts its server from a worker thread (asyncio.to_thread) that ends long before
    jeval does: the server must live on while jeval runs, and end when jeval is killed."""
    run = subprocess.Popen([*JEVAL, "run", "--model", str(tiny_checkpoint), "--tasks", "jcommonsenseqa",
                            "--data-dir", str(prepared), "--cache", str(tmp_path / "cache.sqlite"),
                            "--output", str(tmp_path / "results"), "--concurrency", "1"],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = wait_healthy(run)
    assert_tree_ends_with(run, port)
    [log] = (tmp_path / "results" / "logs").glob("serve-*.log")
    assert "is gone; ending the process tree" in log.read_text()


def test_a_server_that_dies_under_jeval_serve_is_one_line_quoting_its_log(tiny_checkpoint, tmp_path):
    import os
    import signal

    server = start_jeval_serve(tiny_checkpoint, tmp_path / "logs")
    tree = descendants(server.process.pid)
    served = [pid for pid, _ in tree if "transformers serve" in command_line(pid)
              or command_line(pid).split(" ")[1:2] == ["serve"]]
    assert served, describe(tree)
    for pid in served:
        os.kill(pid, signal.SIGKILL)
    assert server.process.wait(timeout=60) == 2
    lines = [line for line in server.process.stderr.read().splitlines() if line.strip()]
    assert lines[-1].startswith("jeval: error: transformers serve stopped by itself (code "), lines[-1]
    assert lines[-1].endswith(f"(whole log: {server.log})")
