"""What is known of an upstream data file beyond its URL, checksum and licence: whether upstream
still serves it, whether getting it takes accepting terms or a token, and whether its licence
allows commercial use; and the README's table of it all.

Every source a built-in task declares carries a `SourceStatus` (`Source.status`); commercial use is
read from the source's own licence field. "not checked" is a value, not a gap: it says that the
fact was not established for this file where jeval was written. A status is never guessed.

The README's table of sources is `markdown_table` of `jeval data sources` (`jeval data sources
--markdown` prints it), and a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

Upstream = Literal["available", "dead", "moved", "not checked"]
Access = Literal["open", "gated", "not checked"]
CommercialUse = Literal["allowed", "non-commercial", "not checked"]


@dataclass(frozen=True)
class SourceStatus:
    upstream: Upstream
    """available: upstream was seen holding this exact file (`basis` says where); dead: upstream
    no longer serves it; moved: upstream serves it at another address than the one jeval names."""
    access: Access
    """open: anyone may download it, no account, terms or token; gated: upstream asks for its
    terms to be accepted or a token (jeval sends none: download it yourself, give it with --mirror)."""
    basis: str
    """What the status rests on."""


GITHUB_PINNED = SourceStatus(
    "available", "open", "a public GitHub repository at a pinned commit or tag; the checksum was taken from the file "
    "there")
GITHUB_UNPINNED = SourceStatus(
    "not checked", "open", "a public GitHub repository; the file's own bytes were not seen where jeval was written")
NOT_CHECKED = SourceStatus("not checked", "not checked", "not checked where jeval was written")

PERMISSIVE = ("CC BY 4.0", "CC BY 3.0", "CC BY-SA 4.0", "CC BY-SA 3.0", "MIT", "Apache-2.0", "BSD-3-Clause")
"""Licences that allow commercial use, as the registry spells them."""


def commercial_use(license: str) -> CommercialUse:
    """What a source's licence (the registry's `license`, its name before any parenthesis) says
    of commercial use."""
    name = license.split("(", 1)[0].strip()
    if "-NC" in name:
        return "non-commercial"
    return "allowed" if name in PERMISSIVE else "not checked"


MIRROR_HINT = "nothing: `jeval data prepare` downloads it"
TRY_HINT = "`jeval data prepare` tries it; should it fail, give it with `--mirror`"
GATED_HINT = "accept its terms upstream, download it yourself and give it with `--mirror`"


def _hint(row: Mapping[str, Any]) -> tuple[str, str]:
    """What a user does about a source, and the note it refers to (empty: none)."""
    if row["upstream"] in ("dead", "moved"):
        return "supply it yourself", row["unavailable"] or "no way to supply it is known"
    if row["access"] == "gated":
        return GATED_HINT, ""
    return (MIRROR_HINT if row["upstream"] == "available" else TRY_HINT), ""


def _files(urls: Sequence[str]) -> str:
    """A few files by name, more by their number; and where from."""
    hosts = ", ".join(sorted({urlsplit(u).netloc for u in urls}))
    if len(urls) > 3:
        return f"{len(urls)} files from {hosts}"
    return f"{', '.join(urlsplit(u).path.rsplit('/', 1)[-1] for u in urls)} from {hosts}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """`jeval data sources --json` rows as a Markdown table: one line per group of files that share
    their tasks and everything the table says of them, then numbered notes on how to supply what
    upstream no longer serves."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for row in rows:
        said = (row["upstream"], row["access"], row["license"], row["commercial_use"], *_hint(row))
        task = f"{row['task']} ({row['variant']})" if row.get("variant") else row["task"]
        groups.setdefault((task, *said), []).append(row["url"])
    merged: dict[tuple[Any, ...], list[str]] = {}
    for (task, *described), urls in groups.items():
        merged.setdefault((tuple(described), tuple(sorted(urls))), []).append(task)
    lines = ["| Tasks | Files | Upstream | Access | Licence | Commercial use | What you do |",
             "|---|---|---|---|---|---|---|"]
    notes: list[str] = []
    for (key, urls), tasks in sorted(merged.items(), key=lambda item: sorted(item[1])[0]):
        upstream, access, license, use, hint, note = key
        if note:
            if note not in notes:
                notes.append(note)
            hint = f"{hint}: note {notes.index(note) + 1}"
        lines.append(f"| {', '.join(sorted(tasks))} | {_files(urls)} | {upstream} | {access} | {_cell(license)} | "
                     f"{use} | {_cell(hint)} |")
    if notes:
        lines.append("")
        lines.extend(f"{i}. {note}" for i, note in enumerate(notes, 1))
    return "\n".join(lines) + "\n"
