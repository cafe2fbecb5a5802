"""Runs untrusted Python (generated code) behind a kernel boundary, for any task family.

Each program runs in its own bubblewrap (`bwrap`) sandbox:

- new user, pid, network, ipc, uts, cgroup and mount namespaces (`--unshare-all --unshare-user`),
  no further user namespaces (`--disable-userns`), uid/gid 65534 inside, no capabilities,
  NoNewPrivs; a network namespace of its own, so nothing outside is reachable;
- a root of its own, read-only, holding only /usr (with the /bin, /lib... links), the interpreter's
  prefix and the virtual environment's (read-only binds), a fresh /proc of its pid namespace and a
  minimal /dev; the only writable place is a size-capped tmpfs at /tmp, its working directory;
- an empty environment: bwrap itself is started with none, because the sandbox can read
  /proc/1/environ of bwrap's own init process;
- a seccomp filter: ptrace and process_vm_* always refused (bwrap's init is in the sandbox's pid
  namespace); with `processes=1` (the default) also fork, vfork, clone and clone3, so the program
  can start neither processes nor threads, whatever the uid (RLIMIT_NPROC does not bind a sandbox
  whose uid maps onto host root, i.e. when jeval runs as root);
- resource limits set by `prlimit` inside the sandbox before the interpreter starts: CPU seconds,
  address space, file size, open files, processes, no core dumps;
- a wall-clock deadline, after which the whole tree is killed: bwrap's init (pid 1 of the sandbox's
  pid namespace, reached through a pidfd) and bwrap itself; when init dies the kernel kills every
  process of the namespace. Output is read up to a bound, then the tree is killed; the deadline
  holds even while something in the sandbox keeps the pipe open.

`Sandbox.create()` finds bwrap and runs a self-test program inside (uid, capabilities, seccomp,
network, pid namespace, read-only root, empty environment); anything missing raises
`SandboxUnavailable` with the reason. Callers refuse to run code then; nothing falls back to a weaker
isolation.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import selectors
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SANDBOX_UID = 65534
STDERR_KEPT = 4096
CHUNK = 1 << 16
REAP_WAIT_S = 5.0
STARTUP_GRACE_S = 3.0
"""Wall-clock seconds a run gets beyond its time limit, for setting the sandbox up."""
ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
INSTALL_HINT = "install bubblewrap 0.8 or newer (Debian: apt-get install -y bubblewrap)"


VALUES = Path(__file__).with_name("sandbox_values.py")
_VALUES_IMPORT = re.compile(r"^from jeval\.tasks\.sandbox_values import (?:\([^)]*\)|[^\n]*)$", re.MULTILINE)


def program_source(path: Path) -> str:
    """The source of the program in `path`, for `Sandbox.run_python`: its one
    `from jeval.tasks.sandbox_values import ...` statement replaced by that module's source, which
    the program shares with the host (`python -I` in the sandbox cannot import jeval)."""
    source = path.read_text(encoding="utf-8")
    found = len(_VALUES_IMPORT.findall(source))
    if found != 1:
        raise ValueError(f"{path} must import from jeval.tasks.sandbox_values exactly once, not {found} times")
    values = VALUES.read_text(encoding="utf-8")
    return _VALUES_IMPORT.sub(lambda _: values, source)


class SandboxUnavailable(Exception):
    """No isolation is available on this machine; the message says why."""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    """Wall-clock seconds from start, sandbox set-up included."""
    cpu_s: int = 10
    memory_bytes: int = 1 << 30
    file_size_bytes: int = 16 << 20
    scratch_bytes: int = 64 << 20
    """Size of the tmpfs at /tmp, the only writable place."""
    open_files: int = 64
    processes: int = 1
    """1: no new processes or threads (seccomp). More: RLIMIT_NPROC, which the kernel does not
    apply when jeval runs as root; the tree is still killed at the end."""
    output_bytes: int = 1 << 20
    """Bytes read from the program's stdout; one more and the tree is killed."""

    def __post_init__(self) -> None:
        if self.wall_s <= 0 or min(self.cpu_s, self.processes, self.open_files, self.output_bytes) < 1:
            raise ValueError(f"invalid sandbox limits: {self}")

    @classmethod
    def for_timeout(cls, timeout_s: float, **other: Any) -> Limits:
        """Limits of a program given `timeout_s` seconds: as many CPU seconds (whole, at least 1)
        and wall-clock seconds, plus STARTUP_GRACE_S of wall clock for the sandbox's set-up."""
        return cls(wall_s=timeout_s + STARTUP_GRACE_S, cpu_s=max(1, math.ceil(timeout_s)), **other)


