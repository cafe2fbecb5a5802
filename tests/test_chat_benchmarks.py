"""The single-turn chat benchmarks `elyza_tasks_100`, `rakuda` and `ja_vicuna_qa`: prepared from
upstream's file formats, answered over chat (one user turn, each benchmark's decoding), and
written in the answer formats their communities' judges read (FastChat's, shaberi's).

The items are the project's own, written here in upstream's formats and served as a mirror; the
model is a loopback chat endpoint with canned answers (a test double: the answers are not under
test, what is sent and what is written are)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chat_support import canned_chat, jsonl, write_mirror_files
from conftest import error_lines, jeval

from jeval.errors import JevalError
from jeval.registry import load_registry
from jeval.stderr import is_stderr_key
from jeval.task import TaskInputs
from jeval.tasks.chat_bench.files import read_answers, read_judge_prompts, read_questions
from jeval.tasks.elyza_tasks_100.task import JUDGE_PROMPT, TEST_CSV, read_tasks_csv
from jeval.tasks.ja_vicuna_qa.task import JUDGE_PROMPTS as VICUNA_PROMPTS
from jeval.tasks.ja_vicuna_qa.task import QUESTIONS as VICUNA_QUESTIONS
from jeval.tasks.ja_vicuna_qa.task import REFERENCE as VICUNA_REFERENCE
from jeval.tasks.rakuda.task import JUDGE_PROMPTS as RAKUDA_PROMPTS
from jeval.tasks.rakuda.task import QUESTIONS as RAKUDA_QUESTIONS

TASKS = ("elyza_tasks_100", "rakuda", "ja_vicuna_qa")

# ELYZA-tasks-100's test.csv form: quoted fields spanning lines, commas and doubled quotes inside.
ELYZA_CSV = (
    'input,output,eval_aspect\n'
    '"次の文章を一行で要約してください。\n今日は朝から雨だったが、午後は晴れて公園を散歩できた。",'
    '"朝は雨だったが午後は晴れて散歩できた。",'
    '"- 雨から晴れへの変化がなければ2点減点\n- 二行以上なら1点減点"\n'
    '"「しかし」と「だから」を使って、猫の短い物語を書いてください。",'
    '"猫が窓辺で眠っていた。しかし、鳥の声で目を覚ました。だから今日も庭を見張っている。",'
    '"- 接続詞を両方使っていなければ3点減点"\n'
    '"""はい""とだけ答えてください。","はい","- ""はい""以外を含めば1点"\n'
)
ELYZA_INPUTS = [
    "次の文章を一行で要約してください。\n今日は朝から雨だったが、午後は晴れて公園を散歩できた。",
    "「しかし」と「だから」を使って、猫の短い物語を書いてください。",
    '"はい"とだけ答えてください。',
]

RAKUDA_ITEMS = [
    {"category": "地理", "question_id": "q8Xr2LmTa", "turns": ["日本で一番長い川と、それが流れる県を答えてください。"]},
    {"category": "歴史", "question_id": "Zp4Kw9aBc", "turns": ["参勤交代が各藩の財政に与えた影響を説明してください。"]},
    {"category": "社会", "question_id": "Hn3Vq7cDe", "turns": ["日本の少子化の主な原因を三つ挙げてください。"]},
]
RAKUDA_JUDGE = [{"name": "pair-ja", "type": "pairwise", "system_prompt": "あなたは二つの回答を比べる審査員です。",
                 "prompt_template": "[質問]\n{question}\n\n[回答1]\n{answer_a}\n\n[回答2]\n{answer_b}",
                 "description": "テスト用の比較", "category": "一般", "output_format": "last"}]

