"""The child side of code_exec: started as `python -I sandbox_runner.py`, reads one job (JSON) on
stdin, confines itself, runs the code and its tests, and writes `<nonce> pass` or
`<nonce> fail <reason>` on the descriptor that was its stdout. Never imported by the harness.
"""

import builtins
import importlib
import json
import os
import resource
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

CLONE_NEWNET = 0x40000000
BLOCKED_EVENT_PREFIXES = (
    "socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "pty.", "ctypes.", "os.kill", "os.killpg", "resource.setrlimit", "os.symlink", "os.link",
    "webbrowser.", "urllib.Request", "http.client.",
)
PATH_EVENTS = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate",
               "os.utime", "os.chflags", "os.mkfifo", "os.mknod", "shutil.rmtree")
BLOCKED_MODULES = ("ctypes", "_ctypes")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _leave_network() -> None:
    """An empty network namespace; only root may create one, and failure leaves the audit hook as
    the network guard."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
    except (OSError, AttributeError):
        pass
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]


def _confine(limits: dict, drop_to: int | None) -> None:
    cpu = limits["cpu_s"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if drop_to is not None:
        os.setgroups([])
        os.setgid(drop_to)
        os.setuid(drop_to)
    # After the uid change: a process-count limit already exceeded at setuid time would make
    # the kernel refuse the next exec, and this process is no longer going to exec anything.
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


def _inside(root: str, path: "Any") -> bool:
    if isinstance(path, int):
        return True
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return real == root or real.startswith(root + os.sep)


def _guard(root: str) -> "Callable[[str, tuple], None]":
    def hook(event: str, args: tuple) -> None:
        if event.startswith(BLOCKED_EVENT_PREFIXES):
            raise PermissionError(f"sandbox: {event} is not allowed")
        if event == "import" and args and str(args[0]).split(".")[0] in BLOCKED_MODULES:
            raise PermissionError(f"sandbox: importing {args[0]} is not allowed")
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
            if writes and not _inside(root, path):
                raise PermissionError(f"sandbox: writing {path!r} outside the working directory")
        elif event in PATH_EVENTS:
            paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
            if not all(_inside(root, p) for p in paths):
                raise PermissionError(f"sandbox: {event} outside the working directory")

    return hook


def _namespaces(scope: str, upstream_globals: list[str]) -> tuple[dict, dict]:
    if scope == "upstream":
        globals_ = {"__builtins__": builtins, "__name__": "llm_jp_eval.utils"}
        for name in upstream_globals:
            globals_[name] = importlib.import_module(name)
        return globals_, {}
    namespace = {"__builtins__": builtins, "__name__": "__main__"}
    return namespace, namespace


def _run(code: str, tests: list[str], globals_: dict, locals_: dict) -> str:
    for test in tests:
        try:
            exec(code, globals_, locals_)
            exec(test, globals_, locals_)
        except BaseException as e:  # any failure of generated code is a failed sample
            return f"fail {type(e).__name__}"
    return "pass"


def main() -> None:
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    result_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sys.dont_write_bytecode = True
    if job["isolate_network"]:
        _leave_network()
    globals_, locals_ = _namespaces(job["scope"], job["upstream_globals"])
    _confine(job["limits"], job["drop_to"])
    nonce = job.pop("nonce")
    sys.addaudithook(_guard(os.path.realpath(os.getcwd())))
    signal.alarm(job["limits"]["wall_s"])
    verdict = _run(job.pop("code"), job.pop("tests"), globals_, locals_)
    os.write(result_fd, f"{nonce} {verdict}\n".encode())
    os._exit(0)


if __name__ == "__main__":
    main()