@dataclass(frozen=True)
class Run:
    stdout: bytes
    status: int | None
    """bwrap's exit status (the program's; 128+N when a signal ended it); None when jeval killed it."""
    reason: str
    """"exited", "timeout" or "output limit"."""
    stderr: bytes
    seconds: float


# seccomp (classic BPF over struct seccomp_data: nr at offset 0, arch at offset 4)
_LD_ABS, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06
_KILL, _ERRNO_EPERM, _ALLOW = 0x80000000, 0x00050001, 0x7FFF0000
_SYSCALLS = {  # machine: (AUDIT_ARCH_*, refuse x32 numbers, fork family, tracing family)
    "x86_64": (0xC000003E, True, (56, 57, 58, 435), (101, 310, 311)),
    "aarch64": (0xC00000B7, False, (220, 435), (117, 270, 271)),
}


def seccomp_filter(processes: int, machine: str | None = None) -> bytes:
    """The filter bwrap installs before the program starts: another ABI is killed, tracing
    refused, and with `processes == 1` process and thread creation refused (EPERM)."""
    machine = machine or platform.machine()
    if machine not in _SYSCALLS:
        raise SandboxUnavailable(f"no seccomp syscall table for {machine!r} (known: {', '.join(_SYSCALLS)})")
    arch, x32, forks, tracing = _SYSCALLS[machine]
    refused = tracing + (forks if processes == 1 else ())
    prog = [(_LD_ABS, 0, 0, 4), (_JEQ, 1, 0, arch), (_RET, 0, 0, _KILL), (_LD_ABS, 0, 0, 0)]
    if x32:
        prog += [(_JGE, 0, 1, 0x40000000), (_RET, 0, 0, _KILL)]
    for nr in refused:
        prog += [(_JEQ, 0, 1, nr), (_RET, 0, 0, _ERRNO_EPERM)]
    prog.append((_RET, 0, 0, _ALLOW))
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


SELF_TEST = """
import json, os, socket
def attempt(action):
    try:
        return action()
    except OSError as e:
        return e.errno
facts = {"uid": [os.getuid(), os.getgid()], "pid": os.getpid(), "env": sorted(os.environ),
         "links": [name for _, name in socket.if_nameindex()],
         "init_env": attempt(lambda: open("/proc/1/environ", "rb").read().decode("latin-1")),
         "write_root": attempt(lambda: open("/probe", "w") and "allowed")}
facts.update(line.split(":\\t") for line in open("/proc/self/status").read().splitlines()
             if line.startswith(("CapEff", "NoNewPrivs", "Seccomp:")))
try:
    if os.fork() == 0:
        os._exit(0)
    facts["fork"] = "allowed"
except OSError as e:
    facts["fork"] = e.errno
print(json.dumps(facts))
"""
ALLOWED_ENV = {"HOME", "LANG", "LC_CTYPE", "PATH", "PWD"}


def _self_test_failures(facts: dict[str, Any]) -> list[str]:
    expected = {
        "uid/gid 65534": facts.get("uid") == [SANDBOX_UID, SANDBOX_UID],
        "no capabilities": facts.get("CapEff") == "0000000000000000",
        "NoNewPrivs": facts.get("NoNewPrivs") == "1",
        "seccomp filter": facts.get("Seccomp") == "2",
        "fork refused": facts.get("fork") not in ("allowed", None),
        "read-only root": facts.get("write_root") not in ("allowed", None),
        "own pid namespace": isinstance(facts.get("pid"), int) and facts["pid"] <= 3,
        "no network but loopback": facts.get("links") in ([], ["lo"]),
        "empty environment": set(facts.get("env", ["?"])) <= ALLOWED_ENV and facts.get("init_env") in ("", 13),
    }
    return [name for name, ok in expected.items() if not ok]


