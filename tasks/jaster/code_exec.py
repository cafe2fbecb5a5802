"""Runs generated Python code against assert-style test cases, never inside the harness process.

Each sample runs in its own `python -I` child (sandbox_runner.py) with an empty environment, a fresh
temporary directory as its working directory, and these layers, each applied where the machine
allows it:

- an unshared network namespace (root only): the child sees no network interface but a downed
  loopback;
- the uid/gid `nobody` (when started as root and the interpreter's files are readable by others;
  a pyenv under /root is not), so files outside the temporary directory are not writable
  through ownership and the process-count limit applies;
- resource limits: CPU seconds, address space, file size, open files, no core dumps, no new
  processes or threads;
- an audit hook, installed before the code runs, refusing sockets, DNS lookups, process creation,
  `ctypes`, and any write, rename or delete outside the working directory;
- a wall-clock timeout after which the child's whole session is killed.

The limits are applied by the runner itself right after it starts instead of in a `preexec_fn`:
the batch runs children from a thread pool, and `preexec_fn` is not safe with threads.

This stops accidents and casual escapes by generated code; it is not a boundary against a
determined adversary (audit hooks are not a security mechanism). A sample passes only when the
runner reports success on its result channel with the nonce it was given; anything else (timeout,
crash, killed by a limit, `os._exit`) is a failure.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

RUNNER = Path(__file__).with_name("sandbox_runner.py")
NOBODY = 65534
STARTUP_GRACE_S = 3.0

UPSTREAM_GLOBAL_NAMES: tuple[str, ...] = (
    "ast", "functools", "json", "logging", "math", "os", "re", "subprocess", "time", "unicodedata",
    "warnings",
)
"""Modules visible to functions defined by the generated code under scope="upstream".

llm-jp-eval v1.4.1 (utils.py, `get_evaluation_result`, metric "code_exec") runs `exec(y_pred)` then
`exec(test_case)` with no namespace arguments inside a function: the code's top-level names land in
that function's locals, while functions it defines resolve globals in llm_jp_eval.utils. So a
function can call neither itself recursively nor a helper it defined, and sees only the modules
utils.py imported. This is jeval's best reading of that module's stdlib imports; its third-party
imports are not reproduced."""


@dataclass(frozen=True)
class CodeExecConfig:
    timeout_s: float = 10.0
    memory_bytes: int = 1 << 30
    file_size_bytes: int = 16 << 20
    open_files: int = 64
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    scope: str = "upstream"
    """"upstream": llm-jp-eval's namespace split (see UPSTREAM_GLOBAL_NAMES); "module": the code
    and its tests share one module namespace, as a script would."""

    def __post_init__(self) -> None:
        if self.scope not in ("upstream", "module"):
            raise ValueError(f"scope must be 'upstream' or 'module', not {self.scope!r}")
        if self.timeout_s <= 0 or self.workers < 1:
            raise ValueError("timeout_s must be positive and workers at least 1")


@dataclass(frozen=True)
class Outcome:
    passed: bool
    reason: str


def _limits(config: CodeExecConfig) -> dict[str, int]:
    cpu = math.ceil(config.timeout_s)
    return {"cpu_s": cpu, "wall_s": cpu, "memory_bytes": config.memory_bytes, "file_size_bytes": config.file_size_bytes,
            "open_files": config.open_files}


def _readable_by_others(path: str) -> bool:
    """Every ancestor searchable and the folder itself listable by a user who owns nothing."""
    current = Path(path).resolve()
    for folder in (current, *current.parents):
        try:
            mode = folder.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH:
            return False
    return bool(current.stat().st_mode & stat.S_IROTH)


def can_drop_privileges() -> bool:
    paths = sysconfig.get_paths()
    return os.geteuid() == 0 and all(
        _readable_by_others(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib"))


def _kill_session(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_one(code: str, tests: Sequence[str], config: CodeExecConfig = CodeExecConfig()) -> Outcome:
    """Run `code` followed by each test (llm-jp-eval re-executes the code before every test case);
    passed when no test raises."""
    nonce = secrets.token_hex(16)
    workdir = Path(tempfile.mkdtemp(prefix="jeval-exec-"))
    drop = can_drop_privileges()
    if drop:
        os.chown(workdir, NOBODY, NOBODY)
    job = {
        "code": code, "tests": list(tests), "scope": config.scope, "nonce": nonce,
        "upstream_globals": list(UPSTREAM_GLOBAL_NAMES), "limits": _limits(config),
        "drop_to": NOBODY if drop else None, "isolate_network": os.geteuid() == 0,
    }
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, cwd=workdir, env={}, start_new_session=True, close_fds=True,
        )
        try:
            out, _ = proc.communicate(json.dumps(job).encode(), timeout=config.timeout_s + STARTUP_GRACE_S)
        except subprocess.TimeoutExpired:
            _kill_session(proc)
            proc.communicate()
            return Outcome(False, "timeout")
        finally:
            _kill_session(proc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = out.decode("utf-8", "replace").splitlines()
    verdict = next((line.split(" ", 2)[1:] for line in lines if line.startswith(nonce + " ")), None)
    if verdict is None:
        if proc.returncode is not None and proc.returncode < 0:
            return Outcome(False, f"killed by signal {-proc.returncode}")
        return Outcome(False, f"no result (exit status {proc.returncode})")
    status = verdict[0]
    detail = verdict[1] if len(verdict) > 1 else ""
    return Outcome(status == "pass", detail or status)


def run_batch(items: Sequence[tuple[str, Sequence[str]]], config: CodeExecConfig = CodeExecConfig()) -> list[Outcome]:
    """Each (code, tests) in its own child, `config.workers` at a time; results in input order."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(config.workers, len(items))) as pool:
        return list(pool.map(lambda item: run_one(item[0], item[1], config), items))
