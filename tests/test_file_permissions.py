"""Files jeval writes get the mode a plain open() gives them: 0o666 less the process's umask (0644
under the usual 022), folders 0o777 less it; never the 0600/0700 of Python's tempfile, which left
leaderboard pages, results and prepared data unreadable to anyone else."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from leaderboard_support import build_results

from jeval.cli import main
from jeval.io import atomic_write_json, atomic_write_text

UMASKS = (0o022, 0o027, 0o002)


@pytest.fixture(params=UMASKS, ids=[f"umask-{m:03o}" for m in UMASKS])
def umask(request) -> Iterator[int]:
    """The test process's umask set to the parameter for the test, and restored after."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_create_files_as_open_would(tmp_path, umask):
    atomic_write_json(tmp_path / "new" / "results.json", {"a": 1})
    atomic_write_text(tmp_path / "page.html", "<p>old</p>")
    atomic_write_text(tmp_path / "page.html", "<p>new</p>")  # replaced: a new file again
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("reference")
    assert mode(tmp_path / "new" / "results.json") == 0o666 & ~umask
    assert mode(tmp_path / "page.html") == 0o666 & ~umask == mode(tmp_path / "plain.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "page.html", "plain.txt"]


def test_the_leaderboard_page_is_readable_like_any_file(tmp_path, umask, capsys):
    build_results(tmp_path)
    html = tmp_path / "leaderboard.html"
    assert main(["leaderboard", str(tmp_path / "results"), "--format", "html", "--out", str(html)]) == 0
    assert mode(html) == 0o666 & ~umask
    for results in (tmp_path / "results").rglob("results.json"):
        assert mode(results) == 0o666 & ~umask, results


def test_downloads_and_prepared_data_get_the_umask_mode(sample_mirror, tmp_path, umask, capsys):
    data_dir = tmp_path / "data"
    assert main(["data", "prepare", "jcommonsenseqa", "--mirror", sample_mirror[1], "--data-dir", str(data_dir)]) == 0
    downloaded = [p for p in (data_dir / "raw").rglob("*") if p.is_file()]
    prepared = [p for p in (data_dir / "jcommonsenseqa").rglob("*") if p.is_file()]
    assert any(p.name == "train-v1.1.json" for p in downloaded) and any(p.name == "manifest.json" for p in prepared)
    for path in downloaded + prepared:
        assert mode(path) == 0o666 & ~umask, path
    assert mode(data_dir / "jcommonsenseqa") == 0o777 & ~umask
