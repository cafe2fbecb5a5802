"""`jeval data prepare`: pinned downloads through a mirror, checksums, atomic results."""

from __future__ import annotations

import json

from conftest import error_lines, jeval

TRAIN_PATH = "raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jcommonsenseqa-v1.1/train-v1.1.json"
VALID_PATH = "raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jcommonsenseqa-v1.1/valid-v1.1.json"


def lines(path):
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_prepare_from_http_mirror_follows_llm_jp_eval_splits(prepared, sample_mirror):
    root, _ = sample_mirror
    task_dir = prepared / "jcommonsenseqa"
    train = json.loads((task_dir / "train.json").read_text())
    dev = json.loads((task_dir / "dev.json").read_text())
    test = json.loads((task_dir / "test.json").read_text())
    n_train_file = len(lines(root / TRAIN_PATH))
    assert len(train["samples"]) == int(n_train_file * 0.9)
    assert len(train["samples"]) + len(dev["samples"]) == n_train_file
    assert len(test["samples"]) == len(lines(root / VALID_PATH))
    first = lines(root / VALID_PATH)[0]
    assert test["samples"][0] == {
        "input": f"質問：{first['question']}\n選択肢：" + ",".join(f"{i}.{first[f'choice{i}']}" for i in range(5)),
        "output": str(first["label"]),
    }
    assert test["output_length"] == 1 and test["metrics"] == ["exact_match"]
    manifest = json.loads((task_dir / "manifest.json").read_text())
    assert manifest["checksums_from_mirror"] is True
    assert len(manifest["data_fingerprint"]) == 64
    assert (prepared / "raw" / TRAIN_PATH).read_bytes() == (root / TRAIN_PATH).read_bytes()


def test_wrong_checksum_is_an_error_and_leaves_no_partial_file(sample_mirror, tmp_path):
    root, url = sample_mirror
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"] = dict.fromkeys(manifest["checksums"], "0" * 64)
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
    data_dir = tmp_path / "data"
    proc = jeval("data", "prepare", "jcommonsenseqa", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "checksum mismatch" in line and "0" * 64 in line
    leftovers = [p for p in data_dir.rglob("*") if p.is_file()]
    assert leftovers == []
    assert not (data_dir / "jcommonsenseqa").exists()


def test_upstream_pins_are_checked_against_a_mirror_without_a_manifest(sample_mirror, tmp_path):
    root, url = sample_mirror
    (root / "jeval-mirror.json").unlink()
    proc = jeval("data", "prepare", "jcommonsenseqa", "--mirror", url, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    assert "checksum mismatch" in proc.stderr and "9b55fae5" in proc.stderr


def test_missing_file_on_mirror(sample_mirror, tmp_path):
    root, url = sample_mirror
    (root / VALID_PATH).unlink()
    proc = jeval("data", "prepare", "jcommonsenseqa", "--mirror", url, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    assert "HTTP 404" in proc.stderr


def test_malformed_upstream_file_keeps_the_previous_preparation(prepared, sample_mirror):
    root, url = sample_mirror
    before = (prepared / "jcommonsenseqa" / "test.json").read_bytes()
    broken = (root / VALID_PATH).read_text(encoding="utf-8").replace('"label": ', '"label" ', 1)
    (root / VALID_PATH).write_text(broken, encoding="utf-8")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    import hashlib

    manifest["checksums"][f"https://{VALID_PATH}"] = hashlib.sha256(broken.encode()).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
    proc = jeval("data", "prepare", "jcommonsenseqa", "--mirror", url, "--data-dir", prepared)
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "valid-v1.1.json:1: not valid JSON" in line
    assert (prepared / "jcommonsenseqa" / "test.json").read_bytes() == before
    assert not [p for p in prepared.iterdir() if p.name.startswith(".jcommonsenseqa")]


def test_unreachable_mirror(tmp_path):
    proc = jeval("data", "prepare", "jcommonsenseqa", "--mirror", "http://127.0.0.1:9", "--data-dir", tmp_path)
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "unreachable" in line
