"""Checks a downloaded file must pass when no pinned checksum vouches for it.

A pinned file is checked by its SHA-256 and nothing else. An unpinned one (its checksum could not
be established when jeval was written) is kept on first download, so it must at least be the kind
of file its name says: not an HTML page (a login wall, a "moved" notice, a rate-limit page), not
empty, not cut short, and readable in its format. The same checks run on an earlier download found
in the data dir, which is fetched again when it fails them.
"""

from __future__ import annotations

import bz2
import gzip
import json
import tarfile
import zipfile
from pathlib import Path

HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<!--")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".xml", ".py", ".md", ".yaml", ".yml")
SNIFF = 4096


def problem(path: Path, url: str) -> str | None:
    """What is wrong with `path` as a copy of `url` (None: nothing found)."""
    name = url.rsplit("/", 1)[-1].lower().split("?", 1)[0]
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    with path.open("rb") as f:
        head = f.read(SNIFF)
    if not name.endswith((".html", ".htm")) and head.lstrip().lower().startswith(HTML_STARTS):
        return "it is an HTML page, not the file"
    try:
        return _format_problem(path, name, head)
    except (OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile) as e:
        return f"it is not readable as {name.rsplit('.', 1)[-1]} ({type(e).__name__}: {e})"


def _format_problem(path: Path, name: str, head: bytes) -> str | None:
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
        return f"the zip archive is damaged at {broken}" if broken else None
    if name.endswith((".tar.gz", ".tgz", ".gz")):
        with gzip.open(path) as f:
            while f.read(1 << 20):
                pass
        return None
    if name.endswith(".tar.bz2"):
        with bz2.open(path) as f:
            while f.read(1 << 20):
                pass
        return None
    if name.endswith(".tar"):
        with tarfile.open(path) as archive:
            archive.getmembers()
        return None
    if name.endswith(".json"):
        text = path.read_text(encoding="utf-8")
        try:
            json.loads(text)
        except ValueError:
            return _json_lines_problem(text)
        return None
    if name.endswith(".jsonl"):
        return _json_lines_problem(path.read_text(encoding="utf-8"))
    if name.endswith(TEXT_SUFFIXES):
        path.read_text(encoding="utf-8-sig")
    return None


def _json_lines_problem(text: str) -> str | None:
    """JSON Lines (JGLUE names such files `.json`): every non-blank line one JSON value."""
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                json.loads(line)
            except ValueError as e:
                return f"it is neither JSON nor JSON Lines (line {n}: {e})"
    return None
