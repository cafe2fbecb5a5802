"""`jeval data prepare jhumaneval` from fixture files served over HTTP in the upstream layout, and
`jeval run --tasks jhumaneval` against a loopback OpenAI-compatible double (a test double: it
answers fixed completions, chosen per problem) through to results.json, the rows and HumanEval's
samples file."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import error_lines, jeval
from http_support import JsonHandler
from test_jhumaneval import RECORDS, write_upstream

from jeval.data.download import sha256_file
from jeval.tasks.jhumaneval.data import DATA
from jeval.tasks.jhumaneval.task import STOP

BY_PROMPT = {r[field]: r for r in RECORDS for field in ("prompt", "prompt_en")}
WRONG = "    return None\n"


class FakeCompletions(JsonHandler):
    """Answers a completion request for a fixture problem with the next of `answers[entry_point]`
    (the canonical solution where none is given), in turn per problem."""

    answers: ClassVar[dict[str, list[str]]] = {}
    asked: ClassVar[list[dict]] = []
    lock = threading.Lock()

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "test", "root": "m",
                                                 "max_model_len": 4096}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        record = BY_PROMPT[body["prompt"]]
        with type(self).lock:
            seen = sum(1 for b in type(self).asked if BY_PROMPT[b["prompt"]] is record)
            type(self).asked.append(body)
        given = type(self).answers.get(record["entry_point"], [record["canonical_solution"]])
        text = given[seen % len(given)]
        self._send({"id": "c", "object": "text_completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}})


@pytest.fixture
def fake_server():
    handler = type("Handler", (FakeCompletions,), {"answers": {}, "asked": [], "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def serve_upstream(root: Path, records: list[dict] | None = None, lines: list[str] | None = None) -> None:
    """The fixture problems where upstream's file lives, with their checksum in jeval-mirror.json."""
    path = write_upstream(root / DATA.mirror_path, records, lines)
    (root / "jeval-mirror.json").write_text(json.dumps({"checksums": {DATA.url: sha256_file(path)}}))


@pytest.fixture
def prepared(http_root, tmp_path) -> Path:
    root, url = http_root
    serve_upstream(root)
    data_dir = tmp_path / "data"
    proc = jeval("data", "prepare", "jhumaneval", "--mirror", url, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    return data_dir


def run(url: str, data: Path, tmp_path: Path, run_id: str, *extra: str):
    return jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "jhumaneval", "--data-dir", data,
                 "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out", "--run-id", run_id, *extra)


def run_dir(tmp_path: Path, run_id: str) -> Path:
    return next((tmp_path / "out").glob(f"*/{run_id}"))


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prepare_keeps_every_problem_and_records_the_pinned_source(prepared):
    folder = prepared / "jhumaneval"
    problems = lines_of(folder / "problems.jsonl")
    assert [p["task_id"] for p in problems] == [r["task_id"] for r in RECORDS]
    assert problems[0] == {k: RECORDS[0][k] for k in ("task_id", "prompt", "prompt_en", "entry_point",
                                                       "canonical_solution", "test")}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["counts"] == {"test": len(RECORDS)} and manifest["protocol"] == "jhumaneval-humaneval-1"
    [source] = manifest["sources"]
    assert source["url"] == DATA.url and "def32e75b363aa663d19c0f6d83ef300feeeea0e" in source["url"]


def test_sources_are_pinned():
    proc = jeval("data", "sources", "jhumaneval", "--json")
    [row] = json.loads(proc.stdout)
    assert row["url"] == ("https://raw.githubusercontent.com/KuramitsuLab/jhuman-eval/"
                          "def32e75b363aa663d19c0f6d83ef300feeeea0e/data/jhuman-eval.jsonl.gz")
    assert row["sha256"] == "e025987ea1df0678cbcb4c4a7a9b5f123a4ea7f8e5dbdca0aa635b92dfaa7498"


