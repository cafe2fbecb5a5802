"""The jmt_bench task: prepared data from the pinned upstream layout, chat requests per named
generation protocol, the second turn built on the first answer."""

from __future__ import annotations

import json

import pytest
from conftest import error_lines, jeval

from jeval.errors import JevalError
from jeval.registry import load_registry
from jeval.task import Request, TaskInputs
from jeval.tasks.jmt_bench.files import read_answers, read_questions
from jeval.tasks.jmt_bench.protocols import PROTOCOLS


@pytest.fixture
def task():
    return load_registry().tasks["jmt_bench"]


def test_prepare_writes_questions_references_and_both_upstream_prompt_sets(jmt_data):
    folder = jmt_data / "jmt_bench"
    questions = read_questions(folder / "questions.jsonl")
    assert [q.question_id for q in questions] == [1, 31, 41, 71, 51]
    assert all(len(q.turns) == 2 for q in questions)
    for name in ("gpt-4", "gpt-4o"):
        refs = read_answers(folder / "reference_answer" / f"{name}.jsonl")
        assert {r.model_id for r in refs} == {name} and len(refs) == 5
    ja = [json.loads(x) for x in (folder / "judge_prompts" / "fastchat-ja.jsonl").read_text().splitlines()]
    by_name = {p["name"]: p for p in ja}
    assert by_name["single-v1"]["source"].endswith("/judge_ja_prompts.jsonl")
    assert "採点" in by_name["single-v1"]["prompt_template"]
    assert by_name["single-v1-multi-turn"]["source"].endswith("/judge_prompts.jsonl")
    assert by_name["pair-v2"]["source"].endswith("/judge_prompts.jsonl")
    en = [json.loads(x) for x in (folder / "judge_prompts" / "fastchat-en.jsonl").read_text().splitlines()]
    assert len(en) == 8 and {p["name"] for p in en} <= set(by_name)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert all("Stability-AI/FastChat/e37eb28ee490480f6f4989274ed47c55f7dfce82" in s["url"]
               for s in manifest["sources"])
    assert manifest["checksums_from_mirror"] is True


def test_sources_are_pinned_to_one_upstream_commit():
    proc = jeval("data", "sources", "jmt_bench", "--json")
    rows = json.loads(proc.stdout)
    assert len(rows) == 5 and all(len(r["sha256"]) == 64 for r in rows)
    assert {r["url"].rsplit("/", 1)[1] for r in rows} == {
        "question_full.jsonl", "gpt-4.jsonl", "base-gpt4o-with-human-annotation.jsonl",
        "judge_ja_prompts.jsonl", "judge_prompts.jsonl"}


@pytest.mark.parametrize("variant", [None, "fastchat", "stability"])
def test_first_turn_is_a_chat_request_with_the_protocols_temperature(jmt_data, task, variant):
    built = task.requests(TaskInputs(jmt_data / "jmt_bench", 0, None, variant))
    protocol = PROTOCOLS[variant or "fastchat"]
    assert built.protocol == protocol.name
    by_category = {r.metadata["category"]: r for r in built.requests}
    for category, request in by_category.items():
        assert request.is_chat and request.messages == ({"role": "user", "content": request.metadata["turns"][0]},)
        assert request.temperature == protocol.temperatures[category]
        assert request.max_tokens == protocol.max_tokens
    assert by_category["writing"].temperature == (0.7 if protocol.variant == "fastchat" else 0.5)
    assert by_category["math"].temperature == (0.0 if protocol.variant == "fastchat" else 0.1)


def test_protocols_differ_in_their_prompt_fingerprint(jmt_data, task):
    a = task.requests(TaskInputs(jmt_data / "jmt_bench", 0, None, "fastchat"))
    b = task.requests(TaskInputs(jmt_data / "jmt_bench", 0, None, "stability"))
    assert a.prompt_fingerprint != b.prompt_fingerprint


def test_second_turn_carries_the_first_exchange_and_then_the_dialogue_ends(jmt_data, task):
    first = task.requests(TaskInputs(jmt_data / "jmt_bench", 0, None)).requests[1]
    second = task.follow_up(first, "6です。")
    assert second.key == first.key and second.temperature == first.temperature
    assert [m["role"] for m in second.messages] == ["user", "assistant", "user"]
    assert second.messages[1]["content"] == "6です。"
    assert second.messages[2]["content"] == first.metadata["turns"][1]
    assert second.metadata["turn"] == 2 and second.metadata["answers"] == ["6です。"]
    assert task.follow_up(second, "60です。") is None
    assert task.score(second, "60です。") == {"answered_turns": 1.0}
    assert task.score(second, "  ") == {"answered_turns": 0.5}


def test_unknown_generation_protocol_is_one_clear_error(jmt_data, task):
    with pytest.raises(JevalError, match=r"no generation protocol 'nejumi9'.*fastchat, stability"):
        task.requests(TaskInputs(jmt_data / "jmt_bench", 0, None, "nejumi9"))


def test_malformed_upstream_question_file_names_file_and_line(jmt_mirror, tmp_path):
    root, url = jmt_mirror
    [questions] = list(root.rglob("question_full.jsonl"))
    lines = questions.read_text(encoding="utf-8").splitlines()
    lines[2] = json.dumps({"question_id": 41, "category": "reasoning"})
    questions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from jeval.data.download import sha256_file
    manifest = json.loads((root / "jeval-mirror.json").read_text())
    manifest["checksums"][f"https://{questions.relative_to(root).as_posix()}"] = sha256_file(questions)
    (root / "jeval-mirror.json").write_text(json.dumps(manifest))
    proc = jeval("data", "prepare", "jmt_bench", "--mirror", url, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval: error")]
    assert "question_full.jsonl:3: a question needs turns" in line
    assert not (tmp_path / "data" / "jmt_bench").exists()


def test_request_payload_is_a_chat(jmt_data, task):
    request: Request = task.requests(TaskInputs(jmt_data / "jmt_bench", 0, None)).requests[0]
    assert request.payload()["kind"] == "chat"
