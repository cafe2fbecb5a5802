"""Atomic file writes and JSON Lines helpers."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jeval.errors import JevalError


def default_home() -> Path:
    """Where jeval keeps prepared data and caches: $JEVAL_HOME, default ~/.cache/jeval."""
    return Path(os.environ.get("JEVAL_HOME", Path.home() / ".cache" / "jeval"))


TEMP_NAME_TRIES = 100
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def _temp_name(folder: Path, prefix: str, suffix: str) -> Path:
    return folder / f"{prefix}{secrets.token_hex(8)}{suffix}"


def new_temp_file(folder: Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """A new file under an unused name in `folder`, open for writing (a file descriptor).

    Created as open() creates files, mode 0o666 less the umask (typically 0644), so that the file
    renamed into place reads like any other; `tempfile.mkstemp` would give 0600. The kernel applies
    the umask, so it is never read here (os.umask can only be read by changing it, for the whole
    process, which is not thread-safe)."""
    for _ in range(TEMP_NAME_TRIES):
        path = _temp_name(folder, prefix, suffix)
        try:
            return os.open(path, _NEW_FILE, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no unused temporary file name after {TEMP_NAME_TRIES} tries")


def new_temp_dir(folder: Path, prefix: str) -> Path:
    """A new, empty folder under an unused name in `folder`, mode 0o777 less the umask, as mkdir
    makes them (`tempfile.mkdtemp` would give 0700)."""
    for _ in range(TEMP_NAME_TRIES):
        path = _temp_name(folder, prefix, "")
        try:
            path.mkdir(0o777)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no unused temporary folder name after {TEMP_NAME_TRIES} tries")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`; the file gets
    the mode open() would give it (0o666 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_temp_file(path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def atomic_write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise JevalError(f"{path}: not valid JSON ({e})") from None


def jsonl_numbered(lines: Iterable[str], path: Path) -> list[tuple[int, dict[str, Any]]]:
    """JSON Lines (`lines` as a text file gives them) as (line number, object) pairs, blank lines
    passed over; a malformed line is an error naming `path` and the line."""
    rows = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise JevalError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
        except ValueError as e:  # an integer longer than Python converts (4300 digits)
            raise JevalError(f"{path}:{lineno}: not usable JSON ({str(e).split(':')[0]})") from None
        if not isinstance(row, dict):
            raise JevalError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        rows.append((lineno, row))
    return rows


def read_jsonl_numbered(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Read a JSON Lines file as (line number, object) pairs; a malformed line is an error naming
    the file and line."""
    try:
        with path.open(encoding="utf-8") as f:
            return jsonl_numbered(f, path)
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file; a malformed line is an error naming the file and line."""
    return [row for _, row in read_jsonl_numbered(path)]
