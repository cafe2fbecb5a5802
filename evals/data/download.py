"""Download pinned files, from upstream or from a mirror laid out as `MIRROR/HOST/PATH`.

A mirror may carry `jeval-mirror.json` with `{"checksums": {url: sha256}}`: the checksums of
files it serves that are not upstream's (the project's own sample files, a patched file). They
replace the pinned ones for that mirror only, and the prepared data records that they did.
A file lands only once its checksum matches; a failed download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from jeval.data.validate import problem
from jeval.errors import JevalError
from jeval.io import atomic_write_json, new_temp_file
from jeval.task import Source, mirror_path

log = logging.getLogger(__name__)

MIRROR_MANIFEST = "jeval-mirror.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Mirror:
    """Where files come from: upstream (`root=None`), a local folder, or an http(s) URL."""

    root: str | None = None
    checksums: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, root: str | None) -> Mirror:
        if root is None:
            return cls()
        if root.startswith(("http://", "https://")):
            root = root.rstrip("/")
            try:
                with urllib.request.urlopen(f"{root}/{MIRROR_MANIFEST}", timeout=30) as r:
                    manifest = json.loads(r.read())
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise JevalError(f"mirror {root}: {MIRROR_MANIFEST} answered HTTP {e.code}") from None
                manifest = {}
            except (urllib.error.URLError, OSError) as e:
                raise JevalError(f"mirror {root} is unreachable ({_reason(e)})") from None
            except json.JSONDecodeError as e:
                raise JevalError(f"mirror {root}: {MIRROR_MANIFEST} is not valid JSON ({e.msg})") from None
        else:
            path = Path(root).expanduser()
            if not path.is_dir():
                raise JevalError(f"mirror folder {path} does not exist")
            root = str(path.resolve())
            manifest_path = path / MIRROR_MANIFEST
            try:
                manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
            except json.JSONDecodeError as e:
                raise JevalError(f"{manifest_path} is not valid JSON ({e.msg})") from None
        checksums = manifest.get("checksums", {}) if isinstance(manifest, dict) else None
        if not isinstance(checksums, dict):
            raise JevalError(f"mirror {root}: {MIRROR_MANIFEST} must hold {{\"checksums\": {{url: sha256}}}}")
        return cls(root, checksums)

    def location_of(self, url: str) -> str:
        if self.root is None:
            return url
        if self.root.startswith(("http://", "https://")):
            return f"{self.root}/{mirror_path(url)}"
        return str(Path(self.root) / mirror_path(url))

    def expected_sha256(self, source: Source) -> str:
        return self.checksums.get(source.url, source.sha256)

    def overrides(self, source: Source) -> bool:
        return self.expected_sha256(source) != source.sha256


@dataclass(frozen=True)
class Checkout:
    """A local copy of an upstream repository (a checkout or an unpacked release): files whose
    URL starts with `prefix` are read from `root` instead of being downloaded, never cached."""

    prefix: str
    root: Path
    origin: str
    """"checkout" where the copy's version was confirmed, else "unverified"."""
    describe: str

    def path_for(self, url: str) -> Path | None:
        if not url.startswith(self.prefix):
            return None
        return self.root / url[len(self.prefix):].lstrip("/")


@dataclass(frozen=True)
class Fetched:
    """A source's local copy, where its bytes came from (see jeval.provenance), and the URL found
    (one of the source's alternatives where the first was absent)."""

    path: Path
    origin: str
    sha256: str
    url: str


@dataclass(frozen=True)
class Missing:
    """An optional source that could not be had: what was tried."""

    source: Source
    tried: tuple[str, ...]


class _Absent(JevalError):
    """The file is not there (HTTP 404/410, or no such file in a mirror or checkout); another
    layout may still have it."""


ORIGIN_SUFFIX = ".jeval-origin"
"""Beside each downloaded file: where its bytes came from, for files with no pin to check."""


def _origin(source: Source, mirror: Mirror) -> str:
    if mirror.overrides(source):
        return "standin"
    if mirror.root is None:
        return "upstream"
    return "verified" if source.sha256 else "unverified"


