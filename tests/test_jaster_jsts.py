"""JSTS as llm-jp-eval v1.4.1 prepares it: JGLUE's v1.1 train file shuffled with seed 42 into 90 %
train and 10 % dev, the valid file as test in file order; input `文1：…\\n文2：…`, output the
similarity as Python writes the JSON number."""

from __future__ import annotations

import json

from jaster_pair_support import GITHUB, prepare, prepare_fails, replace_on_mirror

BASE = f"{GITHUB}/yahoojapan/JGLUE/c35b43c73056f6898837de0dcc5ba11cc7dc3ecc/datasets/jsts-v1.1"
TRAIN, VALID = f"{BASE}/train-v1.1.json", f"{BASE}/valid-v1.1.json"


def test_prepared_splits_follow_llm_jp_eval(jaster_mirror, tmp_path):
    _, url = jaster_mirror
    splits = prepare("jsts", url, tmp_path / "data")
    outputs = {name: [s["output"] for s in split["samples"]] for name, split in splits.items()}
    assert outputs == {
        "train": ["3.0", "5.0", "4.2", "4.6", "2.4", "0.2", "1.0", "1.6", "0.0"],
        "dev": ["3.8"],
        "test": ["2.8", "0.0", "4.4"],
    }
    assert (splits["train"]["samples"][0]["input"]
            == "文1：病院の前に陽菜が立っています。\n文2：陽菜が病院の近くにいます。")
    assert splits["test"]["samples"][1]["input"] == "文1：農園の前に彩が立っています。\n文2：彩が農園の近くにいます。"
    for split in splits.values():
        assert split["output_length"] == 3 and split["metrics"] == ["pearson", "spearman"]


def test_integer_similarity_is_written_as_python_writes_it(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    lines = (root / VALID).read_text(encoding="utf-8").splitlines(keepends=True)
    replace_on_mirror(root, VALID, lines[0].replace('"label": 2.8', '"label": 3') + "".join(lines[1:]))
    splits = prepare("jsts", url, tmp_path / "data")
    assert splits["test"]["samples"][0]["output"] == "3"


def test_label_that_is_not_a_similarity_names_the_line(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    lines = (root / TRAIN).read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[3])
    for bad in ("high", 7.5):
        record["label"] = bad
        lines[3] = json.dumps(record, ensure_ascii=False) + "\n"
        replace_on_mirror(root, TRAIN, "".join(lines))
        line = prepare_fails("jsts", url, tmp_path / f"data-{bad}")
        assert f"train-v1.1.json:4: label must be a similarity from 0 to 5.0, got {bad!r}" in line
