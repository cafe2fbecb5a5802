"""JEMHopQA through `jeval data prepare`: llm-jp-eval v1.4.1's layout and seed-42 90/10 split."""

from __future__ import annotations

import hashlib
import json
import random

from conftest import error_lines, jeval

BASE = "raw.githubusercontent.com/aiishii/JEMHopQA/fed5024f4f39f02727e699cb7ccb67935a779a5a/corpus"


def prepare(url, data_dir):
    proc = jeval("data", "prepare", "jemhopqa", "--prompts", "llm-jp-eval", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return {s: json.loads((data_dir / "jemhopqa" / f"{s}.json").read_text(encoding="utf-8"))
            for s in ("train", "dev", "test")}


def replace_on_mirror(root, path, text):
    (root / path).write_text(text, encoding="utf-8")
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{path}"] = hashlib.sha256(text.encode()).hexdigest()
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))


def test_train_file_is_shuffled_with_seed_42_into_train_and_dev_and_dev_file_is_test(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    splits = prepare(url, tmp_path / "data")
    train_file = json.loads((root / BASE / "train.json").read_text(encoding="utf-8"))
    dev_file = json.loads((root / BASE / "dev.json").read_text(encoding="utf-8"))
    order = list(range(len(train_file)))
    random.Random(42).shuffle(order)
    expected = [{"input": f"質問：{train_file[i]['question']}", "output": train_file[i]["answer"]} for i in order]
    assert [len(splits[s]["samples"]) for s in ("train", "dev", "test")] == [10, 2, 3]
    assert splits["train"]["samples"] + splits["dev"]["samples"] == expected
    assert splits["train"]["samples"][0] == {"input": "質問：港町と森下町、人口が多いのはどちらでしょう？",
                                             "output": "港町"}
    assert splits["test"]["samples"] == [{"input": f"質問：{r['question']}", "output": r["answer"]} for r in dev_file]
    assert splits["test"]["samples"][2] == {"input": "質問：港町と桜町はどちらも海に面していますか？", "output": "NO"}


def test_instruction_length_and_metrics_come_from_the_llm_jp_eval_processor(jaster_mirror, tmp_path):
    _, url = jaster_mirror
    test = prepare(url, tmp_path / "data")["test"]
    assert test["output_length"] == 15 and test["metrics"] == ["char_f1"]
    assert test["instruction"].startswith("質問に短く答えてください。")
    manifest = json.loads((tmp_path / "data" / "jemhopqa" / "manifest.json").read_text())
    pins = {s["url"].rsplit("/", 1)[1]: s["pinned_sha256"] for s in manifest["sources"]}
    assert pins["train.json"] == "c64392b4087299bcfaa02fe2584128b5dc50fe5ea83e1bd600cadfc984669e65"
    assert pins["dev.json"] == "2f3b8a518ca3051fc002f343ba3c26f6f3be902464061b43c30c5a1d37a9269a"


def test_a_question_without_answer_is_an_error_naming_file_and_record(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    data_dir = tmp_path / "data"
    before = prepare(url, data_dir)["test"]
    records = json.loads((root / BASE / "dev.json").read_text(encoding="utf-8"))
    del records[1]["answer"]
    replace_on_mirror(root, f"{BASE}/dev.json", json.dumps(records, ensure_ascii=False))
    proc = jeval("data", "prepare", "jemhopqa", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "dev.json" in line and "record 2" in line and "jeval-dev-01" in line and "'answer'" in line
    assert json.loads((data_dir / "jemhopqa" / "test.json").read_text(encoding="utf-8")) == before
