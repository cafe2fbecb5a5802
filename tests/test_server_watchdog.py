"""The watchdog under every model server jeval starts: the command's whole process tree (children
that ignore SIGTERM or left its session included) ends with jeval, however jeval ends.

A stand-in "server" (sh starting sleeps that ignore SIGTERM, one in a session of its own) keeps
these tests fast; tests/test_serve.py does the same with a real `transformers serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from process_support import alive, descendants, describe, wait_gone

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# sh ignores SIGTERM, and so do the sleeps it starts (an ignored signal stays ignored across exec);
# one sleep moves to a session of its own, out of the server's process group.
STUBBORN_TREE = 'trap "" TERM; sleep 3000 & setsid sleep 3001 & echo started > "$0"; wait'

# A process that starts the command under the watchdog from a worker thread that then ends (as
# `jeval run` does through asyncio.to_thread), prints the watchdog's pid and lives until killed.
PARENT = """
import asyncio, sys
from jeval.models.watchdog import spawn

async def start():
    with open(sys.argv[1], "ab") as log:
        return await asyncio.to_thread(spawn, sys.argv[3:], log=log, grace_s=float(sys.argv[2]))

watchdog = asyncio.run(start())
print(watchdog.pid, flush=True)
sys.stdin.read()
"""


def start_parent(tmp_path: Path, command: list[str], grace_s: float = 1.0) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path / "log"), str(grace_s), *command],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def wait_for(path: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)
    time.sleep(0.2)  # the sleeps are started before sh writes the file; let exec finish


def stubborn(tmp_path: Path) -> tuple[list[str], Path]:
    marker = tmp_path / "started"
    return ["sh", "-c", STUBBORN_TREE, str(marker)], marker


def test_sigkill_of_the_parent_ends_the_whole_tree(tmp_path):
    command, marker = stubborn(tmp_path)
    parent, _ = start_parent(tmp_path, command)
    wait_for(marker)
    time.sleep(1.0)  # the thread that forked the watchdog ended long ago: that alone must change nothing
    tree = descendants(parent.pid)
    assert len(tree) == 4 and all(alive(p) for p in tree), describe(tree)  # watchdog, sh, two sleeps
    started = time.monotonic()
    parent.kill()
    parent.wait()
    left = wait_gone(tree, timeout_s=10)
    assert not left, describe(left)
    assert time.monotonic() - started < 1.0 + 5.0  # grace 1 s, then SIGKILL
    log = (tmp_path / "log").read_text()
    assert f"its parent (pid {parent.pid}) is gone" in log


def test_sigterm_to_the_watchdog_ends_the_tree_and_it_exits_with_the_command(tmp_path):
    marker = tmp_path / "started"
    parent, watchdog = start_parent(tmp_path, ["sh", "-c", 'sleep 3000 & echo started > "$0"; wait', str(marker)])
    wait_for(marker)
    tree = descendants(parent.pid)
    os.kill(watchdog, signal.SIGTERM)
    assert not wait_gone(tree, timeout_s=10), describe(tree)
    parent.communicate("")
    assert "asked to stop (SIGTERM)" in (tmp_path / "log").read_text()


def test_a_command_that_exits_by_itself_takes_its_leftovers_with_it(tmp_path):
    marker = tmp_path / "started"
    parent, _ = start_parent(tmp_path, ["sh", "-c", 'sleep 3000 & echo started > "$0"; sleep 0.5; exit 3',
                                        str(marker)])
    wait_for(marker)
    tree = descendants(parent.pid)
    assert not wait_gone(tree, timeout_s=10), describe(tree)
    assert "the command exited (code 3)" in (tmp_path / "log").read_text()
    parent.communicate("")


def test_the_watchdog_exit_code_is_the_commands():
    proc = subprocess.run([sys.executable, "-m", "jeval.models.watchdog", "--parent", str(os.getpid()), "--grace", "1",
                           "--", "sh", "-c", "exit 7"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 7, proc.stderr


def test_an_orphaned_watchdog_starts_nothing(tmp_path):
    """The parent died before the watchdog could ask for its parent-death signal: the parent pid it
    was given is not its parent, and the command must not run unwatched."""
    marker = tmp_path / "ran"
    proc = subprocess.run([sys.executable, "-m", "jeval.models.watchdog", "--parent", "1", "--",
                           "touch", str(marker)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "parent (pid 1) is already gone; not starting touch" in proc.stderr
    assert not marker.exists()


def test_a_missing_command_is_exit_code_127():
    proc = subprocess.run([sys.executable, "-m", "jeval.models.watchdog", "--parent", str(os.getpid()), "--",
                           "/nonexistent/serve"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 127 and "cannot start /nonexistent/serve" in proc.stderr
