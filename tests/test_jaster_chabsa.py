"""chABSA as jeval builds it for llm-jp-eval v1.4.1: the sentences with opinions of every document,
in file-name order, shuffled with seed 42 and cut 80/10/10; the release zip, gone upstream, comes
from a mirror the user supplies."""

from __future__ import annotations

import io
import zipfile

from conftest import jeval
from jaster_converters_support import SEED42_OF_10, pairs, prepare, prepare_fails, replace_on_mirror

ZIP = "s3-ap-northeast-1.amazonaws.com/dev.tech-sketch.jp/chakki/public/chABSA-dataset.zip"
IN_FILE_NAME_ORDER = [
    ("文章：原材料価格は高止まりしました。", "原材料価格 negative"),
    ("文章：海外市場の需要は横ばいでした。", "海外市場 neutral"),
    ("文章：建設部門の受注は増加しました。", "建設部門 positive"),
    ("文章：経常利益は前年並みとなりました。", "経常利益 neutral"),
    ("文章：当期の国内景気は緩やかに回復しました。", "国内景気 positive"),
    ("文章：主力製品の販売は伸び悩み、部品事業は好調でした。", "主力製品 negative\n部品事業 positive"),
    ("文章：飲料事業の売上高は減少しました。", "飲料事業 negative"),
    ("文章：冷凍食品の販売は堅調に推移しました。", "冷凍食品 positive"),
    ("文章：物流費は上昇しました。", "物流費 negative"),
    ("文章：新工場は計画どおり稼働しました。", "新工場 neutral"),
]


def test_opinion_sentences_shuffled_and_cut_80_10_10(jaster_mirror, tmp_path):
    _, url = jaster_mirror
    splits = prepare("chabsa", url, tmp_path / "data")
    shuffled = [IN_FILE_NAME_ORDER[i] for i in SEED42_OF_10]
    assert pairs(splits["train"]) == shuffled[:8]
    assert pairs(splits["dev"]) == shuffled[8:9]
    assert pairs(splits["test"]) == shuffled[9:]
    for split in splits.values():
        assert split["output_length"] == 191 and split["metrics"] == ["set_f1"]


def test_missing_zip_says_upstream_is_gone_and_how_to_supply_it(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    (root / ZIP).unlink()
    line = prepare_fails("chabsa", url, tmp_path / "data")
    assert "HTTP 404" in line and "no longer served upstream" in line
    assert f"MIRROR/{ZIP}" in line and "--mirror MIRROR" in line


def test_a_mirror_folder_holding_the_users_zip_is_enough(jaster_mirror, tmp_path):
    root, _ = jaster_mirror
    mirror = tmp_path / "mine"
    for rel in (ZIP, "raw.githubusercontent.com/llm-jp/llm-jp-eval/v1.4.1/src/llm_jp_eval/jaster/chabsa.py",
                "raw.githubusercontent.com/llm-jp/llm-jp-eval/v1.4.1/src/llm_jp_eval/utils.py"):
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes((root / rel).read_bytes())
    proc = jeval("data", "prepare", "chabsa", "--mirror", mirror, "--data-dir", tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "data" / "chabsa" / "test.json").exists()


def test_opinion_without_polarity_names_document_and_sentence(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("chABSA-dataset/e09999.json",
                   '{"header": {}, "sentences": [{"sentence_id": 0, "sentence": "売上は増えた。", '
                   '"opinions": [{"target": "売上"}]}]}')
    replace_on_mirror(root, ZIP, buf.getvalue())
    line = prepare_fails("chabsa", url, tmp_path / "data")
    assert ("chABSA-dataset.zip:chABSA-dataset/e09999.json: sentence 0, opinion 0 needs string 'target' and 'polarity'"
            in line)
