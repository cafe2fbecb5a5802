"""Start a model server for a checkpoint and stop it cleanly.

`vllm serve` where vLLM and a CUDA GPU are present, otherwise `transformers serve` (same
OpenAI-compatible protocol, on the CPU). The server runs under a watchdog (`jeval.models.watchdog`)
in its own session, so that the server and every process it starts (vLLM's engine and workers) end
when `stop()` is called *and* when jeval dies in any way, SIGKILL included. Its output goes to a
log file, and it is ready when `GET /health` answers 200.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from jeval.errors import JevalError
from jeval.models.watchdog import SAY_PREFIX, SWEEP_S, spawn

Engine = Literal["auto", "vllm", "transformers"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> JevalError:
    return JevalError(f"port {port} on {host} is already in use; pass another --port (or stop what is using it)")


def check_port_free(host: str, port: int) -> None:
    """Fail before starting a server on a port something already holds: a server that answers
    there would pass for the one jeval started, and one that does not only shows in the log."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise port_in_use(host, port) from None
            raise JevalError(f"cannot serve on {host}:{port} ({e.strerror}); check --host and --port") from None


HURRY_S = 1.0
"""How long a server stopped in a hurry may take to end by itself before it is killed."""
ASK_AGAIN_S = 0.2
"""While a tree is being ended at once, how often the watchdog is asked again: two signals sent
close together can arrive as one."""
IN_FLIGHT_GAUGES = ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:num_requests_swapped")
"""vLLM's scheduler gauges in its Prometheus metrics: requests being generated, queued, and swapped
out to the CPU (older versions only). Their sum is what a stop waits for."""
METRIC_SAMPLE = re.compile(r"(?P<name>[A-Za-z_:][\w:]*)(?:\{.*\})?\s+(?P<value>\S+)(?:\s+-?\d+)?\s*")
PORT_TAKEN = ("address already in use", "errno 98", "eaddrinuse")


def gpu_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def choose_engine(requested: Engine) -> Literal["vllm", "transformers"]:
    vllm_installed = importlib.util.find_spec("vllm") is not None
    if requested == "vllm":
        if not vllm_installed:
            raise JevalError("--engine vllm: vLLM is not installed (pip install 'jeval[vllm]' on a GPU machine)")
        if not gpu_available():
            raise JevalError("--engine vllm: no CUDA GPU is visible; use --engine transformers on a CPU")
        return "vllm"
    if requested == "transformers":
        return "transformers"
    return "vllm" if vllm_installed and gpu_available() else "transformers"


def check_checkpoint(path: Path) -> Path:
    path = path.expanduser()
    if not path.exists():
        raise JevalError(f"checkpoint {path} does not exist (train one with `jeval train --preset tiny --out DIR`)")
    if not (path / "config.json").is_file():
        raise JevalError(f"{path} is not a Hugging Face checkpoint folder (no config.json in it)")
    return path.resolve()


@dataclass(frozen=True)
class ServeConfig:
    checkpoint: Path
    engine: Engine = "auto"
    host: str = "127.0.0.1"
    port: int | None = None
    log_dir: Path = Path("results/logs")
    extra_args: tuple[str, ...] = ()
    startup_timeout_s: float = 900.0
    stop_grace_s: float = 15.0
    """Between SIGTERM and SIGKILL when the server is stopped (or jeval is gone)."""


