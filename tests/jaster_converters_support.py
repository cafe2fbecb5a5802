"""Steps shared by the converter tests of aio, commonsensemoralja, kuci, chabsa, alt and
wikicorpus: prepare a dataset through the real CLI from the fixture mirror, read what it produced,
and put a replacement file on the mirror together with its checksum (so that only the converter
can object to it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import error_lines, jeval

SEED42_OF_10 = [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]
"""`random.Random(42).shuffle(list(range(10)))`: the order llm-jp-eval's seed gives ten items."""


def prepare(name: str, mirror_url: str, data_dir: Path) -> dict[str, dict]:
    proc = jeval("data", "prepare", name, "--mirror", mirror_url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return {split: json.loads((data_dir / name / f"{split}.json").read_text(encoding="utf-8"))
            for split in ("train", "dev", "test")}


def prepare_fails(name: str, mirror_url: str, data_dir: Path, *extra: str) -> str:
    """The one-line error of a failed preparation; nothing of the dataset may be left behind."""
    proc = jeval("data", "prepare", name, "--mirror", mirror_url, "--data-dir", data_dir, *extra)
    assert proc.returncode == 2, proc.stderr
    lines = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert len(lines) == 1, proc.stderr
    assert not (data_dir / name).exists()
    return lines[0]


def pairs(split: dict) -> list[tuple[str, str]]:
    return [(s["input"], s["output"]) for s in split["samples"]]


def replace_on_mirror(root: Path, rel_path: str, data: bytes) -> None:
    (root / rel_path).write_bytes(data)
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{rel_path}"] = hashlib.sha256(data).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
