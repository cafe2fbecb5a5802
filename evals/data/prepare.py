"""`jeval data prepare`: download each task's sources and build its prepared files.

Layout under the data dir: `raw/HOST/PATH` holds downloaded files exactly as upstream has them
(so the folder can itself serve as a mirror); `<task>/` holds the prepared files and
`manifest.json` (sources, checksums, data fingerprint). A task folder is replaced whole or not at all.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval import __version__
from jeval.data.download import Checkout, Fetched, Mirror, Missing, fetch
from jeval.errors import JevalError, Unavailable
from jeval.io import atomic_write_json, new_temp_dir, read_json
from jeval.source_status import NOT_CHECKED, commercial_use
from jeval.task import ChoosesPromptText, ImportsPreprocessed, PrepareOptions, Source, Task

MANIFEST = "manifest.json"


def _prepared_files(task_dir: Path) -> list[Path]:
    return sorted(p for p in task_dir.rglob("*") if p.is_file() and p.name != MANIFEST)


def data_fingerprint(task_dir: Path) -> str:
    """SHA-256 over the prepared files' names and bytes (the manifest itself excluded)."""
    digest = hashlib.sha256()
    for path in _prepared_files(task_dir):
        digest.update(str(path.relative_to(task_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_checksums(task_dir: Path) -> dict[str, str]:
    """Each prepared file's SHA-256 by its path in the task folder (to name what changed)."""
    return {path.relative_to(task_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in _prepared_files(task_dir)}


@dataclass(frozen=True)
class Prepared:
    task: str
    path: Path
    fingerprint: str
    checksums_from_mirror: bool
    protocol: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    missing: tuple[Missing, ...] = ()
    """Optional sources that could not be had (what the task lacks for it: `Source.optional`)."""


def for_options(task: Task, options: PrepareOptions) -> Task:
    """The task as `options` ask it to be prepared: with the upstream tool's prompt text where
    they ask for it (a preprocessed import always carries upstream's text)."""
    wants_upstream = options.upstream_text or options.upstream_checkout is not None or options.preprocessed is not None
    if wants_upstream and isinstance(task, ChoosesPromptText):
        return task.with_upstream_text()
    return task


def prepare_task(task: Task, data_dir: Path, mirror: Mirror, options: PrepareOptions | None = None,
                 checkouts: Sequence[Checkout] = ()) -> Prepared:
    """Download the task's sources and convert them; with `options.preprocessed` (llm-jp-eval's
    own evaluation files, Jaster only), take the splits from there and download only the rest."""
    options = options or PrepareOptions()
    preprocessed = options.preprocessed
    if preprocessed is not None and not isinstance(task, ImportsPreprocessed):
        raise JevalError(f"{task.spec.name}: --jaster-dir applies to Jaster datasets only")
    if not task.spec.prepared:
        raise JevalError(f"{task.spec.name}: nothing to prepare (its inputs are given to `jeval run`)")
    task = for_options(task, options)
    sources = task.sources() if not isinstance(task, ImportsPreprocessed) or preprocessed is None \
        else task.preprocessed_sources()
    raw_dir = data_dir / "raw"
    got = {source.url: fetch(source, raw_dir, mirror, checkouts) for source in sources}
    fetched = {url: f for url, f in got.items() if isinstance(f, Fetched)}
    missing = tuple(m for m in got.values() if isinstance(m, Missing))
    files = {url: f.path for url, f in fetched.items()}
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = new_temp_dir(data_dir, prefix=f".{task.spec.name}.")
    try:
        if isinstance(task, ImportsPreprocessed) and preprocessed is not None:
            task.import_preprocessed(preprocessed, files, staging)
        else:
            task.convert(files, staging)
        fingerprint = data_fingerprint(staging)
        counts = task.prepared_counts(staging)
        overridden = any(mirror.overrides(s) for s in sources if s.url in fetched)
        atomic_write_json(staging / MANIFEST, {
            "task": task.spec.name,
            "protocol": task.spec.protocol,
            **({"prompt_text": "jeval"} if isinstance(task, ChoosesPromptText) and not task.upstream_text else {}),
            "jeval_version": __version__,
            "data_fingerprint": fingerprint,
            "checksums_from_mirror": overridden,
            "preprocessed_from": str(preprocessed) if preprocessed is not None else None,
            "counts": counts,
            "files": file_checksums(staging),
            "sources": [_source_record(s, fetched[s.url]) for s in sources if s.url in fetched],
            "missing_sources": [{"url": m.source.url, "lacks": m.source.optional, "tried": list(m.tried)}
                                for m in missing],
        })
        final = data_dir / task.spec.name
        old = data_dir / f".{task.spec.name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Prepared(task.spec.name, final, fingerprint, overridden, task.spec.protocol, counts, missing)


def _source_record(source: Source, fetched: Fetched) -> dict[str, Any]:
    record = {"url": source.url, "sha256": fetched.sha256, "pinned_sha256": source.sha256 or None,
              "license": source.license, "origin": fetched.origin, "defines_prompt": source.defines_prompt}
    if fetched.url != source.url:
        record["found_at"] = fetched.url
    return record


def prepare_again(name: str) -> str:
    """What to do about prepared data that is damaged or was changed."""
    return f"run `jeval data prepare {name}` again (add --mirror DIR_OR_URL when offline)"


def unreadable(path: Path) -> str | None:
    """Why a prepared JSON or JSON Lines file does not parse, as `FILE:LINE: ...`; None when it does
    (or is of another kind)."""
    if path.suffix not in (".json", ".jsonl"):
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return f"{path}: not UTF-8 text ({e.reason})"
    except OSError as e:
        return f"{path}: cannot be read ({e.strerror})"
    chunks = [(1, text)] if path.suffix == ".json" else list(enumerate(text.splitlines(), 1))
    for first, chunk in chunks:
        if not chunk.strip():
            continue
        try:
            json.loads(chunk)
        except ValueError as e:
            line = first - 1 + getattr(e, "lineno", 1)
            return f"{path}:{line}: not valid JSON ({getattr(e, 'msg', str(e).split(':')[0])})"
    return None


def load_manifest(task: Task, data_dir: Path) -> dict[str, Any]:
    """The manifest of a prepared task; a clear error if the task was never prepared, or if the
    manifest is damaged."""
    path = data_dir / task.spec.name / MANIFEST
    if not path.exists():
        raise Unavailable(
            f"task {task.spec.name!r} has no prepared data in {data_dir}; run `jeval data prepare {task.spec.name}`"
            " (add --mirror DIR_OR_URL when offline)"
        )
    why = unreadable(path)
    if why is not None:
        raise JevalError(f"{why}: the prepared data of {task.spec.name} is damaged; {prepare_again(task.spec.name)}")
    manifest = read_json(path)
    if not isinstance(manifest, dict) or "data_fingerprint" not in manifest:
        raise JevalError(f"{path} is not a jeval data manifest; {prepare_again(task.spec.name)}")
    return manifest


def sources_table(tasks: list[Task]) -> list[dict[str, Any]]:
    """Every source of `tasks`, with what is known of it (`jeval.source_status`); for a task with
    an upstream tool's prompt text, also the files `jeval data prepare --upstream-text` fetches for
    it (`variant`), so that a mirror for offline machines can hold them too."""
    rows = []
    for t in tasks:
        own = t.sources()
        extra: tuple[Source, ...] = ()
        if isinstance(t, ChoosesPromptText) and not t.upstream_text:
            urls = {s.url for s in own}
            extra = tuple(s for s in t.with_upstream_text().sources() if s.url not in urls)
        for s, variant in [*((s, None) for s in own), *((s, "--upstream-text") for s in extra)]:
            status = s.status or NOT_CHECKED
            rows.append({"task": t.spec.name, "variant": variant, "url": s.url, "sha256": s.sha256,
                         "mirror_path": s.mirror_path, "license": s.license, "defines_prompt": s.defines_prompt,
                         "upstream": status.upstream, "access": status.access,
                         "commercial_use": commercial_use(s.license),
                         "status_basis": status.basis if s.status else "declared without a status",
                         "unavailable": s.unavailable})
    return rows
