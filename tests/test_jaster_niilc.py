"""NIILC through `jeval data prepare`: answers joined with commas, unanswerable questions dropped,
the dev file split 90/10 with seed 42, the test file as test."""

from __future__ import annotations

import hashlib
import json
import random

from conftest import error_lines, jeval

BASE = "raw.githubusercontent.com/mynlp/niilc-qa/b6d47968b2e301a5e953fb1922a08ed56099646b/data"
DEV_ANSWERED = [
    ("虹の色は日本ではいくつと言われる？", "7色"),
    ("一週間は何日？", "7日"),
    ("水が凍る温度は摂氏何度？", "0度"),
    ("日本の三大祭りとは？", "祇園祭,天神祭,神田祭"),
    ("信号機の色は？", "赤,黄,青"),
    ("一年は何か月？", "12か月"),
    ("三角形の角の数は？", "3"),
    ("四季とは？", "春,夏,秋,冬"),
    ("地球の衛星の名前は？", "月"),
    ("1ダースはいくつ？", "12"),
    ("将棋の盤は何マス四方？", "9マス"),
]


def prepare(url, data_dir):
    proc = jeval("data", "prepare", "niilc", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return {s: json.loads((data_dir / "niilc" / f"{s}.json").read_text(encoding="utf-8"))
            for s in ("train", "dev", "test")}


def replace_on_mirror(root, path, text):
    (root / path).write_text(text, encoding="utf-8")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{path}"] = hashlib.sha256(text.encode()).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))


def test_answers_are_joined_and_trimmed_unanswerable_dropped_and_dev_split_with_seed_42(jaster_mirror, tmp_path):
    _, url = jaster_mirror
    splits = prepare(url, tmp_path / "data")
    expected = [{"input": f"質問：{q}", "output": a} for q, a in DEV_ANSWERED]
    random.Random(42).shuffle(expected)
    assert [len(splits[s]["samples"]) for s in ("train", "dev", "test")] == [9, 2, 2]
    assert splits["train"]["samples"] + splits["dev"]["samples"] == expected
    assert splits["train"]["samples"][0] == {"input": "質問：四季とは？", "output": "春,夏,秋,冬"}
    assert splits["test"]["samples"] == [
        {"input": "質問：信号の「止まれ」は何色？", "output": "赤"},
        {"input": "質問：五大栄養素に含まれるものは？", "output": "炭水化物,脂質"},
    ]
    assert splits["test"]["output_length"] == 180 and splits["test"]["metrics"] == ["char_f1"]


def test_malformed_xml_is_an_error_with_its_line_and_nothing_is_replaced(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    data_dir = tmp_path / "data"
    before = prepare(url, data_dir)["train"]
    text = (root / BASE / "NIILC-ECQA2015_test.xml").read_text(encoding="utf-8")
    replace_on_mirror(root, f"{BASE}/NIILC-ECQA2015_test.xml", text.replace("</text>", "</txt>", 2))
    proc = jeval("data", "prepare", "niilc", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "NIILC-ECQA2015_test.xml:4:" in line and "not well-formed XML" in line
    assert json.loads((data_dir / "niilc" / "train.json").read_text(encoding="utf-8")) == before


def test_a_question_without_answers_names_the_question(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    text = (root / BASE / "NIILC-ECQA2015_test.xml").read_text(encoding="utf-8")
    broken = text.replace("    <answer>赤</answer>\n", "", 1)
    replace_on_mirror(root, f"{BASE}/NIILC-ECQA2015_test.xml", broken)
    proc = jeval("data", "prepare", "niilc", "--mirror", url, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    assert "question 1 (JEVAL-TEST-00001) has no <answers><answer> element" in proc.stderr
