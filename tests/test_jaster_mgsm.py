"""MGSM through `jeval data prepare`: the Japanese exemplars are train, the TSV is test, no dev,
answers as integers without thousands separators."""

from __future__ import annotations

import hashlib
import json

from conftest import error_lines, jeval

BASE = "raw.githubusercontent.com/google-research/url-nlp/452a21ad3dae5668c06ceeac21ff073e1e40f9be/mgsm"


def prepare(url, data_dir):
    proc = jeval("data", "prepare", "mgsm", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return {s: json.loads((data_dir / "mgsm" / f"{s}.json").read_text(encoding="utf-8"))
            for s in ("train", "dev", "test")}


def test_exemplars_are_train_in_their_order_and_the_tsv_is_test(jaster_mirror, tmp_path):
    _, url = jaster_mirror
    splits = prepare(url, tmp_path / "data")
    assert [len(splits[s]["samples"]) for s in ("train", "dev", "test")] == [5, 0, 4]
    assert splits["train"]["samples"][:2] == [
        {"input": "質問：問題：箱に2個の玉があり、3個加えました。玉は何個ですか？", "output": "5"},
        {"input": "質問：問題：箱に10個の玉があり、5個加えました。玉は何個ですか？", "output": "15"},
    ]
    assert splits["test"]["samples"] == [
        {"input": "質問：りんごが3個、みかんが4個あります。果物は全部で何個ですか？", "output": "7"},
        {"input": "質問：1本120円の鉛筆を10本と、1冊1,130円の辞書を1冊買いました。合計でいくらですか？",
         "output": "2330"},
        {"input": "質問：\"特売\"のパンは1個80円です。5個でいくらですか？", "output": "400"},
        {"input": "質問：毎日15ページずつ本を読みます。6日で何ページ読めますか？", "output": "90"},
    ]
    assert splits["test"]["output_length"] == 10 and splits["test"]["metrics"] == ["exact_match"]


def test_a_non_integer_answer_is_an_error_with_its_line(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    text = (root / BASE / "mgsm_ja.tsv").read_text(encoding="utf-8").replace("\t400\n", "\t四百\n")
    (root / BASE / "mgsm_ja.tsv").write_text(text, encoding="utf-8")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{BASE}/mgsm_ja.tsv"] = hashlib.sha256(text.encode()).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
    proc = jeval("data", "prepare", "mgsm", "--mirror", url, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "mgsm_ja.tsv:3: the answer '四百' is not an integer" in line
    assert not (tmp_path / "data" / "mgsm").exists()


def test_exemplars_file_is_read_as_literals_never_run(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    marker = tmp_path / "ran"
    text = f"open({str(marker)!r}, 'w').write('x')\n" + (root / BASE / "exemplars.py").read_text(encoding="utf-8")
    (root / BASE / "exemplars.py").write_text(text, encoding="utf-8")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{BASE}/exemplars.py"] = hashlib.sha256(text.encode()).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
    assert len(prepare(url, tmp_path / "data")["train"]["samples"]) == 5
    assert not marker.exists()
