"""JNLI as llm-jp-eval v1.4.1 prepares it: JGLUE's v1.1 train file shuffled with seed 42 into 90 %
train and 10 % dev, the valid file as test in file order."""

from __future__ import annotations

import json

from conftest import jeval
from jaster_pair_support import GITHUB, pairs, prepare, prepare_fails, replace_on_mirror

BASE = f"{GITHUB}/yahoojapan/JGLUE/c35b43c73056f6898837de0dcc5ba11cc7dc3ecc/datasets/jnli-v1.1"
TRAIN, VALID = f"{BASE}/train-v1.1.json", f"{BASE}/valid-v1.1.json"
SEED42_OF_10 = [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]


def records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prepared_splits_follow_llm_jp_eval(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare("jnli", url, tmp_path / "data")
    train = [(f"前提：{r['sentence1']}\n仮説：{r['sentence2']}", r["label"]) for r in records(root / TRAIN)]
    assert pairs(splits["train"]) == [train[i] for i in SEED42_OF_10[:9]]
    assert pairs(splits["dev"]) == [train[SEED42_OF_10[9]]]
    assert splits["test"]["samples"][0] == {
        "input": "前提：拓海が工場の前で自転車に乗っています。\n仮説：拓海が工場で眠っています。",
        "output": "contradiction"}
    assert [s["output"] for s in splits["test"]["samples"]] == ["contradiction", "neutral", "entailment"]
    manifest = json.loads((tmp_path / "data" / "jnli" / "manifest.json").read_text())
    pins = {s["url"]: s["pinned_sha256"] for s in manifest["sources"]}
    assert pins[f"https://{TRAIN}"] is None and len(pins[f"https://{VALID}"]) == 64


def test_sources_list_says_the_train_file_is_unpinned():
    proc = jeval("data", "sources", "jnli")
    assert proc.returncode == 0, proc.stderr
    [train] = [line for line in proc.stdout.splitlines() if "train-v1.1.json" in line]
    assert "unpinned" in train and "CC BY-SA 4.0" in train


def test_malformed_line_and_missing_field_name_the_line(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    lines = (root / VALID).read_text(encoding="utf-8").splitlines(keepends=True)
    replace_on_mirror(root, VALID, lines[0] + lines[1].replace('"label": ', '"label" ') + lines[2])
    assert "valid-v1.1.json:2: not valid JSON" in prepare_fails("jnli", url, tmp_path / "a")
    record = json.loads(lines[2])
    del record["sentence2"]
    replace_on_mirror(root, VALID, lines[0] + lines[1] + json.dumps(record, ensure_ascii=False) + "\n")
    assert "valid-v1.1.json:3: the record lacks sentence2" in prepare_fails("jnli", url, tmp_path / "b")
