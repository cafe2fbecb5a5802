"""Stopping `jeval serve` the way uvicorn and vLLM users expect: the first Ctrl-C (or SIGTERM) says
what it waits for and lets the requests in flight be answered, for up to the stop grace (15 s);
a second Ctrl-C ends the server at once, and jeval with it.

The server is a real `transformers serve` under a real `jeval serve`, signalled as a terminal
would signal it. A request is known to be in flight when its first streamed chunk has arrived;
`generation_config` (a transformers serve request field) makes it generate exactly N tokens, so
that it lasts as long as the test needs.

transformers serve does not say how many requests it is answering; vLLM does, in its Prometheus
metrics. The count is read from a loopback double of that endpoint (vLLM cannot run here): it
serves vLLM's metric lines, and says so.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest
from conftest import Served, start_jeval_serve
from http_support import JsonHandler
from process_support import descendants, describe, wait_gone

from jeval.models.server import ModelServer, ServeConfig, requests_in_flight

STOPPING_UNCOUNTED = "stopping: waiting up to 15 s for requests in flight; Ctrl-C again stops now"


class Lines:
    """A stream's lines, read in the background, so that a test can wait for one with a timeout."""

    def __init__(self, stream):
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))

    def next_starting(self, prefix: str, timeout_s: float = 30) -> str:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting with {prefix!r} within {timeout_s} s")


class Streamed:
    """A completion of exactly `tokens` tokens, streamed in a background thread."""

    def __init__(self, server: Served, tokens: int):
        self.started = threading.Event()
        self.chunks: list[str] = []
        self.finish_reasons: list[str] = []
        self.status: int | None = None
        self.error: Exception | None = None
        body = {"model": server.model_id, "prompt": "日本の", "max_tokens": tokens, "stream": True,
                "generation_config": json.dumps({"max_new_tokens": tokens, "min_new_tokens": tokens,
                                                 "do_sample": False})}
        self._thread = threading.Thread(target=self._ask, args=(f"{server.base_url}/completions", body), daemon=True)
        self._thread.start()
        assert self.started.wait(60), f"the request never started streaming: {self.error!r}"

    def _ask(self, url: str, body: dict) -> None:
        try:
            with httpx.stream("POST", url, json=body, timeout=httpx.Timeout(120, connect=10)) as response:
                self.status = response.status_code
                for line in response.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        choice = json.loads(line.removeprefix("data: "))["choices"][0]
                        self.chunks.append(choice.get("text") or "")
                        if choice.get("finish_reason"):
                            self.finish_reasons.append(choice["finish_reason"])
                        self.started.set()
        except (httpx.HTTPError, ValueError) as e:
            self.error = e
        finally:
            self.started.set()

    def wait(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def port_of(server: Served) -> int:
    return int(server.base_url.removesuffix("/v1").rsplit(":", 1)[1])


def assert_port_closed(port: int) -> None:
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "the model server outlived jeval serve"


def test_the_first_ctrl_c_lets_a_request_in_flight_be_answered(tiny_checkpoint, tmp_path):
    server = start_jeval_serve(tiny_checkpoint, tmp_path / "logs")
    stderr = Lines(server.process.stderr)
    request = Streamed(server, tokens=40)
    interrupted = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    assert stderr.next_starting("stopping") == STOPPING_UNCOUNTED, "no count: transformers serve gives none"
    assert request.wait(60), "the request in flight was not answered"
    assert server.process.wait(timeout=30) == 0
    took = time.monotonic() - interrupted
    assert request.error is None and request.status == 200, request.error
    assert request.finish_reasons == ["length"] and request.text, "the whole answer reached the client"
    assert took < 15, f"{took:.1f} s: the stop waited out the grace instead of the request"
    assert_port_closed(port_of(server))


def test_a_second_ctrl_c_stops_at_once(tiny_checkpoint, tmp_path):
    server = start_jeval_serve(tiny_checkpoint, tmp_path / "logs")
    stderr = Lines(server.process.stderr)
    request = Streamed(server, tokens=2000)  # about a minute here: longer than the grace
    tree = descendants(server.process.pid)
    assert len(tree) >= 2, describe(tree)  # the watchdog and the server
    server.process.send_signal(signal.SIGINT)
    assert stderr.next_starting("stopping") == STOPPING_UNCOUNTED
    time.sleep(2)
    assert server.process.poll() is None, "the first Ctrl-C must wait for the request in flight"
    assert not request.wait(0), "the request is still being answered"

    again = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    code = server.process.wait(timeout=30)
    took = time.monotonic() - again
    assert code == 130 and stderr.next_starting("jeval:") == "jeval: interrupted"
    assert took < 3, f"{took:.2f} s from the second Ctrl-C to exit"
    left = wait_gone(tree, timeout_s=1)
    assert not left, f"outlived jeval serve: {describe(left)}"
    assert_port_closed(port_of(server))
    assert request.wait(10) and request.status == 200 and request.error is not None, "cut off, not answered"
    assert "asked again to stop" in server.log.read_text()


def test_sigterm_then_ctrl_c_stops_at_once_too(tiny_checkpoint, tmp_path):
    """What a service manager sends (SIGTERM) is the first request; a Ctrl-C after it the second."""
    server = start_jeval_serve(tiny_checkpoint, tmp_path / "logs")
    stderr = Lines(server.process.stderr)
    Streamed(server, tokens=2000)
    server.process.send_signal(signal.SIGTERM)
    assert stderr.next_starting("stopping") == STOPPING_UNCOUNTED
    time.sleep(1)
    assert server.process.poll() is None
    again = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=30) == 130
    assert time.monotonic() - again < 3
    assert_port_closed(port_of(server))