@dataclass(frozen=True)
class Sandbox:
    bwrap: str
    version: str
    python: str
    """The interpreter run inside (this process's, at the same path)."""
    read_only: tuple[str, ...]
    """Host paths bound read-only at the same place."""
    links: tuple[tuple[str, str], ...]
    """Symlinks recreated at the root (/lib -> usr/lib where /usr is merged)."""

    @classmethod
    def create(cls, bwrap: str | None = None) -> Sandbox:
        """Find bwrap, lay out the sandbox and run the self-test in it; SandboxUnavailable if any
        of that fails."""
        found = bwrap or shutil.which("bwrap")
        if found is None:
            raise SandboxUnavailable(f"bwrap (bubblewrap) is not installed; {INSTALL_HINT}")
        try:
            version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=10,
                                     env={}).stdout.strip()
        except (OSError, subprocess.SubprocessError) as e:
            raise SandboxUnavailable(f"cannot run {found}: {e}; {INSTALL_HINT}") from e
        read_only, links = ["/usr"], []
        for path in ROOT_LINKS:
            if os.path.islink(path):
                links.append((os.readlink(path), path))
            elif os.path.isdir(path):
                read_only.append(path)
        for prefix in (sys.base_prefix, sys.prefix):
            if not any(prefix == p or prefix.startswith(p + "/") for p in read_only):
                read_only.append(prefix)
        sandbox = cls(found, version, sys.executable, tuple(read_only), tuple(links))
        sandbox.self_test()
        return sandbox

    def self_test(self) -> None:
        try:
            run = self.run_python(SELF_TEST, b"", Limits(wall_s=30.0))
            facts = json.loads(run.stdout) if run.status == 0 else {}
        except (OSError, ValueError) as e:
            raise SandboxUnavailable(f"{self.version or self.bwrap} cannot start a sandbox here ({e}); "
                                     f"{INSTALL_HINT}") from e
        if run.status != 0 or not isinstance(facts, dict):
            why = run.stderr.decode("utf-8", "replace").strip()[-500:] or f"{run.reason}, status {run.status}"
            raise SandboxUnavailable(f"{self.version or self.bwrap} cannot start a sandbox here: {why}; {INSTALL_HINT} "
                                     "on a kernel that allows unprivileged user namespaces")
        failed = _self_test_failures(facts)
        if failed:
            raise SandboxUnavailable(f"the sandbox self-test failed ({', '.join(failed)}); refusing to run code")

    def argv(self, limits: Limits, info_fd: int, seccomp_fd: int) -> list[str]:
        argv = [self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--new-session", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
                "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
                "--setenv", "LANG", "C.UTF-8"]
        for path in self.read_only:
            argv += ["--ro-bind", path, path]
        for target, path in self.links:
            argv += ["--symlink", target, path]
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.scratch_bytes), "--tmpfs", "/tmp",
                 "--chdir", "/tmp", "--remount-ro", "/", "--remount-ro", "/dev",
                 "--info-fd", str(info_fd), "--seccomp", str(seccomp_fd), "--",
                 "prlimit", f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}", f"--as={limits.memory_bytes}",
                 f"--fsize={limits.file_size_bytes}", f"--nofile={limits.open_files}",
                 f"--nproc={limits.processes}", "--core=0", "--"]
        return argv

    def run_python(self, source: str, stdin: bytes, limits: Limits, args: Sequence[str] = ()) -> Run:
        """`python -I -B -c source *args` in a fresh sandbox, `stdin` on its standard input; its
        stdout up to `limits.output_bytes`, the first bytes of its stderr."""
        info_r, info_w = os.pipe()
        seccomp_r, seccomp_w = os.pipe()
        try:
            os.write(seccomp_w, seccomp_filter(limits.processes))
        finally:
            os.close(seccomp_w)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                [*self.argv(limits, info_w, seccomp_r), self.python, "-I", "-B", "-c", source, *args],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={},
                pass_fds=(info_w, seccomp_r), start_new_session=True)
        except BaseException:
            os.close(info_r)
            raise
        finally:
            os.close(info_w)
            os.close(seccomp_r)
        init: list[int] = []
        try:
            stdout, stderr, reason = _exchange(proc, info_r, init, stdin, limits, started + limits.wall_s)
            status: int | None = None
            if reason == "exited":
                with contextlib.suppress(subprocess.TimeoutExpired):
                    status = proc.wait(timeout=max(0.0, started + limits.wall_s - time.monotonic()))
                reason = "exited" if status is not None else "timeout"
        finally:
            _kill_tree(proc, init)
            os.close(info_r)
        return Run(bytes(stdout), status, reason, bytes(stderr), time.monotonic() - started)

    def describe(self, limits: Limits) -> dict[str, Any]:
        """What a result must record about how its programs ran."""
        return {
            "tool": self.version or "bubblewrap", "python": platform.python_version(),
            "namespaces": ["user", "pid", "net", "ipc", "uts", "cgroup", "mount"], "network": "none",
            "uid": SANDBOX_UID, "host_uid": os.geteuid(), "read_only": list(self.read_only),
            "writable": f"/tmp (tmpfs, {limits.scratch_bytes} bytes)", "environment": "empty",
            "seccomp": ["ptrace refused"] + (["fork, clone, threads refused"] if limits.processes == 1 else []),
            "limits": asdict(limits),
        }


