"""Shared fixtures: a tiny checkpoint made by the trainer, a real `transformers serve` started
through `jeval serve`, and localhost HTTP servers standing in for upstream data hosts."""

from __future__ import annotations

import fcntl
import http.client
import http.server
import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import pytest

JEVAL = [sys.executable, "-m", "jeval"]
SAMPLES = Path(str(files("jeval.tasks") / "jaster" / "samples"))


def jeval(*args: str, env: dict | None = None, timeout: float = 600,
          cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process."""
    return subprocess.run([*JEVAL, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def run_files(output: Path, name: str = "results.json") -> list[Path]:
    """`name` in each run folder under a results folder (`<model>/<run-id>/name`), without the
    `latest` alias each model folder also holds."""
    return sorted(p for p in output.glob(f"*/*/{name}") if p.relative_to(output).parts[1] != "latest")


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, request) -> Path:
    """A checkpoint trained by `jeval train --preset tiny` (fewer steps, to keep the suite fast),
    once per test run: with pytest-xdist the workers share one, trained by whichever asks first
    while the others wait on a lock. Set JEVAL_TEST_CHECKPOINT to reuse one between runs while
    developing."""
    reuse = os.environ.get("JEVAL_TEST_CHECKPOINT")
    if reuse and (Path(reuse) / "config.json").exists():
        return Path(reuse)
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if hasattr(request.config, "workerinput") else base
    out = shared / "tiny-checkpoint"
    with (shared / "tiny-checkpoint.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "config.json").exists():
            proc = jeval("train", "--preset", "tiny", "--out", out, "--max-steps", "120")
            assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@dataclass
class Served:
    base_url: str
    model_id: str
    log: Path
    process: subprocess.Popen


def start_jeval_serve(checkpoint: Path, log_dir: Path, *extra: str) -> Served:
    proc = subprocess.Popen([*JEVAL, "serve", str(checkpoint), "--log-dir", str(log_dir), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    info = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "log" not in info:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"jeval serve exited: {proc.stderr.read()[-2000:]}")
        key, _, value = line.partition(": ")
        if key in ("base URL", "model id", "log"):
            info[key] = value.strip()
    return Served(info["base URL"], info["model id"], Path(info["log"]), proc)


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.fixture(scope="session")
def served(tiny_checkpoint, tmp_path_factory) -> Served:
    server = start_jeval_serve(tiny_checkpoint, tmp_path_factory.mktemp("serve-logs"))
    yield server
    stop(server.process)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """A localhost static HTTP server over a fresh folder; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _QuietHandler(*a, directory=str(root), **k)
    httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def sample_mirror(http_root):
    """The project's own JCommonsenseQA sample files served as an upstream mirror over HTTP."""
    root, url = http_root
    shutil.copytree(SAMPLES, root, dirs_exist_ok=True)
    return root, url


@pytest.fixture
def prepared(sample_mirror, tmp_path) -> Path:
    data_dir = tmp_path / "data"
    proc = jeval("data", "prepare", "jcommonsenseqa", "--mirror", sample_mirror[1], "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return data_dir


@dataclass
class Proxy:
    """A real HTTP reverse proxy in front of a model server, for what a test must observe or
    provoke: it records every request body and whether its answer came back, and can add
    latency or answer 500 to the first N requests."""

    upstream: str
    delay_s: float = 0.0
    fail_first: int = 0
    seen: list[dict] = field(default_factory=list)
    answered: list[dict] = field(default_factory=list)
    url: str = ""

    def __post_init__(self):
        proxy = self
        host, port = self.upstream.split("//")[1].split("/")[0].split(":")
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self, method):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    n = len(proxy.seen)
                    record = json.loads(body) if body else {}
                    proxy.seen.append(record)
                if n < proxy.fail_first:
                    self._send(500, b'{"error": "injected failure"}')
                    return
                time.sleep(proxy.delay_s)
                conn = http.client.HTTPConnection(host, int(port), timeout=300)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                conn.request(method, self.path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                self._send(response.status, data)
                with lock:
                    proxy.answered.append(record)

            def _send(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                self._forward("POST")

            def do_GET(self):
                self._forward("GET")

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def completions(self) -> list[dict]:
        return [r for r in self.seen if "prompt" in r]

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def make_proxy():
    proxies = []

    def make(upstream: str, **kwargs) -> Proxy:
        proxies.append(Proxy(upstream, **kwargs))
        return proxies[-1]

    yield make
    for p in proxies:
        p.close()


JASTER_FIXTURES = Path(__file__).parent / "fixtures" / "jaster_mirror"


@pytest.fixture
def jaster_mirror(http_root):
    """Jaster fixture files (written for the tests in upstream formats) and the project's samples,
    served as one upstream mirror over HTTP, with a jeval-mirror.json naming their checksums."""
    from jeval.data.download import sha256_file

    root, url = http_root
    shutil.copytree(SAMPLES, root, dirs_exist_ok=True)
    if JASTER_FIXTURES.exists():
        shutil.copytree(JASTER_FIXTURES, root, dirs_exist_ok=True)
    checksums = {
        f"https://{p.relative_to(root).as_posix()}": sha256_file(p)
        for p in root.rglob("*") if p.is_file() and p.name not in ("jeval-mirror.json", "README.md")
    }
    (root / "jeval-mirror.json").write_text(json.dumps({"checksums": checksums}))
    return root, url


JMT_FIXTURES = Path(__file__).parent / "fixtures" / "jmt_bench"


@pytest.fixture
def jmt_mirror(http_root):
    """Japanese MT-Bench fixture files (written for the tests in the upstream formats) served as
    an upstream mirror over HTTP, with a jeval-mirror.json naming their checksums."""
    from jeval.data.download import sha256_file

    root, url = http_root
    shutil.copytree(JMT_FIXTURES / "mirror", root, dirs_exist_ok=True)
    checksums = {f"https://{p.relative_to(root).as_posix()}": sha256_file(p) for p in root.rglob("*.jsonl")}
    (root / "jeval-mirror.json").write_text(json.dumps({"checksums": checksums}))
    return root, url


@pytest.fixture(scope="module")
def jmt_data(tmp_path_factory) -> Path:
    """A data dir with jmt_bench prepared once per test module from the fixture files, served as a
    mirror folder (tests must not change it)."""
    from jeval.data.download import sha256_file

    root = tmp_path_factory.mktemp("jmt-mirror")
    shutil.copytree(JMT_FIXTURES / "mirror", root, dirs_exist_ok=True)
    checksums = {f"https://{p.relative_to(root).as_posix()}": sha256_file(p) for p in root.rglob("*.jsonl")}
    (root / "jeval-mirror.json").write_text(json.dumps({"checksums": checksums}))
    data_dir = tmp_path_factory.mktemp("jmt-data")
    proc = jeval("data", "prepare", "jmt_bench", "--mirror", root, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return data_dir


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (see postgres_support); skipped only where PostgreSQL is not
    installed, which the README's test command (and so CI) always installs."""
    from postgres_support import postgres_bin, start_postgres

    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql, as the README's test command does)")
    server = start_postgres(bin_dir)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sandbox():
    """A jeval.tasks.sandbox.Sandbox; the README's test command (and so CI) installs bubblewrap, so a
    machine that cannot sandbox fails the tests that need one."""
    from jeval.tasks.sandbox import Sandbox, SandboxUnavailable

    try:
        return Sandbox.create()
    except SandboxUnavailable as e:
        pytest.fail(f"the test command installs bubblewrap; this machine cannot sandbox: {e}")