# Counting requests in flight: vLLM's /metrics, from a loopback double.

VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="/ckpt/a b"} 2.0
vllm:num_requests_running{engine="1",model_name="/ckpt/a b"} 1.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="/ckpt/a b"} 4.0
vllm:num_requests_waiting{engine="1",model_name="/ckpt/a b"} 0.0
# HELP vllm:num_requests_running_total A counter whose name only begins like a gauge's.
vllm:num_requests_running_total{engine="0"} 99.0
vllm:kv_cache_usage_perc{engine="0",model_name="/ckpt/a b"} 0.5
"""


class FakeVllmMetrics(JsonHandler):
    """A test double of vLLM's `GET /metrics` (Prometheus text), and a 404 for anything else."""

    body: ClassVar[str] = VLLM_METRICS

    def do_GET(self):
        if self.path == "/metrics":
            self._send_bytes(self.body.encode(), "text/plain; version=0.0.4")
        else:
            self._send({"detail": "Not Found"}, status=404)


@pytest.fixture
def metrics_server():
    handler = type("Metrics", (FakeVllmMetrics,), {"body": VLLM_METRICS})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_requests_in_flight_are_vllms_running_and_waiting_gauges_summed(metrics_server):
    handler, url = metrics_server
    assert requests_in_flight(url) == 7
    handler.body = VLLM_METRICS.replace(" 4.0\n", " 0.0\n").replace(" 2.0\n", " 0.0\n").replace(" 1.0\n", " 0.0\n")
    assert requests_in_flight(url) == 0, "zero is a count, not an unknown"
    handler.body = "# no vLLM gauges here\nprocess_cpu_seconds_total 12.5\n"
    assert requests_in_flight(url) is None, "a server that reports no such gauge has no count"


def test_a_server_without_metrics_has_no_count():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert requests_in_flight(f"http://127.0.0.1:{port}/v1", timeout_s=0.5) is None, "nothing listening"


def test_the_stopping_line_counts_only_what_the_server_reports(metrics_server, tmp_path):
    handler, url = metrics_server
    port = int(url.removesuffix("/v1").rsplit(":", 1)[1])
    alive = subprocess.Popen(["sleep", "60"])  # stands in for the running server's watchdog
    try:
        server = ModelServer(ServeConfig(tmp_path), engine="vllm", port=port, ready=True, _process=alive)
        assert server.stopping_message() == ("stopping: waiting up to 15 s for 7 requests in flight; "
                                             "Ctrl-C again stops now")
        handler.body = 'vllm:num_requests_running{engine="0"} 1.0\n'
        assert server.stopping_message() == ("stopping: waiting up to 15 s for 1 request in flight; "
                                             "Ctrl-C again stops now")
        handler.body = 'vllm:num_requests_running{engine="0"} 0.0\n'
        assert server.stopping_message() == "stopping: no requests in flight; Ctrl-C again stops now"
        server.engine = "transformers"
        assert server.stopping_message() == STOPPING_UNCOUNTED, "transformers serve is never asked for a count"
        server.ready = False
        assert server.stopping_message() == "stopping: the server is still starting; Ctrl-C again stops now"
    finally:
        alive.kill()
        alive.wait()


def test_kill_ends_a_process_tree_at_once_even_when_its_server_ignores_sigterm(tmp_path):
    """`ModelServer.kill()` through the real watchdog, whose command ignores SIGTERM: without the
    second request it would wait out the grace."""
    from jeval.models.watchdog import spawn

    script = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
              "time.sleep(120)")
    log = tmp_path / "w.log"
    with log.open("ab") as out:
        watchdog = spawn([sys.executable, "-c", script], log=out, grace_s=15)
    deadline = time.monotonic() + 30
    while "up" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = descendants(watchdog.pid)
    server = ModelServer(ServeConfig(tmp_path), _process=watchdog)
    started = time.monotonic()
    server.kill()
    took = time.monotonic() - started
    assert took < 2, f"{took:.2f} s"
    assert not wait_gone(tree, timeout_s=1)
    assert server.returncode == 128 + signal.SIGKILL, "the command was killed, not ended by SIGTERM"
