"""JSICK as llm-jp-eval v1.4.1 prepares it: the Japanese columns (9-11) of train.tsv shuffled with
seed 42 into 90 % train and 10 % dev, test.tsv as test in file order."""

from __future__ import annotations

from jaster_pair_support import GITHUB, pairs, prepare, prepare_fails, replace_on_mirror, tsv_rows

BASE = f"{GITHUB}/verypluming/JSICK/b3034994192fae2f41b5937bcf69544e4282fc39/jsick"
TRAIN, TEST = f"{BASE}/train.tsv", f"{BASE}/test.tsv"
SEED42_OF_10 = [7, 3, 2, 8, 5, 6, 9, 4, 0, 1]


def test_japanese_columns_in_llm_jp_eval_splits(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare("jsick", url, tmp_path / "data")
    train_rows = [(f"前提：{r[8]}\n仮説：{r[9]}", r[10]) for r in tsv_rows(root / TRAIN)]
    assert pairs(splits["train"]) == [train_rows[i] for i in SEED42_OF_10[:9]]
    assert pairs(splits["dev"]) == [train_rows[SEED42_OF_10[9]]]
    assert splits["test"]["samples"] == [
        {"input": "前提：拓海が工場にいる\n仮説：工場には誰もいない", "output": "contradiction"},
        {"input": "前提：彩が農園にいる\n仮説：農園には誰もいない", "output": "contradiction"},
        {"input": "前提：蓮が空港にいる\n仮説：空港には誰もいない", "output": "contradiction"},
    ]
    assert splits["train"]["samples"][0] == {
        "input": "前提：陽菜が病院の前で笑っている\n仮説：陽菜が病院の中で泣いている", "output": "contradiction"}
    for split in splits.values():
        assert split["output_length"] == 3 and split["metrics"] == ["exact_match"]


def test_english_only_file_is_refused_by_its_header(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    english = "pair_ID\tsentence_A\tsentence_B\tentailment_label\n1\tA dog runs.\tAn animal runs.\tENTAILMENT\n"
    replace_on_mirror(root, TEST, english)
    line = prepare_fails("jsick", url, tmp_path / "data")
    assert "test.tsv:1: the header does not name column 9 'sentence_A_Ja'" in line
