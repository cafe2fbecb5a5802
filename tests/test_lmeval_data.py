"""`jeval data prepare` for the japanese_leaderboard tasks, and the lm-eval configs jeval renders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import error_lines, jeval
from lmeval_support import ALL_TASKS, make_mirror

from jeval.errors import JevalError
from jeval.io import read_jsonl
from jeval.tasks.japanese_leaderboard import convert
from jeval.tasks.japanese_leaderboard.render import lm_eval_tasks_root, render_all, render_folder, upstream_config


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jl")
    mirror = make_mirror(root / "mirror")
    proc = jeval("data", "prepare", *ALL_TASKS, "--mirror", mirror, "--data-dir", root / "data")
    assert proc.returncode == 0, proc.stderr
    return root / "data"


def rows(data: Path, task: str, split: str) -> list[dict]:
    return read_jsonl(data / task / f"{split}.jsonl")


def test_prepared_splits_have_the_hugging_face_shapes_lm_eval_reads(prepared):
    assert [len(rows(prepared, "jl_jcommonsenseqa", s)) for s in ("train", "validation")] == [5, 3]
    assert rows(prepared, "jl_jcommonsenseqa", "train")[0]["choice4"] == "雲"
    assert ([r["label"] for r in rows(prepared, "jl_jnli", "validation")]
            == [1, 2, 0])  # contradiction, neutral, entailment
    assert [r["label"] for r in rows(prepared, "jl_marc_ja", "validation")] == [0, 1]  # positive, negative
    squad = rows(prepared, "jl_jsquad", "validation")
    assert len(squad) == 2 and squad[0]["context"].startswith("東京タワー [SEP] ")
    assert squad[0]["answers"] == {"text": ["1958年"], "answer_start": [6]}
    jaqket = rows(prepared, "jl_jaqket_v2", "train")
    assert [r["qid"] for r in jaqket] == ["QA1", "QA3"]  # QA2 has no passage holding its answer
    assert jaqket[0]["ctxs"]["text"][0] == "富士山は日本で最も高い山である。"
    assert [len(rows(prepared, "jl_xlsum", s)) for s in ("train", "validation", "test")] == [2, 1, 3]
    assert "\n" in rows(prepared, "jl_xlsum", "train")[0]["text"]
    test = rows(prepared, "jl_mgsm", "test")
    assert [r["answer_number"] for r in test] == [5, 6, 2400] and test[0]["answer"] is None
    train = rows(prepared, "jl_mgsm", "train")
    assert len(train) == 8 and train[0]["question"].startswith("問題：") and train[0]["answer_number"] == 3
    wino = rows(prepared, "jl_xwinograd", "test")
    assert wino[0]["sentence1"] == "トロフィーは鞄に入らなかった。トロフィーが大きすぎたからだ。"
    assert wino[0]["sentence2"] == "トロフィーは鞄に入らなかった。鞄が大きすぎたからだ。" and wino[1]["answer"] == "2"


def test_marc_ja_without_a_user_supplied_file_says_how_to_supply_it(tmp_path):
    mirror = make_mirror(tmp_path / "mirror", skip=("marc_ja",))
    proc = jeval("data", "prepare", "jl_marc_ja", "--mirror", mirror, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "MARC-ja is no longer distributed" in line and "preprocess/marc-ja" in line and "--mirror DIR" in line
    assert not (tmp_path / "data" / "jl_marc_ja").exists()


@pytest.mark.parametrize(("reader", "content", "message"), [
    (convert.jnli, '{"sentence_pair_id": "0", "yjcaptions_id": "x", "sentence1": "a", "sentence2": "b", '
                   '"label": "maybe"}\n',
     "label must be one of entailment, contradiction, neutral"),
    (convert.mgsm_test, "question without an answer\n", ":1: expected question<TAB>answer"),
    (convert.xwinograd, '{"sentence": "no blank", "option1": "a", "option2": "b", "answer": "1"}\n', "exactly one `_`"),
    (convert.xlsum, "id,title\n1,x\n", "lacks summary, text"),
])
def test_malformed_upstream_files_are_named_with_the_problem(tmp_path, reader, content, message):
    path = tmp_path / "file"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(JevalError, match=message):
        reader(path)


def test_rendered_configs_keep_lm_eval_prompts_shots_and_metrics_and_read_local_files(tmp_path):
    rendered = render_all(tmp_path)
    pairs = {"jl_jcommonsenseqa": "japanese_leaderboard/ja_leaderboard_jcommonsenseqa.yaml",
             "jl_jnli": "japanese_leaderboard/ja_leaderboard_jnli.yaml",
             "jl_marc_ja": "japanese_leaderboard/ja_leaderboard_marc_ja.yaml",
             "jl_jsquad": "japanese_leaderboard/ja_leaderboard_jsquad.yaml",
             "jl_jaqket_v2": "japanese_leaderboard/ja_leaderboard_jaqket_v2.yaml",
             "jl_xlsum": "japanese_leaderboard/ja_leaderboard_xlsum.yaml",
             "jl_mgsm": "japanese_leaderboard/ja_leaderboard_mgsm.yaml",
             "jl_xwinograd": "japanese_leaderboard/ja_leaderboard_xwinograd.yaml",
             "jl_mgsm_native_cot": "mgsm/native_cot/mgsm_native_cot_ja.yaml"}
    for name, upstream in pairs.items():
        mine, theirs = rendered[name].config, upstream_config(upstream)
        for key in ("description", "doc_to_text", "doc_to_target", "doc_to_choice", "target_delimiter", "num_fewshot",
                    "output_type", "metric_list", "filter_list", "generation_kwargs", "process_docs",
                    "process_results"):
            assert mine.get(key) == theirs.get(key), (name, key)
        assert mine["dataset_path"] == "json" and mine["dataset_name"] is None
        assert all(Path(f).is_absolute() and str(f).startswith(str(tmp_path))
                   for f in mine["dataset_kwargs"]["data_files"].values())
    shots = {n: rendered[n].config.get("num_fewshot") or 0 for n in
             ("jl_jcommonsenseqa", "jl_jnli", "jl_marc_ja", "jl_jsquad", "jl_jaqket_v2", "jl_xlsum", "jl_mgsm",
              "jl_xwinograd")}
    assert list(shots.values()) == [3, 3, 3, 2, 1, 1, 5, 0]
    assert ([f["name"] for f in rendered["jl_mgsm_native_cot"].config["filter_list"]]
            == ["strict-match", "flexible-extract"])


def test_tasks_path_prints_a_folder_of_complete_lm_eval_configs(tmp_path):
    proc = jeval("tasks", "path", "--data-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = Path(proc.stdout.strip())
    assert folder == tmp_path / "lm-eval-tasks"
    names = sorted(p.stem for p in folder.glob("*.yaml"))
    assert names == sorted([*ALL_TASKS, "jglue", "ja_leaderboard"])
    text = (folder / "jl_xlsum.yaml").read_text(encoding="utf-8")
    assert "!function 'lm_eval.tasks.japanese_leaderboard.ja_leaderboard_xlsum.rouge2_agg'" in text
    assert "include" not in yaml.safe_load((folder / "jglue.yaml").read_text())
    assert render_folder(tmp_path) == folder and lm_eval_tasks_root().is_dir()
