"""Start a model server for a checkpoint and stop it cleanly.

`vllm serve` where vLLM and a CUDA GPU are present, otherwise `transformers serve` (same
OpenAI-compatible protocol, on the CPU). The server runs under a watchdog (`jeval.models.watchdog`)
in its own session, so that the server and every process it starts (vLLM's engine and workers) end
when `stop()` is called *and* when jeval dies in any way, SIGKILL included. Its output goes to a
log file, and it is ready when `GET /health` answers 200.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from jeval.errors import JevalError
from jeval.models.watchdog import SAY_PREFIX, SWEEP_S, spawn

Engine = Literal["auto", "vllm", "transformers"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


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
        deadline = time.monotonic() + self.config.startup_timeout_s
        health = self.base_url.removesuffix("/v1") + "/health"
        process = self._process
        assert process is not None, "start() sets the process before waiting for it"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = self.log_tail()
                self.returncode, self._process = process.returncode, None
                raise JevalError(
                    f"{self.engine} serve exited during start-up (code {self.returncode}); "
                    f"see {self.log_path}: {tail}"
                )
            try:
                if httpx.get(health, timeout=2.0).status_code == 200:
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

    def log_tail(self) -> str:
        try:
            lines = [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines()
                     if ln.strip() and not ln.startswith(SAY_PREFIX)]  # the server's own last word
        except OSError:
            return ""
        return lines[-1][:300] if lines else "(empty log)"

    def stop(self) -> None:
        """Ask the watchdog to end the server's process tree (SIGTERM, then SIGKILL after the
        config's `stop_grace_s`) and wait until it has. Should the watchdog itself hang, it is
        killed, and the server with it (its parent-death signal)."""
        proc, self._process = self._process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.config.stop_grace_s + SWEEP_S + 5.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.returncode = proc.returncode

    def describe(self) -> dict:
        return {"engine": self.engine, "command": self.command, "log": str(self.log_path),
                "engine_version": engine_version(self.engine)}

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def engine_version(engine: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vllm" if engine == "vllm" else "transformers")
    except PackageNotFoundError:
        return None
