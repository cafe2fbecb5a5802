"""Looking at process trees from tests (Linux /proc): who descends from a pid, and whether they are gone."""

from __future__ import annotations

import time
from pathlib import Path

Identity = tuple[int, str]
"""(pid, start time in clock ticks): a pid that was reused is another process."""


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after "pid (comm)": state, ppid, ... (None: no such process)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def descendants(root: int) -> set[Identity]:
    """Every living process below `root` (not `root` itself)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[Identity] = set()
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields is None:
            continue
        found.add((pid, fields[19]))
        todo.extend(parents.get(pid, []))
    return found


def alive(process: Identity) -> bool:
    """Running or sleeping; a zombie (dead, not yet reaped by a container's init) counts as gone."""
    fields = _stat(process[0])
    return fields is not None and fields[19] == process[1] and fields[0] not in ("Z", "X")


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_gone(processes: set[Identity], timeout_s: float) -> set[Identity]:
    """The processes still alive after waiting up to `timeout_s` for all of them to go."""
    deadline = time.monotonic() + timeout_s
    left = {p for p in processes if alive(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = {p for p in left if alive(p)}
    return left


def describe(processes: set[Identity]) -> list[str]:
    return [f"{pid}: {command_line(pid)}" for pid, _ in sorted(processes)]
