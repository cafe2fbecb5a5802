"""The `m_ifeval_ja` task and `jeval ifeval check`: M-IFEval's Japanese prompts are prepared from
upstream's input-data file, answered zero-shot over chat, checked strict and loose, and written in
upstream's file forms; any model's response file can be checked the same way.

The items are the project's own, in upstream's form, served by a local mirror; the model is a
loopback chat endpoint with canned answers (a test double: the tiny checkpoint cannot follow
instructions, and the checker, not the model, is under test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_support import canned_chat, jsonl, write_mirror_files
from conftest import error_lines, jeval

from jeval.tasks.m_ifeval.task import INPUT_DATA

ITEMS = [
    {"key": 1, "prompt": "猫について短く説明してください。「猫」という言葉を必ず使い、読点「、」は使わないでください。",
     "instruction_id_list": ["ja:keywords:existence", "ja:punctuation:no_comma"],
     "kwargs": [{"keywords": ["猫"]}, {}]},
    {"key": 2, "prompt": "富士山について説明し、最後を「以上です。」で終えてください。",
     "instruction_id_list": ["ja:startend:end_checker"], "kwargs": [{"end_phrase": "以上です。"}]},
    {"key": 3, "prompt": "春の詩に<<題名>>のように二重山括弧で題名をつけてください。",
     "instruction_id_list": ["ja:detectable_format:title"], "kwargs": [{}]},
]
ANSWERS = {
    1: "猫は小さな肉食の動物です。人と長く暮らしてきました。",  # both followed
    2: "富士山は日本で一番高い山です。\n以上です。\n**補足**",  # strict fails; loose (last line dropped) follows
    3: "春の風が吹く。花が咲く。",  # no title: fails both ways
}


def write_mirror(root: Path, items: list[dict]) -> Path:
    return write_mirror_files(root, {INPUT_DATA.url: jsonl(items)})


@pytest.fixture
def prepared(tmp_path) -> Path:
    data = tmp_path / "data"
    proc = jeval("data", "prepare", "m_ifeval_ja", "--mirror", write_mirror(tmp_path / "mirror", ITEMS),
                 "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    return data


@pytest.fixture
def chat_server():
    with canned_chat({i["prompt"]: ANSWERS[i["key"]] for i in ITEMS}) as served:
        yield served


def test_a_run_checks_each_answer_strict_and_loose_and_writes_upstreams_files(prepared, chat_server, tmp_path):
    handler, url = chat_server
    proc = jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "m_ifeval_ja", "--data-dir", prepared,
                 "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out", "--run-id", "r")
    assert proc.returncode == 0, proc.stderr
    folder = next((tmp_path / "out").glob("*/r"))
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    task = results["tasks"]["m_ifeval_ja"]
    assert task["shots"] == 0 and task["protocol"] == "jeval-m-ifeval-ja-1+standin-data"
    assert {k: task["metrics"][k] for k in ("prompt_level_strict_acc", "inst_level_strict_acc",
                                             "prompt_level_loose_acc", "inst_level_loose_acc")} == \
        pytest.approx({"prompt_level_strict_acc": 1 / 3, "inst_level_strict_acc": 2 / 4,
                       "prompt_level_loose_acc": 2 / 3, "inst_level_loose_acc": 3 / 4})
    assert task["metrics"]["by_instruction"]["ja:startend:end_checker"] == {"n": 1, "strict": 0.0, "loose": 1.0}
    assert all(b["max_tokens"] == 1280 and b["temperature"] == 0.0 and len(b["messages"]) == 1
               for b in handler.bodies)

    strict = [json.loads(x) for x in (folder / "m_ifeval_ja" / "eval_results_strict.jsonl").read_text().splitlines()]
    loose = [json.loads(x) for x in (folder / "m_ifeval_ja" / "eval_results_loose.jsonl").read_text().splitlines()]
    assert [r["follow_instruction_list"] for r in strict] == [[True, True], [False], [False]]
    assert [r["follow_all_instructions"] for r in loose] == [True, True, False]
    assert set(strict[0]) == {"follow_all_instructions", "follow_instruction_list", "instruction_id_list",
                              "prompt", "response"}
    responses = (folder / "m_ifeval_ja" / "input_response_data.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["response"] for x in responses] == [ANSWERS[1], ANSWERS[2], ANSWERS[3]]

    columns = {c["label"]: c["value"] for c in results["columns"]}
    assert columns["M-IFEval ja"] == pytest.approx(1 / 3) and columns["M-IFEval ja loose"] == pytest.approx(2 / 3)
    board = jeval("leaderboard", tmp_path / "out", "--columns", "instruction")
    assert board.returncode == 0, board.stderr
    header, _, row = board.stdout.splitlines()[:3]
    assert "M-IFEval ja" in header and "M-IFEval ja loose" in header and "33.33" in row and "66.67" in row


def test_the_task_is_zero_shot(prepared, chat_server, tmp_path):
    _, url = chat_server
    proc = jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "m_ifeval_ja", "--data-dir", prepared,
                 "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out", "--shots", "2")
    assert proc.returncode == 2 and "zero-shot" in error_lines(proc)[-1]


def test_an_unknown_instruction_id_is_refused_when_the_data_is_prepared(tmp_path):
    bad = [*ITEMS, {"key": 9, "prompt": "x", "instruction_id_list": ["ja:letters:emoji_only"], "kwargs": [{}]}]
    proc = jeval("data", "prepare", "m_ifeval_ja", "--mirror", write_mirror(tmp_path / "mirror", bad),
                 "--data-dir", tmp_path / "data")
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert proc.returncode == 2 and "ja:letters:emoji_only" in line and ":4:" in line
    assert not (tmp_path / "data" / "m_ifeval_ja" / "items.jsonl").exists()


def response_file(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_check_writes_upstreams_verdict_lines_for_any_response_file(prepared, tmp_path):
    responses = response_file(tmp_path / "r.jsonl", [{"prompt": i["prompt"], "response": ANSWERS[i["key"]]}
                                                     for i in reversed(ITEMS)])
    strict = jeval("ifeval", "check", responses, "--data-dir", prepared, "--format", "json")
    loose = jeval("ifeval", "check", responses, "--data-dir", prepared, "--format", "json", "--loose")
    assert strict.returncode == 0 and loose.returncode == 0, strict.stderr + loose.stderr
    strict_rows = [json.loads(x) for x in strict.stdout.splitlines()]
    loose_rows = [json.loads(x) for x in loose.stdout.splitlines()]
    assert [r["prompt"] for r in strict_rows] == [i["prompt"] for i in reversed(ITEMS)], "in the file's order"
    assert [r["follow_all_instructions"] for r in strict_rows] == [False, False, True]
    assert [r["follow_all_instructions"] for r in loose_rows] == [False, True, True]

    summary = jeval("ifeval", "check", responses, "--data-dir", prepared)
    assert summary.returncode == 0 and "prompt_level_strict_acc  0.3333" in summary.stdout
    assert "ja:startend:end_checker" in summary.stdout


def test_check_reads_upstreams_input_data_file_directly(tmp_path):
    items = write_mirror(tmp_path / "m", ITEMS) / INPUT_DATA.mirror_path
    responses = response_file(tmp_path / "r.jsonl", [{"prompt": ITEMS[0]["prompt"], "response": ANSWERS[1]}])
    proc = jeval("ifeval", "check", responses, "--input-data", items, "--format", "json",
                 "--output", tmp_path / "v.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "v.jsonl").read_text())["follow_instruction_list"] == [True, True]
    assert "1 responses checked" in proc.stderr


@pytest.mark.parametrize(("rows", "expected"), [
    ([{"prompt": "知らない質問", "response": "a"}], "r.jsonl:1: the prompt is not one of the 3 M-IFEval items"),
    ([{"prompt": ITEMS[0]["prompt"]}], "r.jsonl:1: expected {\"prompt\": text, \"response\": text}"),
    ([{"prompt": ITEMS[0]["prompt"], "response": "a"}, {"prompt": ITEMS[0]["prompt"], "response": "b"}],
     "r.jsonl:2: the prompt of line 1 again"),
])
def test_check_refuses_response_files_it_cannot_match(prepared, tmp_path, rows, expected):
    proc = jeval("ifeval", "check", response_file(tmp_path / "r.jsonl", rows), "--data-dir", prepared)
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert proc.returncode == 2 and expected in line


def test_check_without_prepared_items_says_how_to_get_them(tmp_path):
    responses = response_file(tmp_path / "r.jsonl", [{"prompt": "p", "response": "a"}])
    proc = jeval("ifeval", "check", responses, "--data-dir", tmp_path / "none")
    assert proc.returncode == 2 and "jeval data prepare m_ifeval_ja" in error_lines(proc)[-1]
