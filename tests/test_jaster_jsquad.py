"""JSQuAD through `jeval data prepare`: context and question in llm-jp-eval v1.4.1's layout, the
first answer as output, JGLUE train split 90/10 with seed 42, JGLUE valid as test."""

from __future__ import annotations

import hashlib
import json
import random

from conftest import error_lines, jeval

BASE = "raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jsquad-v1.1"


def prepare(url, data_dir):
    proc = jeval("data", "prepare", "jsquad", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return {s: json.loads((data_dir / "jsquad" / f"{s}.json").read_text(encoding="utf-8"))
            for s in ("train", "dev", "test")}


def flatten(squad):
    return [{"input": f"文章：{p['context']}\n質問：{qa['question']}", "output": qa["answers"][0]["text"]}
            for article in squad["data"] for p in article["paragraphs"] for qa in p["qas"]]


def test_questions_in_document_order_split_with_seed_42(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare(url, tmp_path / "data")
    expected = flatten(json.loads((root / BASE / "train-v1.1.json").read_text(encoding="utf-8")))
    random.Random(42).shuffle(expected)
    assert [len(splits[s]["samples"]) for s in ("train", "dev", "test")] == [9, 2, 3]
    assert splits["train"]["samples"] + splits["dev"]["samples"] == expected
    valid = json.loads((root / BASE / "valid-v1.1.json").read_text(encoding="utf-8"))
    assert splits["test"]["samples"] == flatten(valid)
    assert splits["test"]["samples"][0] == {
        "input": "文章：架空の駅 [SEP] 架空の駅は一九九〇年に開業し、一日におよそ千人が利用する。\n"
                 "質問：駅が開業したのは何年か。",
        "output": "一九九〇年",
    }
    assert splits["test"]["output_length"] == 25 and splits["test"]["metrics"] == ["char_f1"]


def test_a_question_without_answers_is_an_error_naming_it(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    data_dir = tmp_path / "data"
    before = prepare(url, data_dir)["test"]
    squad = json.loads((root / BASE / "valid-v1.1.json").read_text(encoding="utf-8"))
    squad["data"][0]["paragraphs"][1]["qas"][0]["answers"] = []
    text = json.dumps(squad, ensure_ascii=False)
    (root / BASE / "valid-v1.1.json").write_text(text, encoding="utf-8")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{BASE}/valid-v1.1.json"] = hashlib.sha256(text.encode()).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
    proc = jeval("data", "prepare", "jsquad", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "valid-v1.1.json: article 1 paragraph 2 question 1 (架空の駅-1-0) has no answer text" in line
    assert json.loads((data_dir / "jsquad" / "test.json").read_text(encoding="utf-8")) == before
