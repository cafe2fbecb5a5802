"""MBPP (ja) through `jeval data prepare`: MBPP's positional split (11-510 test, 511-600 dev,
601- train), the task text with its asserts as input, the assert list's repr as output, long
inputs dropped, each split shuffled with seed 42. The mbpp-ja file is generated here (974
problems of the project's own) and put on the mirror with its checksum."""

from __future__ import annotations

import json
import random

from jaster_converters_support import pairs, prepare, prepare_fails, replace_on_mirror

FILE = ("huggingface.co/datasets/llm-jp/mbpp-ja/resolve/94afe76bc974b12e475f72cba00c98ce9d3a3c45/"
        "mbpp_translation.jsonl")
LONG_PROBLEM = 20
"""A test-range problem whose input is over 1,000 characters."""


def problem(task_id: int) -> dict:
    text = f"数に{task_id}を足す関数を書きなさい。" + ("詳しい説明。" * 200 if task_id == LONG_PROBLEM else "")
    tests = [f"assert add_{task_id}(1) == {task_id + 1}", f"assert add_{task_id}(0) == {task_id}"]
    if task_id == 11:
        tests.append("assert name_11('a') == \"a\"")
    return {"text": f"Write a function that adds {task_id}.",
            "code": f"def add_{task_id}(x):\n    return x + {task_id}", "task_id": task_id, "test_setup_code": "",
            "test_list": tests, "challenge_test_list": [], "text_jpn": text}


def expected(task_id: int) -> tuple[str, str]:
    record = problem(task_id)
    return (record["text_jpn"] + "\n\n### テストケース:\n" + "\n".join(record["test_list"]), repr(record["test_list"]))


def shuffled(task_ids: list[int]) -> list[tuple[str, str]]:
    out = [expected(t) for t in task_ids]
    random.Random(42).shuffle(out)
    return out


def put_problems(root, records) -> None:
    (root / FILE).parent.mkdir(parents=True, exist_ok=True)
    (root / FILE).write_bytes(b"")
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    replace_on_mirror(root, FILE, data.encode())


def test_mbpp_split_by_position_with_long_inputs_dropped(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    put_problems(root, [problem(i) for i in range(1, 975)])
    splits = prepare("mbpp", url, tmp_path / "data")
    assert pairs(splits["test"]) == shuffled([t for t in range(11, 511) if t != LONG_PROBLEM])
    assert pairs(splits["dev"]) == shuffled(list(range(511, 601)))
    assert pairs(splits["train"]) == shuffled(list(range(601, 975)))
    by_input = dict(pairs(splits["test"]))
    assert by_input[expected(11)[0]] == (
        "['assert add_11(1) == 12', 'assert add_11(0) == 11', 'assert name_11(\\'a\\') == \"a\"']")
    assert splits["test"]["metrics"] == ["code_exec", "pylint_check"] and splits["test"]["output_length"] == 1000


def test_a_problem_without_asserts_names_its_line(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    records = [problem(i) for i in range(1, 975)]
    records[4]["test_list"] = []
    put_problems(root, records)
    line = prepare_fails("mbpp", url, tmp_path / "data")
    assert "mbpp_translation.jsonl:5: test_list must be a non-empty list of assert statements" in line


def test_a_truncated_file_is_refused(jaster_mirror, tmp_path):
    root, url = jaster_mirror
    put_problems(root, [problem(i) for i in range(1, 100)])
    line = prepare_fails("mbpp", url, tmp_path / "data")
    assert "99 problems; MBPP's split needs more than 600" in line