@dataclass
class ModelServer:
    """A running server; use as a context manager or call `start()` / `stop()`."""

    config: ServeConfig
    engine: str = ""
    port: int = 0
    log_path: Path = Path()
    command: list[str] = field(default_factory=list)
    returncode: int | None = None
    ready: bool = False
    """Whether the server has answered `/health` since it was started."""
    _process: subprocess.Popen | None = None

    @property
    def model_id(self) -> str:
        """The `model` field requests must carry: the checkpoint's absolute path."""
        return str(check_checkpoint(self.config.checkpoint))

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::") else self.config.host
        return f"http://{host}:{self.port}/v1"

    def _command(self) -> list[str]:
        ckpt = self.model_id
        if self.engine == "vllm":
            exe = shutil.which("vllm") or str(Path(sys.executable).with_name("vllm"))
            return [exe, "serve", ckpt, "--host", self.config.host, "--port", str(self.port),
                    "--served-model-name", ckpt, *self.config.extra_args]
        exe = shutil.which("transformers") or str(Path(sys.executable).with_name("transformers"))
        return [exe, "serve", ckpt, "--host", self.config.host, "--port", str(self.port),
                "--log-level", "info", *self.config.extra_args]

    def start(self) -> ModelServer:
        check_checkpoint(self.config.checkpoint)
        self.engine = choose_engine(self.config.engine)
        if self.config.port:
            check_port_free(self.config.host, self.config.port)
        self.port = self.config.port or free_port(self.config.host)
        self.command = self._command()
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = (self.config.log_dir / f"serve-{self.engine}-{self.port}.log").resolve()
        env = dict(os.environ)
        hub_cache = Path(env.get("HF_HUB_CACHE", Path.home() / ".cache" / "huggingface" / "hub"))
        hub_cache.mkdir(parents=True, exist_ok=True)  # transformers serve's /v1/models fails without it
        env["HF_HUB_CACHE"] = str(hub_cache)
        env.setdefault("HF_HUB_OFFLINE", "1")
        if not os.access(self.command[0], os.X_OK):
            raise JevalError(
                f"cannot start {self.engine} serve: {self.command[0]} not found "
                "(install jeval with its dependencies: pip install jeval)"
            )
        with self.log_path.open("ab") as log:
            self._process = spawn(self.command, log=log, env=env, grace_s=self.config.stop_grace_s)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Wait for `/health`, showing on a terminal how long it has been and the server log's
        last line (loading weights, compiling graphs: a start can take minutes)."""
        status = tqdm(bar_format="{desc}", leave=False, disable=None)
        try:
            self._poll_ready(status)
        finally:
            status.close()

    def _last_log_line(self) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(max(f.seek(0, os.SEEK_END) - 4096, 0))
                tail = f.read().decode(errors="replace")
        except OSError:
            return ""
        lines = [ln.strip() for ln in tail.splitlines() if ln.strip() and not ln.startswith(SAY_PREFIX)]
        return lines[-1] if lines else ""

    def _poll_ready(self, status: tqdm[Any]) -> None:
        import httpx  # here, not at the top: jeval.models.local imports this module and needs no HTTP

        started = time.monotonic()
        deadline = started + self.config.startup_timeout_s
        health = self.base_url.removesuffix("/v1") + "/health"
        process = self._process
        assert process is not None, "start() sets the process before waiting for it"
        while time.monotonic() < deadline:
            if not status.disable:
                status.set_description_str(f"starting {self.engine} serve ({time.monotonic() - started:.0f} s): "
                                           f"{self._last_log_line()[:100]}")
            if process.poll() is not None:
                self.returncode, self._process = process.returncode, None
                lines = self.log_lines()
                if any(taken in line.lower() for line in lines for taken in PORT_TAKEN):
                    raise port_in_use(self.config.host, self.port)
                raise JevalError(
                    f"{self.engine} serve exited during start-up (code {self.returncode}): {failure_line(lines)} "
                    f"(whole log: {self.log_path})"
                )
            try:
                if httpx.get(health, timeout=2.0).status_code == 200:
                    self.ready = True
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise JevalError(f"{self.engine} serve did not answer within {self.config.startup_timeout_s:.0f}s; "
                         f"see {self.log_path}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_lines(self) -> list[str]:
        """The server's own lines in its log (not the watchdog's)."""
        try:
            return [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines()
                    if ln.strip() and not ln.startswith(SAY_PREFIX)]
        except OSError:
            return []

    def stop(self, hurry: bool = False) -> None:
        """Ask the watchdog to end the server's process tree (SIGTERM, then SIGKILL after the
        config's `stop_grace_s`) and wait until it has. Should the watchdog itself hang, it is
        killed, and the server with it (its parent-death signal). A server that ends on SIGTERM
        by itself (nothing in flight) ends the wait as soon as it is gone.

        `hurry` (a run interrupted or failed with requests in flight): the server gets HURRY_S to
        end by itself, then the watchdog is asked again, which kills the tree at once. A server
        waits for the requests it is answering before it exits (uvicorn: "Waiting for background
        tasks"), and their answers would be thrown away.

        A KeyboardInterrupt while waiting (a second Ctrl-C) ends the tree at once, as `kill()`
        does, and is raised again once the tree is gone."""
        proc, self._process = self._process, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                if hurry:
                    try:
                        proc.wait(timeout=HURRY_S)
                    except subprocess.TimeoutExpired:
                        proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self.config.stop_grace_s + SWEEP_S + 5.0)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        except KeyboardInterrupt:
            end_now(proc)
            raise
        finally:
            self.returncode = proc.returncode

    def kill(self) -> None:
        """End the server's process tree at once (the watchdog's SIGKILL sweep, no grace) and wait
        until it is gone: a second Ctrl-C, for requests in flight whose answers nobody wants."""
        proc, self._process = self._process, None
        if proc is not None:
            try:
                end_now(proc)
            finally:
                self.returncode = proc.returncode

    def requests_in_flight(self) -> int | None:
        """How many requests the server is answering, where it says so cheaply: vLLM's metrics.
        None where it does not (transformers serve has no such count) or cannot be asked."""
        if not self.ready or self.engine != "vllm":
            return None
        return requests_in_flight(self.base_url)

    def stopping_message(self) -> str:
        """The one line `jeval serve` prints when asked to stop: what the stop waits for, and how
        to stop at once. A count of requests only where the server gave one."""
        again = "Ctrl-C again stops now"
        if not self.running:
            return "stopping"
        if not self.ready:
            return f"stopping: the server is still starting; {again}"
        count = self.requests_in_flight()
        if count == 0:
            return f"stopping: no requests in flight; {again}"
        what = "requests in flight" if count is None else f"{count} request{'' if count == 1 else 's'} in flight"
        return f"stopping: waiting up to {self.config.stop_grace_s:.0f} s for {what}; {again}"

    def describe(self) -> dict:
        return {"engine": self.engine, "command": self.command, "log": str(self.log_path),
                "engine_version": engine_version(self.engine)}

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def end_now(watchdog: subprocess.Popen) -> None:
    """Ask a server's watchdog to stop until it has: a request that comes while it is already
    stopping makes it kill the tree at once (`Tree.end`). The request is repeated every
    ASK_AGAIN_S, since two signals sent close together can arrive as one. Should the watchdog not
    end within its sweep (or a third Ctrl-C come), it is killed, and the server with it."""
    deadline = time.monotonic() + SWEEP_S + 5.0
    with contextlib.suppress(KeyboardInterrupt):
        while watchdog.poll() is None and time.monotonic() < deadline:
            watchdog.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                watchdog.wait(timeout=ASK_AGAIN_S)
    if watchdog.poll() is None:
        watchdog.kill()
        watchdog.wait()


def requests_in_flight(base_url: str, timeout_s: float = 1.0) -> int | None:
    """The requests a server at `base_url` reports running, queued or swapped out in its
    Prometheus metrics (`GET /metrics`, vLLM's IN_FLIGHT_GAUGES summed over their labels), or None
    where it reports none of them or does not answer within `timeout_s`."""
    import httpx

    try:
        response = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=timeout_s)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    total, found = 0.0, False
    for line in response.text.splitlines():
        sample = METRIC_SAMPLE.fullmatch(line.strip())
        if sample is None or sample["name"] not in IN_FLIGHT_GAUGES:
            continue
        try:
            value = float(sample["value"])
        except ValueError:
            continue
        if value == value:  # not NaN
            total, found = total + value, True
    return round(total) if found else None


def failure_line(lines: list[str]) -> str:
    """The log line most likely to name why a server stopped: the last that reports an error
    (a traceback's final `SomethingError: ...`, uvicorn's `ERROR: ...`), else the last line; a
    server's last words are usually its shutdown, not its cause."""
    if not lines:
        return "(empty log)"
    errors = [ln for ln in lines if "Error" in ln or "error:" in ln.lower() or ln.startswith("ERROR")]
    return (errors or lines)[-1][:300]


def engine_version(engine: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vllm" if engine == "vllm" else "transformers")
    except PackageNotFoundError:
        return None
