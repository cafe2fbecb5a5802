"""A new generation benchmark is one folder: `tasks/<name>/task.yaml`, and nothing else changes.

The test copies the source tree, adds a folder declaring a small QA benchmark (its data served from
a mirror in the upstream layout), builds the wheel from the copy and installs it apart from the
project: the folder is in the wheel, `jeval tasks list` shows the task, `jeval data prepare`
prepares it, `jeval run` scores it on a real (tiny) model, and `jeval leaderboard` shows its
declared column, with no edit to the core.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import run_files
from golden_support import build_fixed_checkpoint

from jeval.stderr import is_stderr_key

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = (".git", ".venv", "__pycache__", "build", "dist", "results", "tests", "jeval-demo", ".hypothesis",
           ".pytest_cache", ".mypy_cache", ".ruff_cache")
URL = "https://example.org/toy-qa/v1"
TEST = [{"question": "日本の首都は？", "answer": "東京"}, {"question": "富士山がある国は？", "answer": "日本"},
        {"question": "一足す一は？", "answer": "二"}]
TRAIN = [{"question": "北海道の中心都市は？", "answer": "札幌"}, {"question": "英語で犬は？", "answer": "dog"}]


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def declaration() -> str:
    return f"""\
name: toy_qa
category: QA
protocol: toy-qa-1
description: a three-question benchmark written for this test
splits:
  test: {{url: {URL}/test.jsonl, sha256: "{hashlib.sha256(_jsonl(TEST)).hexdigest()}", license: CC0-1.0}}
  train: {{url: {URL}/train.jsonl, sha256: "{hashlib.sha256(_jsonl(TRAIN)).hexdigest()}", license: CC0-1.0}}
format: jsonl
prompt:
  instruction: 質問に答えてください。
  template: "質問：{{question}}\\n答え："
  answer: "{{answer}}"
generation: {{max_tokens: 8, stop: ["\\n"]}}
answer: first_line
metrics: [exact_match, char_f1]
default_shots: 1
column: {{label: Toy QA, group: toy}}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The wheel built from a copy of the tree with the new folder, installed into a folder of its own."""
    work = tmp_path_factory.mktemp("new-benchmark")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIPPED, "*.egg-info"))
    (source / "tasks" / "toy_qa").mkdir()
    (source / "tasks" / "toy_qa" / "task.yaml").write_text(declaration(), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(work / "dist"), str(source)], check=True, capture_output=True, timeout=600)
    [wheel] = (work / "dist").glob("jeval-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(work / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=600)
    env = {**os.environ, "PYTHONPATH": str(work / "site"), "JEVAL_HOME": str(work / "home")}
    return work, env


def jeval(env: dict[str, str], *args: object, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jeval", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def test_the_folder_is_in_the_wheel_with_every_package(installed):
    work, _ = installed
    [wheel] = (work / "dist").glob("jeval-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "jeval/tasks/toy_qa/task.yaml" in names
    for package in ("jeval/__init__.py", "jeval/tasks/jaster/__init__.py", "jeval/leaderboard/__init__.py",
                    "jeval/models/train/__init__.py", "jeval/tasks/ppl/__init__.py"):
        assert package in names, package
    assert any(n.startswith("jeval/tasks/jaster/samples/") for n in names)
    assert any(n.startswith("jeval/tasks/japanese_leaderboard/lm_eval_tasks/") for n in names)


def test_it_prepares_runs_and_appears_in_the_leaderboard(installed, tmp_path):
    work, env = installed
    where = subprocess.run([sys.executable, "-c", "import jeval; print(jeval.__file__)"], capture_output=True,
                           text=True, env=env, cwd=tmp_path).stdout
    assert where.startswith(str(work / "site")), where
    listed = jeval(env, "tasks", "list", cwd=tmp_path)
    assert "toy_qa\tQA\ttoy-qa-1\t1-shot" in listed.stdout.splitlines(), listed.stderr

    mirror = tmp_path / "mirror" / "example.org" / "toy-qa" / "v1"
    mirror.mkdir(parents=True)
    (mirror / "test.jsonl").write_bytes(_jsonl(TEST))
    (mirror / "train.jsonl").write_bytes(_jsonl(TRAIN))
    prepared = jeval(env, "data", "prepare", "toy_qa", "--mirror", tmp_path / "mirror", cwd=tmp_path)
    assert prepared.returncode == 0, prepared.stderr

    checkpoint = tmp_path / "ckpt"
    build_fixed_checkpoint(checkpoint, context=4096)
    ran = jeval(env, "run", "--model", checkpoint, "--backend", "local", "--tasks", "toy_qa", "--output",
                tmp_path / "results", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    [results_file] = run_files(tmp_path / "results", "results.json")
    results = json.loads(results_file.read_text(encoding="utf-8"))
    task = results["tasks"]["toy_qa"]
    assert task["protocol"] == "toy-qa-1" and task["n_samples"] == 3 and task["shots"] == 1
    assert {k for k in task["metrics"] if not is_stderr_key(k)} == {"exact_match", "char_f1"}
    assert task["prompt_source"]["data_origin"] == "upstream"
    rows = [json.loads(x) for x in (results_file.parent / "samples" / "toy_qa.jsonl").read_text().splitlines()]
    assert rows[0]["prompt"] == ("質問に答えてください。\n\n質問：北海道の中心都市は？\n答え：札幌"
                                 "\n\n質問：日本の首都は？\n答え：")
    assert [r["target"] for r in rows] == ["東京", "日本", "二"]

    board = jeval(env, "leaderboard", tmp_path / "results", "--format", "json", cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    data = json.loads(board.stdout)
    [column] = [c for c in data["columns"] if c["label"] == "Toy QA"]
    assert (column["group"], column["protocol"], column["shots"]) == ("toy", "toy-qa-1", "1")
    [row] = data["rows"]
    assert row["cells"][column["key"]]["value"] == pytest.approx(100 * task["metrics"]["exact_match"])
