"""`jeval judge` beyond MT-Bench: ELYZA-tasks-100 graded 1-5 against each task's reference answer
and grading notes, Rakuda compared pairwise (verdict 1/2/3 on the last line), Japanese Vicuna QA
graded and compared the FastChat way; their battles rated by `jeval arena ratings`, their scores
on the leaderboard, subsets and a cost estimate before judging.

Answers come from real `jeval run`s against loopback chat endpoints (test doubles standing in for
two models), the judge is a loopback endpoint that grades by which model wrote an answer (a test
double for a paid judge API)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import error_lines, jeval
from http_support import JsonHandler
from test_chat_benchmarks import ELYZA_INPUTS, TASKS, write_mirror

ALPHA, BETA = "アルファの回答です。", "ベータの回答です。"


class CannedModel(JsonHandler):
    answer = ""

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "vllm"}]})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": self.answer},
                                 "finish_reason": "stop"}]})


class FakeJudge(JsonHandler):
    """Grades by the model whose answer it is shown: alpha well, beta badly."""

    grade: ClassVar[Callable[[str, str], str]]
    prompts: ClassVar[list[list[dict]]] = []

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "judge", "object": "model", "owned_by": "test"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).prompts.append(body["messages"])
        system = body["messages"][0]["content"] if len(body["messages"]) > 1 else ""
        text = type(self).grade(system, body["messages"][-1]["content"])
        self._send({"id": "j", "object": "chat.completion", "created": 0, "model": "judge",
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}]})


def grade(system: str, user: str) -> str:
    if "grade" in user:  # ELYZA's grading prompt asks for JSON
        return json.dumps({"reason": "採点しました", "grade": 4 if ALPHA in user else 2}, ensure_ascii=False)
    first, second = user.find(ALPHA), user.find(BETA)
    if first >= 0 and second >= 0:
        alpha_first = first < second
        if "[[A]]" in system:
            return "比較しました。[[A]]" if alpha_first else "比較しました。[[B]]"
        return "比較しました。\n1" if alpha_first else "比較しました。\n2"
    return "評価します。[[8]]" if ALPHA in user else "評価します。[[3]]"


def serve(handler: type[JsonHandler], **attrs) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (handler,), attrs))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Prepared data, and the run folders of two models that answered all three benchmarks."""
    root = tmp_path_factory.mktemp("judged")
    data = root / "data"
    proc = jeval("data", "prepare", *TASKS, "--mirror", write_mirror(root / "mirror"), "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    folders = []
    for name, answer in (("alpha", ALPHA), ("beta", BETA)):
        server, url = serve(CannedModel, answer=answer)
        try:
            proc = jeval("run", "--base-url", url, "--model-id", "m", "--name", name, "--tasks", ",".join(TASKS),
                         "--data-dir", data, "--cache", root / f"{name}.sqlite", "--output", root / "runs",
                         "--run-id", "r")
        finally:
            server.shutdown()
            server.server_close()
        assert proc.returncode == 0, proc.stderr
        folders.append(next((root / "runs").glob(f"{name}*/r")))
    return data, folders[0], folders[1]


@pytest.fixture
def judge_url():
    server, url = serve(FakeJudge, grade=staticmethod(grade), prompts=[])
    yield server.RequestHandlerClass, url
    server.shutdown()
    server.server_close()


def judge(mode: str, runs: tuple[Path, Path, Path], url: str, out: Path, *extra: str):
    data, alpha, beta = runs
    return jeval("judge", mode, "--answers", alpha, "--answers", beta, "--judge-model", "judge",
                 "--judge-base-url", url, "--data-dir", data, "--cache", out / "judge.sqlite",
                 "--output", out / "judged", "--run-id", "j", "--max-retries", "0", *extra)


def results_of(out: Path, folder: str) -> tuple[dict, list[dict]]:
    run = out / "judged" / folder / "j"
    records = [json.loads(x) for x in (run / "judgments.jsonl").read_text(encoding="utf-8").splitlines()]
    return json.loads((run / "results.json").read_text(encoding="utf-8")), records


def test_elyza_tasks_are_graded_1_to_5_against_their_reference_and_grading_notes(runs, judge_url, tmp_path):
    _handler, url = judge_url
    proc = judge("single", runs, url, tmp_path, "--benchmark", "elyza_tasks_100")
    assert proc.returncode == 0, proc.stderr
    results, records = results_of(tmp_path, "elyza_tasks_100-single-judge-elyza-autoeval")
    assert results["benchmark"] == {"task": "elyza_tasks_100", "title": "ELYZA-tasks-100", "scale": [1.0, 5.0]}
    assert {m: s["overall"] for m, s in results["scores"].items()} == {"alpha": 4.0, "beta": 2.0}
    assert all(s["coverage"]["complete"] for s in results["scores"].values())
    assert len(records) == 2 * len(ELYZA_INPUTS) and all(r["scale"] == [1.0, 5.0] for r in records)
    shown = records[0]["user_prompt"]
    assert "朝は雨だったが午後は晴れて散歩できた。" in shown, "the task's reference answer is shown"
    assert "雨から晴れへの変化がなければ2点減点" in shown, "the task's own grading notes are shown"
    assert "{" not in shown.replace('{"reason"', ""), "every placeholder was filled"

    rescored = json.loads(jeval("judge", "rescore", "--judgments", tmp_path / "judged" /
                                "elyza_tasks_100-single-judge-elyza-autoeval" / "j" / "judgments.jsonl",
                                "--json").stdout)
    assert (rescored["parsed"], rescored["agree"], rescored["disagree"]) == (6, 6, 0)
    assert rescored["models"]["alpha"]["parsed_mean"] == 4.0 and rescored["models"]["beta"]["stored_mean"] == 2.0

    board = jeval("leaderboard", tmp_path / "judged", "--columns", "elyza")
    assert board.returncode == 0, board.stderr
    rows = {line.split("|")[1].strip(): line for line in board.stdout.splitlines() if line.startswith("| ")}
    assert "ELYZA-tasks-100" in board.stdout.splitlines()[0]
    assert "80.00" in rows["alpha"] and "40.00" in rows["beta"]
    assert "ELYZA-tasks-100's 1–5 ×20" in board.stdout


def test_rakuda_is_compared_in_both_orders_and_its_battles_rate_the_models(runs, judge_url, tmp_path):
    handler, url = judge_url
    proc = judge("pairwise", runs, url, tmp_path, "--benchmark", "rakuda")
    assert proc.returncode == 0, proc.stderr
    results, records = results_of(tmp_path, "rakuda-pairwise-judge-rakuda")
    assert results["pairwise"]["models"]["alpha"]["win"] == 3 and results["pairwise"]["inconsistent"] == 0
    assert {(r["g1_winner"], r["g2_winner"]) for r in records} == {("model_1", "model_1")}
    assert all(isinstance(r["question_id"], str) for r in records), "Rakuda's ids stay strings"
    assert all("[回答1]" in m[-1]["content"] for m in handler.prompts)

    battles = tmp_path / "judged" / "rakuda-pairwise-judge-rakuda" / "j" / "battles.jsonl"
    rated = jeval("arena", "ratings", "--battles", battles, "--format", "json", "--bootstrap", "20")
    assert rated.returncode == 0, rated.stderr
    order = [m["model"] for m in json.loads(rated.stdout)["models"]]
    assert order == ["alpha", "beta"]


def test_japanese_vicuna_qa_is_graded_with_references_for_math_and_coding(runs, judge_url, tmp_path):
    _handler, url = judge_url
    proc = judge("single", runs, url, tmp_path, "--benchmark", "ja_vicuna_qa")
    assert proc.returncode == 0, proc.stderr
    results, records = results_of(tmp_path, "ja_vicuna_qa-single-judge-ja-vicuna-qa")
    assert {m: s["overall"] for m, s in results["scores"].items()} == {"alpha": 8.0, "beta": 3.0}
    with_reference = {r["question_id"] for r in records if r["judge"][1] == "single-math"}
    assert with_reference == {3, 4}, "coding and math are graded against the reference answers"
    assert "x = 5 です。" in next(r["user_prompt"] for r in records if r["question_id"] == 4)


def test_a_subset_is_judged_on_request_and_a_dry_run_only_estimates(runs, judge_url, tmp_path):
    handler, url = judge_url
    dry = judge("single", runs, url, tmp_path, "--benchmark", "ja_vicuna_qa", "--dry-run", "--price-in", "10",
                "--price-out", "30")
    assert dry.returncode == 0 and handler.prompts == [] and not (tmp_path / "judged").exists()
    assert re.fullmatch(r"judging 8 items: 0 from the cache, 8 to send, about [\d,]+ prompt tokens and up to "
                        r"16,384 answer tokens, at most \$[\d.]+\n", dry.stdout)

    proc = judge("single", runs, url, tmp_path, "--benchmark", "ja_vicuna_qa", "--questions", "2,4")
    assert proc.returncode == 0, proc.stderr
    results, records = results_of(tmp_path, "ja_vicuna_qa-single-judge-ja-vicuna-qa")
    assert sorted({r["question_id"] for r in records}) == [2, 4] and results["questions_judged"] == [2, 4]
    assert not any(s["coverage"]["complete"] for s in results["scores"].values()), "a subset is not the benchmark"
    assert all(s["coverage"]["judged"] == 2 and s["coverage"]["expected"] == 4 for s in results["scores"].values())

    again = judge("single", runs, url, tmp_path, "--benchmark", "ja_vicuna_qa", "--limit", "2", "--run-id", "k",
                  "--dry-run")
    assert "judging 4 items: 2 from the cache, 2 to send" in again.stdout


def test_a_run_folder_with_several_benchmarks_needs_one_named(runs, judge_url, tmp_path):
    _, url = judge_url
    proc = judge("single", runs, url, tmp_path)
    assert proc.returncode == 2
    assert "several benchmarks (elyza_tasks_100, ja_vicuna_qa, rakuda); choose one with --benchmark" in \
        error_lines(proc)[-1]
    refused = judge("single", runs, url, tmp_path, "--benchmark", "rakuda")
    assert refused.returncode == 2 and "Rakuda is graded pairwise only, not single" in error_lines(refused)[-1]
    unknown = judge("single", runs, url, tmp_path, "--benchmark", "ja_vicuna_qa", "--questions", "99")
    assert unknown.returncode == 2 and "--questions: 99 not among the 4 prepared questions" in error_lines(unknown)[-1]


RAKUDA_REVIEWS = [
    {"review_id": f"r{i}", "question_id": q, "model1_id": a, "model2_id": b, "text": text, "score": score,
     "reviewer_id": "gpt-4", "metadata": {}}
    for i, (q, a, b, text, score) in enumerate([
        ("q1", "x", "y", "xの方が正確です。\n1", 1), ("q1", "y", "x", "後者が良い。\n評価: 2", 2),
        ("q2", "x", "z", "どちらも選べません。\n3", 3), ("q2", "y", "z", "yが優れていると判断します。", 1),
        ("q3", "z", "y", "zの勝ち。\n1", 1), ("q3", "x", "y", "xの勝ち。\n1", 1),
    ])
]


def test_rakuda_reviews_are_battles_and_are_rescored_per_model(tmp_path):
    reviews = tmp_path / "reviews_rakuda.jsonl"
    reviews.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RAKUDA_REVIEWS), encoding="utf-8")
    rated = jeval("arena", "ratings", "--battles", reviews, "--format", "json", "--bootstrap", "20")
    assert rated.returncode == 0, rated.stderr
    ratings = json.loads(rated.stdout)
    assert ratings["battles"] == 6 and ratings["models"][0]["model"] == "x"

    report = json.loads(jeval("judge", "rescore", "--judgments", reviews, "--json").stdout)
    assert (report["parsed"], report["agree"], report["failure_reasons"]) == (5, 5, {"no_verdict": 1})
    assert report["models"]["x"]["stored"] == {"win": 3, "tie": 1}
    assert report["models"]["y"]["stored"] == {"loss": 4, "win": 1}