VICUNA_ITEMS = [
    {"question_id": 1, "category": "generic", "turns": ["朝の時間を有効に使うコツを教えてください。"]},
    {"question_id": "2", "category": "writing", "turns": ["秋の夕暮れを題材に短い詩を書いてください。"]},
    {"question_id": 3, "category": "coding", "turns": ["Pythonでリストの合計を求める関数を書いてください。"]},
    {"question_id": 4, "category": "math", "turns": ["3x + 5 = 20 のとき x を求めてください。"]},
]
VICUNA_REFS = [
    {"question_id": "3", "answer_id": "r3", "model_id": "gpt-4",
     "choices": [{"index": 0, "turns": ["def total(xs):\n    return sum(xs)"]}], "tstamp": 1700000000.0},
    {"question_id": 4, "answer_id": "r4", "model_id": "gpt-4", "choices": [{"index": 0, "turns": ["x = 5 です。"]}],
     "tstamp": 1700000001.5},
]
VICUNA_JUDGE = [
    {"name": name, "type": kind, "system_prompt": "テスト用の審査員です。", "prompt_template": template,
     "description": "テスト", "category": category, "output_format": fmt}
    for name, kind, template, category, fmt in [
        ("pair", "pairwise", "{question}\n[A]\n{answer_a}\n[B]\n{answer_b}", "general", "[[A]]"),
        ("pair-math", "pairwise", "{question}\n[参考]\n{ref_answer_1}\n[A]\n{answer_a}\n[B]\n{answer_b}", "math",
         "[[A]]"),
        ("single", "single", "{question}\n[回答]\n{answer}", "general", "[[rating]]"),
        ("single-math", "single", "{question}\n[参考]\n{ref_answer_1}\n[回答]\n{answer}", "math", "[[rating]]"),
    ]
]

ELYZA_GRADING = ("テスト用の採点指示です。\n# 問題\n{input_text}\n# 正解例\n{output_text}\n# 採点基準\n{eval_aspect}\n"
                 "# 回答\n{pred}\n# 形式\n{{\"reason\": \"理由\", \"grade\": 1から5}}\n")
"""A grading prompt in the form of gpt4-autoeval's prompt_eval.txt (Python format placeholders,
doubled braces for literal ones), worded for this test."""

QUESTION_TEXTS = ELYZA_INPUTS + [i["turns"][0] for i in RAKUDA_ITEMS] + [i["turns"][0] for i in VICUNA_ITEMS]
ANSWERS = {text: f"回答{n}です。" for n, text in enumerate(QUESTION_TEXTS)}


def mirror_files() -> dict[str, bytes]:
    return {TEST_CSV.url: ELYZA_CSV.encode(), JUDGE_PROMPT.url: ELYZA_GRADING.encode(),
            RAKUDA_QUESTIONS.url: jsonl(RAKUDA_ITEMS), RAKUDA_PROMPTS.url: jsonl(RAKUDA_JUDGE),
            VICUNA_QUESTIONS.url: jsonl(VICUNA_ITEMS), VICUNA_REFERENCE.url: jsonl(VICUNA_REFS),
            VICUNA_PROMPTS.url: jsonl(VICUNA_JUDGE)}


