"""Run a command so that its whole process tree dies with the process that started it.

`spawn()` (in jeval) starts `python -m jeval.models.watchdog --parent PID -- COMMAND...`; the
watchdog starts COMMAND and stays between the two:

    jeval ── watchdog (own session, child subreaper) ── COMMAND (own session) ── its children

The watchdog ends the tree (SIGTERM to COMMAND's process group, then after `--grace` seconds
SIGKILL to the group and to every descendant left) when any of these happens:

- jeval asks (SIGTERM, SIGINT or SIGHUP to the watchdog; `ModelServer.stop()` does this). Asked
  again while it waits out the grace, it kills the tree at once (`ModelServer.kill()`, a second
  Ctrl-C of `jeval serve`);
- jeval is gone, however it died, SIGKILL included. The watchdog learns it from its parent-death
  signal (`prctl(PR_SET_PDEATHSIG)`) and, as a fallback, by polling: its parent pid is no longer
  jeval's;
- COMMAND exits by itself (its left-over children are then ended the same way).

Why a watchdog rather than a parent-death signal on COMMAND alone: that signal is not inherited
across fork, so `vllm serve`'s engine and worker processes would outlive a killed jeval. As a
child subreaper the watchdog inherits every orphaned descendant of COMMAND, even one that left
COMMAND's process group or session, so "the watchdog has no children left" means "the whole tree
is gone".

The parent-death signal is delivered when the *thread* that forked the watchdog ends, not the
process (jeval starts servers from worker threads, e.g. `asyncio.to_thread`). The watchdog
therefore takes that signal only as a prompt to look: jeval is gone when the watchdog's parent
pid differs from the one it was given (after jeval's death it is re-parented to init or a
subreaper); a thread ending while jeval lives leaves the parent pid unchanged and is ignored.
The same comparison covers the race where jeval died before the watchdog could ask for the
signal: the watchdog then starts nothing.

The watchdog sets its own parent-death signal after it is exec'd rather than between fork and
exec in jeval: a `preexec_fn` is unsafe in a multi-threaded parent such as jeval (CPython's
documentation warns it may deadlock). The watchdog is single-threaded, so there it does use one:
COMMAND gets `PR_SET_PDEATHSIG = SIGKILL` between fork and exec, in case the watchdog itself is
killed with SIGKILL (then COMMAND dies at once; its own children may outlive it, which nothing
but a cgroup or a PID namespace could prevent).

Only the standard library is imported here: the watchdog starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
POLL_S = 0.25
"""How often the watchdog checks its parent pid when no signal arrives."""
SWEEP_S = 10.0
"""How long the SIGKILL sweep may take (a process in uninterruptible sleep dies late)."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PARENT_DEATH_SIGNAL = signal.SIGUSR1
WATCHED = {*STOP_SIGNALS, PARENT_DEATH_SIGNAL, signal.SIGCHLD}
SAY_PREFIX = "jeval-watchdog"


# The jeval side.

def spawn(command: Sequence[str], *, log: IO[bytes], env: dict[str, str] | None = None,
          grace_s: float = 15.0) -> subprocess.Popen:
    """Start `command` under a watchdog that ends its whole process tree when the calling process
    dies or when the returned process (the watchdog) gets SIGTERM. The watchdog exits with
    `command`'s exit code (128 + N for signal N) once the tree is gone."""
    watchdog = [sys.executable, "-m", "jeval.models.watchdog", "--parent", str(os.getpid()),
                "--grace", str(grace_s), "--", *command]
    return subprocess.Popen(watchdog, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True)


# The watchdog side.

def _prctl() -> Callable[[int, int], bool] | None:
    """`prctl(option, value)` on Linux (True when it succeeded), None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.prctl
    except (OSError, AttributeError):
        return None
    return lambda option, value: call(option, ctypes.c_ulong(value), 0, 0, 0) == 0


def say(message: str) -> None:
    print(f"{SAY_PREFIX}[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _child_setup(prctl: Callable[[int, int], bool] | None, watchdog_pid: int) -> Callable[[], None]:
    """Runs in COMMAND's process between fork and exec (the watchdog is single-threaded)."""
    def setup() -> None:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())  # the watchdog blocks signals; COMMAND must not
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != watchdog_pid:  # the watchdog died before the prctl: do not run orphaned
            os._exit(1)
    return setup


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc; empty elsewhere)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return []
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


class Tree:
    """COMMAND and whatever it started, as seen from the watchdog (their subreaper)."""

    def __init__(self, leader: subprocess.Popen):
        self.leader = leader
        self.code: int | None = None

    def reap(self) -> bool:
        """Collect exited children (the leader's exit code among them); True while any child lives."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.leader.pid:
                code = os.waitstatus_to_exitcode(status)
                self.code = 128 - code if code < 0 else code
                self.leader.returncode = code

    def signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.leader.pid, sig)

    def end(self, grace_s: float) -> None:
        """SIGTERM to the group, wait up to `grace_s` for every descendant (cut short by a second
        request to stop: `ModelServer.stop(hurry=True)`, `ModelServer.kill()`), then SIGKILL what is left.
        The group is signalled only while a descendant lives, so that its id cannot be a reused one."""
        if self.reap():
            self.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while self.reap() and time.monotonic() < deadline:
            info = signal.sigtimedwait({signal.SIGCHLD, *STOP_SIGNALS},
                                       min(POLL_S, max(0.0, deadline - time.monotonic())))
            if info is not None and info.si_signo in STOP_SIGNALS:
                say(f"asked again to stop ({signal.Signals(info.si_signo).name}); killing the process tree now")
                break
        deadline = time.monotonic() + SWEEP_S
        while self.reap() and time.monotonic() < deadline:
            self.signal_group(signal.SIGKILL)
            for pid in _children(os.getpid()):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            signal.sigtimedwait({signal.SIGCHLD}, 0.05)
        if self.reap():
            say(f"processes {_children(os.getpid())} did not die within {SWEEP_S:.0f}s of SIGKILL")


def watch(tree: Tree, parent: int) -> str:
    """Wait until there is a reason to end the tree and say which."""
    while True:
        info = signal.sigtimedwait(WATCHED, POLL_S)
        if not tree.reap() or tree.code is not None:
            return f"the command exited (code {tree.code})"
        if info is not None and info.si_signo in STOP_SIGNALS:
            return f"asked to stop ({signal.Signals(info.si_signo).name})"
        if os.getppid() != parent:
            return f"its parent (pid {parent}) is gone"


def run(command: Sequence[str], parent: int, grace_s: float) -> int:
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)  # before the prctl, so that no signal is lost
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL)
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    if os.getppid() != parent:
        say(f"parent (pid {parent}) is already gone; not starting {command[0]}")
        return 1
    try:
        # preexec_fn is safe here: the watchdog is single-threaded
        leader = subprocess.Popen(list(command), start_new_session=True, preexec_fn=_child_setup(prctl, os.getpid()))
    except OSError as e:
        say(f"cannot start {command[0]}: {e.strerror}")
        return 127
    tree = Tree(leader)
    reason = watch(tree, parent)
    say(f"{reason}; ending the process tree of {command[0]} (pid {leader.pid})")
    tree.end(grace_s)
    return tree.code if tree.code is not None else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jeval.models.watchdog", description=__doc__.splitlines()[0])
    parser.add_argument("--parent", type=int, required=True, help="the pid whose death ends the command's tree")
    parser.add_argument("--grace", type=float, default=15.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (after --)")
    return run(command, args.parent, args.grace)


if __name__ == "__main__":
    sys.exit(main())
