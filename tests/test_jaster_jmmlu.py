"""JMMLU through `jeval data prepare`: subjects in the order of the processor's FILENAMES, each
shuffled and halved towards dev/test by one seed-42 generator, pools shuffled, 32 train items."""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import random

from conftest import error_lines, jeval

BASE = "raw.githubusercontent.com/nlp-waseda/JMMLU/762cbf192c9e4588b574d718f95afd64c96fcbf4/JMMLU"
PROCESSOR = "raw.githubusercontent.com/llm-jp/llm-jp-eval/v1.4.1/src/llm_jp_eval/jaster/jmmlu.py"


def prepare(url, data_dir):
    proc = jeval("data", "prepare", "jmmlu", "--prompts", "llm-jp-eval", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return {s: json.loads((data_dir / "jmmlu" / f"{s}.json").read_text(encoding="utf-8"))
            for s in ("train", "dev", "test")}


def replace_on_mirror(root, path, text):
    (root / path).write_text(text, encoding="utf-8")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{path}"] = hashlib.sha256(text.encode()).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))


def subject_order(root):
    tree = ast.parse((root / PROCESSOR).read_text(encoding="utf-8"))
    return next(ast.literal_eval(s.value) for s in tree.body
                if isinstance(s, ast.AnnAssign) and s.target.id == "FILENAMES")


def expected_splits(root, order):
    rng = random.Random(42)
    dev, test = [], []
    for subject in order:
        with (root / BASE / f"{subject}.csv").open(encoding="utf-8-sig", newline="") as f:
            rows = [{"input": f"質問：{r[0]}\n選択肢：A.{r[1]},B.{r[2]},C.{r[3]},D.{r[4]}", "output": r[5]}
                    for r in csv.reader(f)]
        rng.shuffle(rows)
        dev += rows[: len(rows) // 2]
        test += rows[len(rows) // 2:]
    rng.shuffle(dev)
    rng.shuffle(test)
    return {"train": dev[:32], "dev": dev[32:], "test": test}


def test_splits_follow_the_processor_subject_order_and_one_seed_42_generator(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare(url, tmp_path / "data")
    order = subject_order(root)
    assert order[0] == "world_religions" and len(order) == 53
    expected = expected_splits(root, order)
    assert [len(splits[s]["samples"]) for s in ("train", "dev", "test")] == [32, 21, 106]
    assert {s: splits[s]["samples"] for s in expected} == expected
    assert expected_splits(root, sorted(order)) != expected
    assert splits["train"]["samples"][0] == {
        "input": "質問：conceptual_physicsの練習1：13×2はいくつか。\n選択肢：A.26,B.28,C.29,D.30", "output": "A"}
    assert splits["test"]["output_length"] == 5 and splits["test"]["metrics"] == ["exact_match"]


def test_a_quote_inside_a_field_and_the_byte_order_mark_are_kept_out_of_the_text(jaster_mirror, tmp_path):
    _, url = jaster_mirror
    splits = prepare(url, tmp_path / "data")
    items = [s for split in splits.values() for s in split["samples"] if "abstract_algebraの練習1" in s["input"]]
    assert items == [{"input": "質問：abstract_algebraの練習1：\"引用\"を含む、1×2はいくつか。\n"
                               "選択肢：A.2,B.4,C.5,D.6",
                      "output": "A"}]


def test_a_row_with_a_missing_choice_names_file_and_row(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    text = (root / BASE / "anatomy.csv").read_text(encoding="utf-8")
    lines = text.split("\n")
    lines[1] = lines[1].rsplit(",", 2)[0] + "," + lines[1].rsplit(",", 1)[1]
    replace_on_mirror(root, f"{BASE}/anatomy.csv", "\n".join(lines))
    proc = jeval("data", "prepare", "jmmlu", "--prompts", "llm-jp-eval", "--mirror", url,
                 "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "anatomy.csv: row 2 has 5 fields" in line


def test_a_subject_jeval_has_no_file_for_is_named(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    text = (root / PROCESSOR).read_text(encoding="utf-8").replace('    "anatomy",\n',
                                                                  '    "anatomy",\n    "japanese_idiom",\n')
    replace_on_mirror(root, PROCESSOR, text)
    proc = jeval("data", "prepare", "jmmlu", "--prompts", "llm-jp-eval", "--mirror", url,
                 "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    assert "FILENAMES names subjects jeval has no pinned file for: japanese_idiom" in proc.stderr