def write_mirror(root: Path, replace: dict[str, bytes] | None = None) -> Path:
    """The fixture files at their mirror paths (HOST/PATH), with their checksums named."""
    return write_mirror_files(root, {**mirror_files(), **(replace or {})})


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def failed_prepare(tmp_path: Path, task: str, replace: dict[str, bytes]) -> str:
    """Prepare `task` from a mirror with some files replaced: it must fail with one error line,
    and leave no prepared folder behind. The line."""
    proc = jeval("data", "prepare", task, "--mirror", write_mirror(tmp_path / "mirror", replace),
                 "--data-dir", tmp_path / "data")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = [x for x in error_lines(proc) if x.startswith("jeval: error")]
    assert not (tmp_path / "data" / task).exists()
    return line


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("chat-data")
    proc = jeval("data", "prepare", *TASKS, "--mirror", write_mirror(tmp_path_factory.mktemp("chat-mirror")),
                 "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    return data


@pytest.fixture(scope="module")
def chat_server():
    with canned_chat(ANSWERS) as served:
        yield served


@pytest.fixture(scope="module")
def run(prepared, chat_server, tmp_path_factory):
    """One `jeval run` of the three tasks; (run folder, results, request bodies by user turn)."""
    handler, url = chat_server
    out = tmp_path_factory.mktemp("chat-runs")
    proc = jeval("run", "--base-url", url, "--model-id", "m", "--tasks", ",".join(TASKS), "--data-dir", prepared,
                 "--cache", out / "c.sqlite", "--output", out / "out", "--run-id", "r", "--name", "helper")
    assert proc.returncode == 0, proc.stderr
    folder = next((out / "out").glob("*/r"))
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    return folder, results, {b["messages"][-1]["content"]: b for b in handler.bodies}


def test_prepare_writes_each_benchmarks_files_in_the_documented_form(prepared):
    elyza = read(prepared / "elyza_tasks_100" / "questions.jsonl")
    assert elyza[2] == {"question_id": 3, "category": "elyza_tasks_100", "turns": ['"はい"とだけ答えてください。'],
                        "reference": "はい", "eval_aspect": '- "はい"以外を含めば1点'}
    assert [q["question_id"] for q in elyza] == [1, 2, 3]
    assert [q["turns"] for q in elyza] == [[t] for t in ELYZA_INPUTS]
    assert elyza[0]["eval_aspect"] == "- 雨から晴れへの変化がなければ2点減点\n- 二行以上なら1点減点"

    assert read(prepared / "rakuda" / "questions.jsonl") == RAKUDA_ITEMS
    assert read(prepared / "rakuda" / "judge_prompts.jsonl") == [{**RAKUDA_JUDGE[0], "source": RAKUDA_PROMPTS.url}]

    vicuna = read(prepared / "ja_vicuna_qa" / "questions.jsonl")
    assert [q["question_id"] for q in vicuna] == [1, 2, 3, 4]
    assert vicuna[1] == {**VICUNA_ITEMS[1], "question_id": 2}
    refs = read(prepared / "ja_vicuna_qa" / "reference_answer" / "gpt-4.jsonl")
    assert refs == [{**VICUNA_REFS[0], "question_id": 3}, VICUNA_REFS[1]]
    prompts = read(prepared / "ja_vicuna_qa" / "judge_prompts.jsonl")
    assert [p["name"] for p in prompts] == ["pair", "pair-math", "single", "single-math"]
    assert all(p["source"] == VICUNA_PROMPTS.url for p in prompts)

    counts = {t: json.loads((prepared / t / "manifest.json").read_text())["counts"] for t in TASKS}
    assert counts == {"elyza_tasks_100": {"test": 3}, "rakuda": {"test": 3, "judge_prompts": 1},
                      "ja_vicuna_qa": {"test": 4, "reference_answers": 2, "judge_prompts": 4}}


def test_sources_are_pinned():
    rows = json.loads(jeval("data", "sources", *TASKS, "--json").stdout)
    assert len(rows) == 7 and all(len(r["sha256"]) == 64 for r in rows)
    assert {r["url"] for r in rows} == set(mirror_files())
    assert TEST_CSV.alternatives
    assert all(u.startswith("https://raw.githubusercontent.com/") for u in TEST_CSV.alternatives)


def test_a_run_sends_one_user_turn_with_each_benchmarks_decoding(run):
    _, _, bodies = run
    assert set(bodies) == set(QUESTION_TEXTS)
    assert all(b["messages"] == [{"role": "user", "content": text}] for text, b in bodies.items())
    decoding = {text: (bodies[text]["temperature"], bodies[text]["max_tokens"]) for text in QUESTION_TEXTS}
    assert [decoding[t] for t in ELYZA_INPUTS] == [(0.0, 2048)] * 3
    assert [decoding[i["turns"][0]] for i in RAKUDA_ITEMS] == [(0.7, 1024)] * 3
    assert [decoding[i["turns"][0]] for i in VICUNA_ITEMS] == [(0.1, 2048), (0.7, 2048), (0.001, 2048),
                                                               (0.001, 2048)]


def test_results_record_the_protocols_and_declare_no_columns(run):
    _, results, _ = run
    tasks = results["tasks"]
    assert {t: tasks[t]["protocol"] for t in TASKS} == {
        "elyza_tasks_100": "jeval-elyza-tasks-100-1+standin-data", "rakuda": "rakuda-v2-jrank-1+standin-data",
        "ja_vicuna_qa": "ja-vicuna-qa-ku-nlp-1+standin-data"}
    assert all(tasks[t]["shots"] == 0 and {k: v for k, v in tasks[t]["metrics"].items() if not is_stderr_key(k)}
               == {"answered": 1.0} for t in TASKS)
    assert [tasks[t]["n_samples"] for t in TASKS] == [3, 3, 4]
    assert tasks["elyza_tasks_100"]["decoding"]["greedy"] is True
    assert tasks["ja_vicuna_qa"]["decoding"]["temperature"] == [0.001, 0.1, 0.7]
    assert not [c for c in results["columns"] if set(c["tasks"]) & set(TASKS)]


def test_answers_are_written_in_fastchats_format_with_upstreams_id_types(run):
    folder, results, _ = run
    for task, items in [("rakuda", RAKUDA_ITEMS), ("ja_vicuna_qa", VICUNA_ITEMS)]:
        answers = read(folder / "answers" / f"{task}.jsonl")
        ids = [i["question_id"] for i in items]
        assert [a["question_id"] for a in answers] == (ids if task == "rakuda" else [1, 2, 3, 4])
        assert [a["choices"] for a in answers] == [[{"index": 0, "turns": [ANSWERS[i["turns"][0]]]}] for i in items]
        assert all(a["model_id"] == "helper" and len(a["answer_id"]) == 22 and a["tstamp"] > 0 for a in answers)
        assert answers[0]["generate_params"]["protocol"] == results["tasks"][task]["protocol"]
    # what jeval judge reads back
    vicuna = read_answers(folder / "answers" / "ja_vicuna_qa.jsonl", "int", {1, 2, 3, 4})
    assert [a.turns for a in vicuna] == [(ANSWERS[i["turns"][0]],) for i in VICUNA_ITEMS]

    elyza = read(folder / "answers" / "elyza_tasks_100.jsonl")
    assert [a["question_id"] for a in elyza] == [1, 2, 3]
    assert elyza[0]["generate_params"] == {"protocol": "jeval-elyza-tasks-100-1+standin-data", "temperature": 0.0,
                                           "max_tokens": 2048}
    shaberi = read(folder / "answers" / "elyza_tasks_100.shaberi.jsonl")
    story = "猫が窓辺で眠っていた。しかし、鳥の声で目を覚ました。だから今日も庭を見張っている。"
    assert shaberi[1] == {
        "Question": ELYZA_INPUTS[1], "output": story,
        "eval_aspect": "- 接続詞を両方使っていなければ3点減点", "ModelAnswer": ANSWERS[ELYZA_INPUTS[1]]}
    assert [list(r) for r in shaberi] == [["Question", "output", "eval_aspect", "ModelAnswer"]] * 3


def test_limit_and_shots(prepared):
    task = load_registry().tasks["ja_vicuna_qa"]
    built = task.requests(TaskInputs(prepared / "ja_vicuna_qa", 0, 2))
    assert [r.key for r in built.requests] == ["1", "2"]
    assert built.requests[0].metadata["question_id"] == 1
    assert task.max_shots(prepared / "ja_vicuna_qa") == 0
    with pytest.raises(JevalError, match=r"ja_vicuna_qa is zero-shot; drop --shots 3"):
        task.requests(TaskInputs(prepared / "ja_vicuna_qa", 3, None))


def test_shots_on_the_command_line_is_one_clear_error(prepared, chat_server, tmp_path):
    _, url = chat_server
    proc = jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "rakuda", "--shots", "2",
                 "--data-dir", prepared, "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = [x for x in error_lines(proc) if x.startswith("jeval: error")]
    assert "rakuda: 2 shots asked for" in line and "zero-shot only" in line


@pytest.mark.parametrize(("text", "message"), [
    ("input,output\na,b\n", r":1: the header must be exactly input,output,eval_aspect"),
    ('input,output,eval_aspect\na,b,c\n"d\ne",f\n', r":3: row 2 has 2 fields, expected 3"),
    ('input,output,eval_aspect\na,b,c\nd,e,f,g\n', r":3: row 2 has 4 fields"),
    ('input,output,eval_aspect\na,b,c\n"d,e,f\n', r":3: row 2 is not valid CSV"),
    ('input,output,eval_aspect\n"a"x,b,c\n', r":2: row 1 is not valid CSV"),
    ('input,output,eval_aspect\na, ,c\n', r":2: row 1 has an empty output"),
    ("input,output,eval_aspect\n", r"a header and no rows"),
    ("", r"the file is empty"),
])
def test_malformed_csv_names_the_line_and_row(tmp_path, text, message):
    path = tmp_path / "test.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(JevalError, match=message):
        read_tasks_csv(path)


def test_csv_tolerates_a_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "test.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ELYZA_CSV.replace("\n", "\r\n").encode())
    tasks = read_tasks_csv(path)
    assert len(tasks) == 3 and tasks[0].input == ELYZA_INPUTS[0].replace("\n", "\r\n")


def test_malformed_csv_stops_prepare_with_one_line(tmp_path):
    line = failed_prepare(tmp_path, "elyza_tasks_100", {TEST_CSV.url: ELYZA_CSV.encode() + b"x,y\n"})
    assert "test.csv:7: row 4 has 2 fields, expected 3" in line


@pytest.mark.parametrize(("rows", "message"), [
    (b'{"question_id": "a", "category": "x", "turns": ["q"]}\n{"question_id": "b",\n', r"\.jsonl:2: not valid JSON"),
    (jsonl([{"question_id": "a", "category": "x", "turns": ["q", "r"]}]), r":1: question 'a' has 2 turns"),
    (jsonl([{"question_id": 7, "category": "x", "turns": ["q"]}]), r":1: question_id must be a non-empty string"),
    (jsonl([{"question_id": "a", "turns": ["q"]}]), r":1: a question needs category"),
    (jsonl([{"question_id": "a", "category": "x", "turns": ["q"]}] * 2), r":2: question_id 'a' appears twice"),
])
def test_malformed_question_files_name_the_line(tmp_path, rows, message):
    path = tmp_path / "questions.jsonl"
    path.write_bytes(rows)
    with pytest.raises(JevalError, match=message):
        read_questions(path, "str")


def test_integer_ids_are_normalised_and_non_integers_refused(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_bytes(jsonl([{"question_id": "12", "category": "x", "turns": ["q"]}]))
    assert read_questions(path, "int")[0].question_id == 12
    path.write_bytes(jsonl([{"question_id": "q12", "category": "x", "turns": ["q"]}]))
    with pytest.raises(JevalError, match=r"q\.jsonl:1: question_id must be an integer, got 'q12'"):
        read_questions(path, "int")


def test_malformed_rakuda_questions_stop_prepare(tmp_path):
    broken = jsonl(RAKUDA_ITEMS[:1]) + b'{"category": "\xe6\xad\xb4\xe5\x8f\xb2", "question_id": "x"}\n'
    line = failed_prepare(tmp_path, "rakuda", {RAKUDA_QUESTIONS.url: broken})
    assert "questions.jsonl:2: a question needs turns" in line


def test_a_reference_to_an_unknown_question_is_an_error(tmp_path):
    refs = [*VICUNA_REFS, {**VICUNA_REFS[0], "question_id": 99}]
    line = failed_prepare(tmp_path, "ja_vicuna_qa", {VICUNA_REFERENCE.url: jsonl(refs)})
    assert "results.jsonl:3: an answer to question 99, which is not among the questions" in line


def test_a_category_without_a_temperature_is_an_error(tmp_path):
    items = [*VICUNA_ITEMS, {"question_id": 5, "category": "trivia", "turns": ["日本の首都はどこですか？"]}]
    line = failed_prepare(tmp_path, "ja_vicuna_qa", {VICUNA_QUESTIONS.url: jsonl(items)})
    assert "question 5 has category 'trivia'" in line and "ja-vicuna-qa-ku-nlp-1 has no temperature" in line


def test_judge_prompts_the_protocol_uses_must_be_there(tmp_path):
    path = tmp_path / "judge_prompts.jsonl"
    path.write_bytes(jsonl(VICUNA_JUDGE[:2]))
    with pytest.raises(JevalError, match=r"the judge prompts single, single-math are missing"):
        read_judge_prompts(path, ("pair", "pair-math", "single", "single-math"))
    path.write_bytes(jsonl([{**VICUNA_JUDGE[0], "type": "ranking"}]))
    with pytest.raises(JevalError, match=r"judge_prompts\.jsonl:1: judge prompt type must be single or pairwise"):
        read_judge_prompts(path)


def test_elyzas_grading_prompt_is_prepared_as_a_judge_prompt_with_the_judges_placeholders(prepared):
    [record] = read(prepared / "elyza_tasks_100" / "judge_prompts.jsonl")
    assert (record["name"], record["type"], record["output_format"]) == ("elyza-autoeval", "single", "grade-json")
    assert record["prompt_template"] == ELYZA_GRADING.replace("{input_text}", "{question}").replace(
        "{output_text}", "{ref_answer_1}").replace("{eval_aspect}", "{criteria}").replace("{pred}", "{answer}")
    assert record["source"] == JUDGE_PROMPT.url


def test_a_grading_prompt_without_its_placeholders_is_refused(tmp_path):
    line = failed_prepare(tmp_path, "elyza_tasks_100", {JUDGE_PROMPT.url: "採点してください。{input_text}".encode()})
    assert "must hold the placeholders" in line and "prompt_eval.txt" in line
