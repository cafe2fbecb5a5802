"""AIO as jeval builds it for llm-jp-eval v1.4.1: the competition's dev file shuffled with seed 42
into 90 % train and 10 % dev, its test file as test in file order."""

from __future__ import annotations

import json

from jaster_converters_support import SEED42_OF_10, pairs, prepare, prepare_fails, replace_on_mirror

BASE = "jaqket.s3.ap-northeast-1.amazonaws.com/data/aio_02"


def test_questions_and_first_answers_in_llm_jp_eval_splits(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare("aio", url, tmp_path / "data")
    dev_file = [json.loads(x) for x in (root / BASE / "aio_01_dev.jsonl").read_text(encoding="utf-8").splitlines()]
    expected = [(f"質問：{r['question']}", r["answers"][0]) for r in dev_file]
    assert pairs(splits["train"]) == [expected[i] for i in SEED42_OF_10[:9]]
    assert pairs(splits["dev"]) == [expected[SEED42_OF_10[9]]]
    assert splits["dev"]["samples"] == [{"input": "質問：一年で昼の時間が最も長い日を何というでしょう？",
                                         "output": "夏至"}]
    assert splits["test"]["samples"] == [
        {"input": "質問：日本の首都はどこでしょう？", "output": "東京"},
        {"input": "質問：一週間は何日でしょう？", "output": "7日"},
        {"input": "質問：漢字で「林」の字にある「木」はいくつでしょう？", "output": "2つ"},
    ]
    assert splits["train"]["samples"][1] == {"input": "質問：将棋で王将と対になる駒は何でしょう？", "output": "玉将"}
    for split in splits.values():
        assert split["output_length"] == 50 and split["metrics"] == ["char_f1"]


def test_question_without_answers_names_file_and_record(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    broken = ('{"qid": "x1", "question": "答えのない問題？", "answers": ["ある"]}\n'
              '{"qid": "x2", "question": "空？", "answers": []}\n')
    replace_on_mirror(root, f"{BASE}/aio_01_test.jsonl", broken.encode())
    line = prepare_fails("aio", url, tmp_path / "data")
    assert "aio_01_test.jsonl: record 2: 'answers' must be a non-empty list of strings" in line
