"""MMLU (English) through `jeval data prepare`: dev/val/test folders of Hendrycks' archive become
train/dev/test, each subject shuffled by a fresh seed-42 generator, subjects interleaved."""

from __future__ import annotations

import csv
import io
import json
import random
import tarfile

from conftest import error_lines, jeval

ARCHIVE = "people.eecs.berkeley.edu/~hendrycks/data.tar"


def prepare(url, data_dir):
    proc = jeval("data", "prepare", "mmlu_en", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return {s: json.loads((data_dir / "mmlu_en" / f"{s}.json").read_text(encoding="utf-8"))
            for s in ("train", "dev", "test")}


def expected_split(root, folder):
    with tarfile.open(root / ARCHIVE) as tar:
        members = sorted((m for m in tar if m.name.startswith(f"data/{folder}/")), key=lambda m: m.name)
        subjects = []
        for m in members:
            rows = list(csv.reader(io.StringIO(tar.extractfile(m).read().decode())))
            items = [{"input": f"Question: {r[0]}\nChoices: A.{r[1]}, B.{r[2]}, C.{r[3]}, D.{r[4]}", "output": r[5]}
                     for r in rows]
            random.Random(42).shuffle(items)
            subjects.append(items)
    shortest = min(map(len, subjects))
    return [s[i] for i in range(shortest) for s in subjects] + [x for s in subjects for x in s[shortest:]]


def test_archive_folders_become_splits_with_subjects_interleaved(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare(url, tmp_path / "data")
    assert [len(splits[s]["samples"]) for s in ("train", "dev", "test")] == [6, 6, 9]
    for split, folder in (("train", "dev"), ("dev", "val"), ("test", "test")):
        assert splits[split]["samples"] == expected_split(root, folder)
    assert [s["input"].split(" item")[0] for s in splits["dev"]["samples"]] == [
        "Question: astronomy val", "Question: music val", "Question: zoology val",
        "Question: music val", "Question: zoology val", "Question: zoology val"]
    quoted = [s for s in splits["test"]["samples"] if "comma" in s["input"]]
    assert quoted == [{"input": "Question: music test item 0: which number, with a comma, is 5?\n"
                                "Choices: A.5, B.25, C.35, D.45",
                       "output": "A"}]
    assert splits["test"]["output_length"] == 5 and splits["test"]["metrics"] == ["exact_match"]


def test_a_file_that_is_not_an_archive_is_an_error(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    (root / ARCHIVE).write_bytes(b"not a tar archive")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    del manifest["checksums"][f"https://{ARCHIVE}"]
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
    proc = jeval("data", "prepare", "mmlu_en", "--mirror", url, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "data.tar is not a usable copy of" in line and "it is not readable as tar" in line
    assert not (tmp_path / "data" / "raw" / ARCHIVE).exists()