def _exchange(proc: subprocess.Popen, info_r: int, init: list[int], stdin: bytes, limits: Limits,
              deadline: float) -> tuple[bytearray, bytearray, str]:
    """Feed stdin, read stdout (bounded) and stderr (head kept) until every pipe is closed, the
    deadline passes or stdout exceeds its bound; learn bwrap's init pid from its info fd."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out, err, info = bytearray(), bytearray(), bytearray()
    pending = memoryview(stdin)
    with selectors.DefaultSelector() as selector:
        for stream in (proc.stdout, proc.stderr):
            selector.register(stream.fileno(), selectors.EVENT_READ)
        selector.register(info_r, selectors.EVENT_READ)
        stdin_fd = proc.stdin.fileno()
        if pending:
            os.set_blocking(stdin_fd, False)
            selector.register(stdin_fd, selectors.EVENT_WRITE)
        else:
            proc.stdin.close()
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return out, err, "timeout"
            for key, _ in selector.select(left):
                fd = key.fd
                if fd == stdin_fd:
                    try:
                        pending = pending[os.write(fd, pending[:CHUNK]):]
                    except BrokenPipeError:
                        pending = pending[:0]
                    if not pending:
                        selector.unregister(fd)
                        proc.stdin.close()
                    continue
                chunk = os.read(fd, CHUNK)
                if not chunk:
                    selector.unregister(fd)
                elif fd == info_r:
                    info += chunk
                    _learn_init(info, init)
                elif fd == proc.stdout.fileno():
                    if len(out) + len(chunk) > limits.output_bytes:
                        return out, err, "output limit"
                    out += chunk
                elif len(err) < STDERR_KEPT:
                    err += chunk[:STDERR_KEPT - len(err)]
    return out, err, "exited"


def _learn_init(info: bytearray, init: list[int]) -> None:
    """bwrap's info fd gives `"child-pid": N`, its init in the sandbox's pid namespace; a pidfd
    pins that very process, so the kill can never hit a recycled pid."""
    found = re.search(rb'"child-pid"\s*:\s*(\d+)', info)
    if found and not init:
        with contextlib.suppress(OSError):
            init.append(os.pidfd_open(int(found.group(1))))


def _kill_tree(proc: subprocess.Popen, init: list[int]) -> None:
    """Unless bwrap has exited (it waits for its init, so the namespace is gone), SIGKILL bwrap's
    init (the kernel then kills its whole pid namespace) and bwrap; reap bwrap and wait until init
    is gone."""
    if proc.returncode is None:
        for pidfd in init:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    for pidfd in init:
        with selectors.DefaultSelector() as selector:
            selector.register(pidfd, selectors.EVENT_READ)
            selector.select(REAP_WAIT_S)
        os.close(pidfd)