def test_a_greedy_run_scores_pass_at_1_and_writes_humanevals_samples_file(fake_server, prepared, tmp_path):
    handler, url = fake_server
    handler.answers = {"unrotate": [WRONG], "histogram": ["    return {}\n"]}
    proc = run(url, prepared, tmp_path, "greedy")
    assert proc.returncode == 0, proc.stderr
    folder = run_dir(tmp_path, "greedy")
    results = json.loads((folder / "results.json").read_text())
    task = results["tasks"]["jhumaneval"]
    assert task["protocol"] == "jhumaneval-humaneval-1+standin-data" and task["category"] == "CG"
    metrics = task["metrics"]
    assert task["primary_metric"] == "pass@1" and metrics["pass@1"] == pytest.approx(3 / 5)
    assert "pass@10" not in metrics and metrics["counts"] == {"problems": 5, "samples_per_problem": 1}
    assert metrics["sandbox"]["network"] == "none" and metrics["sandbox"]["limits"]["wall_s"] == 13.0
    assert task["decoding"]["greedy"] is True and task["decoding"]["max_tokens"] == [1024]
    [column] = [c for c in results["columns"] if c["tasks"] == ["jhumaneval"]]
    assert column["label"] == "JHumanEval pass@1" and column["value"] == pytest.approx(0.6)
    assert column["protocol"] == "jhumaneval-humaneval-1+standin-data"

    assert len(handler.asked) == 5
    for body in handler.asked:
        assert body["prompt"] in {r["prompt"] for r in RECORDS}
        assert body["stop"] == list(STOP) and body["max_tokens"] == 1024 and body["temperature"] == 0.0

    rows = {r["key"]: r for r in lines_of(folder / "samples" / "jhumaneval.jsonl")}
    assert rows["JHumanEval/0"]["passed"] is True and rows["JHumanEval/0"]["problem_passed"] == 1
    assert rows["JHumanEval/1"]["passed"] is False and rows["JHumanEval/1"]["result"].startswith("failed: ")
    humaneval = lines_of(folder / "jhumaneval_samples.jsonl")
    assert [(s["task_id"], s["passed"]) for s in humaneval] == [
        ("JHumanEval/0", True), ("JHumanEval/1", False), ("JHumanEval/2", True), ("JHumanEval/3", True),
        ("JHumanEval/4", False)]
    assert humaneval[0]["completion"] == RECORDS[0]["canonical_solution"] and humaneval[1]["completion"] == WRONG
    assert set(humaneval[0]) == {"task_id", "completion", "passed", "result"}


def test_samples_give_pass_at_k_per_problem_and_the_limit_keeps_whole_problems(fake_server, prepared, tmp_path):
    handler, url = fake_server
    correct = RECORDS[0]["canonical_solution"]
    handler.answers = {"add": [correct, WRONG, WRONG]}
    proc = run(url, prepared, tmp_path, "sampled", "--limit", "2", "--task-arg", "jhumaneval.samples=3",
               "--task-arg", "jhumaneval.temperature=0.8")
    assert proc.returncode == 0, proc.stderr
    folder = run_dir(tmp_path, "sampled")
    task = json.loads((folder / "results.json").read_text())["tasks"]["jhumaneval"]
    assert task["protocol"] == "jhumaneval-humaneval-1/n3-t0.8+standin-data"
    assert task["n_samples"] == 6 and len(handler.asked) == 6
    assert {b["temperature"] for b in handler.asked} == {0.8}
    assert task["metrics"]["pass@1"] == pytest.approx((1 / 3 + 1) / 2)
    assert task["metrics"]["counts"]["samples_per_problem"] == 3 and "pass@10" not in task["metrics"]
    rows = lines_of(folder / "samples" / "jhumaneval.jsonl")
    assert sorted((r["key"], r["sample"]) for r in rows) == [
        ("JHumanEval/0", 0), ("JHumanEval/0#1", 1), ("JHumanEval/0#2", 2),
        ("JHumanEval/1", 0), ("JHumanEval/1#1", 1), ("JHumanEval/1#2", 2)]
    assert {(r["task_id"], r["problem_passed"], r["problem_samples"]) for r in rows} == {
        ("JHumanEval/0", 1, 3), ("JHumanEval/1", 3, 3)}
    assert len(lines_of(folder / "jhumaneval_samples.jsonl")) == 6

    again = run(url, prepared, tmp_path, "again", "--limit", "2", "--task-arg", "jhumaneval.samples=3",
                "--task-arg", "jhumaneval.temperature=0.8")
    assert again.returncode == 0 and len(handler.asked) == 6, "every sample is its own cache entry"


def test_greedy_samples_are_one_clear_error(fake_server, prepared, tmp_path):
    _, url = fake_server
    proc = run(url, prepared, tmp_path, "bad", "--task-arg", "jhumaneval.samples=4")
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert "4 samples at temperature 0" in line and "jhumaneval.temperature" in line


def test_a_malformed_data_file_is_one_error_naming_the_line(http_root, tmp_path):
    root, url = http_root
    records = [dict(r) for r in RECORDS]
    records[2]["test"] = "def verify(candidate):\n    assert candidate([1, 1]) == -1.0\n"
    serve_upstream(root, records)
    proc = jeval("data", "prepare", "jhumaneval", "--mirror", url, "--data-dir", tmp_path / "data")
    assert proc.returncode == 2
    [line] = [x for x in error_lines(proc) if x.startswith("jeval: error")]
    assert "jhuman-eval.jsonl.gz:3: JHumanEval/2: test does not define check(candidate)" in line
    assert "Traceback" not in proc.stderr and not (tmp_path / "data" / "jhumaneval").exists()