def _recorded_origin(target: Path, sha256: str, source: Source, mirror: Mirror) -> str:
    """The origin of a file downloaded earlier (whose SHA-256 is `sha256`): verified by its pin,
    else as recorded when it came."""
    if mirror.overrides(source):
        return "standin"
    if source.sha256:
        return "verified"
    try:
        record = json.loads(target.with_name(target.name + ORIGIN_SUFFIX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unverified"
    if isinstance(record, dict) and record.get("sha256") == sha256:
        return str(record.get("origin", "unverified"))
    return "unverified"


def _checkout_for(url: str, checkouts: Sequence[Checkout]) -> Checkout | None:
    return next((c for c in checkouts if c.path_for(url) is not None), None)


def fetch(source: Source, raw_dir: Path, mirror: Mirror, checkouts: Sequence[Checkout] = ()) -> Fetched | Missing:
    """The local copy of `source`, and its origin: read from a checkout that covers it, else an
    earlier download under `raw_dir`, else downloaded (trying each of its URLs in turn). A file
    that is nowhere is an error naming every place tried, or, for an optional source, `Missing`."""
    expected = mirror.expected_sha256(source)
    for url in source.urls:
        target = raw_dir / mirror_path(url)
        if _checkout_for(url, checkouts) is None and target.exists():
            found = sha256_file(target)
            if found == expected or (not expected and _still_good(target, found, url)):
                return Fetched(target, _recorded_origin(target, found, source, mirror), found, url)
    tried: list[str] = []
    for url in source.urls:
        checkout = _checkout_for(url, checkouts)
        try:
            if checkout is not None:
                return _from_checkout(source, url, checkout, expected, tried)
            return _download(source, url, raw_dir, mirror, expected, tried)
        except _Absent as e:
            tried[-1] = str(e)
    if source.optional:
        return Missing(source, tuple(tried))
    where = "; ".join(tried)
    message = f"{source.url} could not be had ({where})"
    raise JevalError(f"{message}; {source.unavailable}" if source.unavailable else message)


def _from_checkout(source: Source, url: str, checkout: Checkout, expected: str, tried: list[str]) -> Fetched:
    path = checkout.path_for(url)
    assert path is not None
    tried.append(str(path))
    if not path.is_file():
        raise _Absent(f"{checkout.describe} has no file {path}")
    got = sha256_file(path)
    if expected and got != expected:
        raise JevalError(f"{path} ({checkout.describe}) is not the file jeval expects for {url}: sha256 {got}, "
                         f"expected {expected}")
    log.debug("read %s from %s", url, path)
    return Fetched(path, checkout.origin, got, url)


def _download(source: Source, url: str, raw_dir: Path, mirror: Mirror, expected: str, tried: list[str]) -> Fetched:
    target = raw_dir / mirror_path(url)
    where = mirror.location_of(url)
    tried.append(where)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_temp_file(target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(where, out)
        got = sha256_file(tmp)
        if not expected:
            why = problem(tmp, url)
            if why is not None:
                raise JevalError(f"{where} is not a usable copy of {url}: {why}; nothing was kept")
            log.debug("%s has no pinned checksum; kept with sha256 %s (recorded in the manifest)", url, got)
        elif got != expected:
            raise JevalError(
                f"checksum mismatch for {url} (read from {where}): expected sha256 {expected}, "
                f"got {got}; the file changed upstream or the mirror is corrupt, nothing was kept"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.debug("downloaded %s", where)
    origin = _origin(source, mirror)
    atomic_write_json(target.with_name(target.name + ORIGIN_SUFFIX),
                      {"origin": origin, "from": where, "sha256": got, "checked": not expected})
    return Fetched(target, origin, got, url)


def _still_good(target: Path, sha256: str, url: str) -> bool:
    """Whether an earlier, unpinned download may be used again: checked when it came (recorded
    beside it), or passing the checks now; a copy that fails them is removed, to be fetched again."""
    record_path = target.with_name(target.name + ORIGIN_SUFFIX)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    if isinstance(record, dict) and record.get("sha256") == sha256 and record.get("checked"):
        return True
    why = problem(target, url)
    if why is None:
        return True
    log.warning("%s: the copy downloaded earlier is not usable (%s); fetching it again", url, why)
    target.unlink()
    return False


def _copy(where: str, out: BinaryIO) -> None:
    if where.startswith(("http://", "https://")):
        request = urllib.request.Request(where, headers={"User-Agent": "jeval"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                kind = response.headers.get("Content-Type", "")
                if "text/html" in kind and not urlsplit(where).path.endswith((".html", ".htm")):
                    raise JevalError(f"{where} answered with an HTML page ({kind}), not the file; nothing was kept")
                copied = _copy_counted(response, out)
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) != copied:
                    raise JevalError(f"download of {where} was cut short ({copied} of {length} bytes); "
                                     "nothing was kept")
        except urllib.error.HTTPError as e:
            if e.code in (404, 410):
                raise _Absent(f"{where}: HTTP {e.code}") from None
            raise JevalError(f"download of {where} failed: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            raise JevalError(
                f"cannot download {where} ({_reason(e)}); offline? use --mirror DIR_OR_URL "
                "(`jeval data sources --json` lists each file's mirror path)"
            ) from None
    else:
        try:
            with open(where, "rb") as f:
                _copy_counted(f, out)
        except FileNotFoundError:
            raise _Absent(f"the mirror has no file {where}") from None


def _copy_counted(source: BinaryIO, out: BinaryIO) -> int:
    """Bytes copied; a failed write (a full disk) is an error of its own, not a failed download."""
    copied = 0
    while block := source.read(1 << 20):
        try:
            out.write(block)
        except OSError as e:
            raise JevalError(f"cannot write the download to {getattr(out, 'name', 'disk')}: {e.strerror}") from None
        copied += len(block)
    return copied


def _reason(e: Exception) -> str:
    return str(getattr(e, "reason", e))
