"""Shared steps of the NLI/STS converter tests (jamp, janli, jnli, jsem, jsick, jsts): prepare a
dataset through the real CLI from the fixture mirror, read what it produced, and put a broken file
on the mirror (with its checksum, so that only the converter can object)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from conftest import error_lines, jeval

GITHUB = "raw.githubusercontent.com"
PROCESSORS = f"{GITHUB}/llm-jp/llm-jp-eval/v1.4.1/src/llm_jp_eval/jaster"


def prepare(name: str, mirror_url: str, data_dir: Path) -> dict[str, dict]:
    """Prepared with llm-jp-eval's prompt text (the fixture's stand-in processors)."""
    proc = jeval("data", "prepare", name, "--prompts", "llm-jp-eval", "--mirror", mirror_url, "--data-dir", data_dir)
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
    assert not [p for p in data_dir.iterdir() if p.name.startswith(f".{name}")]
    return lines[0]


def pairs(split: dict) -> list[tuple[str, str]]:
    return [(s["input"], s["output"]) for s in split["samples"]]


def replace_on_mirror(root: Path, rel_path: str, text: str) -> None:
    data = text.encode("utf-8")
    (root / rel_path).write_bytes(data)
    manifest_path = root / "jeval-mirror.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["checksums"][f"https://{rel_path}"] = hashlib.sha256(data).hexdigest()
    manifest_path.write_text(json.dumps(manifest))


def tsv_rows(path: Path) -> list[list[str]]:
    """The data rows of a fixture TSV file (header dropped)."""
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def seed42_order(items: list) -> list:
    """llm-jp-eval's `random.seed(42); random.shuffle(items)`."""
    out = list(items)
    random.seed(42)
    random.shuffle(out)
    return out
