"""End to end against real servers: the tiny checkpoint served by `transformers serve` answers
Japanese MT-Bench, the same checkpoint served a second time judges. Its verdicts are mostly (as a
rule all) unreadable: they are recorded as failures with the judge's text, the run writes its
files, and a second run sends the judge nothing. A run in which every judgment failed has no score
and ends with one error line (exit 2); one with any readable verdict exits 0 with its score marked
incomplete. Proxies in front of both servers count what is sent."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import JEVAL, Proxy, error_lines, jeval, run_files, start_jeval_serve, stop

from jeval.results import safe_name

FIXTURE_ANSWERS = Path(__file__).parent / "fixtures" / "jmt_bench" / "answers" / "helper-7b.jsonl"
N_QUESTIONS = 5


@pytest.fixture(scope="module")
def judge_server(tiny_checkpoint, tmp_path_factory):
    server = start_jeval_serve(tiny_checkpoint, tmp_path_factory.mktemp("judge-logs"))
    yield server
    stop(server.process)


def chats(proxy) -> list[dict]:
    return [r for r in proxy.seen if "messages" in r]


@pytest.fixture(scope="module")
def answered(served, jmt_data, tmp_path_factory):
    """A `jeval run --tasks jmt_bench` run folder, generated through a counting proxy."""
    proxy = Proxy(served.base_url)
    out = tmp_path_factory.mktemp("runs")
    proc = jeval("run", "--base-url", proxy.url, "--model-id", served.model_id, "--tasks", "jmt_bench",
                 "--data-dir", jmt_data, "--cache", out / "gen.sqlite", "--output", out, "--name", "tiny")
    assert proc.returncode == 0, proc.stderr[-2000:]
    [results] = run_files(out)
    yield results.parent, proxy
    proxy.close()


def judge_args(judge_server, proxy_url, data_dir, tmp_path, *answers):
    args = ["--judge-model", judge_server.model_id, "--judge-base-url", proxy_url, "--data-dir", str(data_dir),
            "--cache", str(tmp_path / "judgments.sqlite"), "--output", str(tmp_path / "judged"), "--max-tokens", "48"]
    for a in answers:
        args += ["--answers", str(a)]
    return args


def finished(proc: subprocess.CompletedProcess, folder: Path, judgments: int) -> list[dict]:
    """The run wrote its files and ended as the tiny judge's verdicts decide: exit 0 where any was
    readable, else exit 2 with one line saying every judgment failed. Its judgment records."""
    assert (folder / "results.json").exists(), proc.stderr[-2000:]
    records = [json.loads(x) for x in (folder / "judgments.jsonl").read_text().splitlines()]
    if any(r["failure"] is None for r in records):
        assert proc.returncode == 0, proc.stderr[-2000:]
    else:
        assert proc.returncode == 2, proc.stderr[-2000:]
        [line] = [line for line in error_lines(proc) if line.startswith("jeval:")]
        assert line.startswith(f"jeval: error: every one of the {judgments} judgments failed (")
        assert "Traceback" not in proc.stderr
    return records


def test_generation_writes_both_turns_in_fastchats_answer_format(answered, jmt_data):
    run_dir, proxy = answered
    sent = chats(proxy)
    assert len(sent) == 2 * N_QUESTIONS
    first, second = sent[:N_QUESTIONS], sent[N_QUESTIONS:]
    assert all(len(r["messages"]) == 1 for r in first) and all(len(r["messages"]) == 3 for r in second)
    temperature = {r["messages"][0]["content"]: r["temperature"] for r in first}
    questions = [json.loads(x) for x in (jmt_data / "jmt_bench" / "questions.jsonl").read_text().splitlines()]
    expected = {"coding": 0.0, "math": 0.0, "reasoning": 0.0, "writing": 0.7, "roleplay": 0.7}
    assert {q["turns"][0]: expected[q["category"]] for q in questions} == temperature
    assert {r["max_tokens"] for r in sent} == {1024}

    answers = [json.loads(x) for x in (run_dir / "answers" / "jmt_bench.jsonl").read_text().splitlines()]
    assert [a["question_id"] for a in answers] == [q["question_id"] for q in questions]
    assert all(a["model_id"] == "tiny" and len(a["choices"][0]["turns"]) == 2 for a in answers)
    by_first_question = {r["messages"][0]["content"]: r for r in second}
    for a, q in zip(answers, questions):
        turn2 = by_first_question[q["turns"][0]]["messages"]
        assert turn2[1] == {"role": "assistant", "content": a["choices"][0]["turns"][0]}
        assert turn2[2] == {"role": "user", "content": q["turns"][1]}
    samples = [json.loads(x) for x in (run_dir / "samples" / "jmt_bench.jsonl").read_text().splitlines()]
    assert all(s["turn"] == 2 and len(s["answers"]) == 1 for s in samples)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["tasks"]["jmt_bench"]["protocol"] == "jmt-bench-fastchat-v1+standin-data"
    assert results["tasks"]["jmt_bench"]["decoding"]["temperature"] == [0.0, 0.7]
    assert results["tasks"]["jmt_bench"]["decoding"]["greedy"] is False


def test_single_grading_records_unreadable_verdicts_and_a_second_run_sends_nothing(
        answered, judge_server, jmt_data, tmp_path, make_proxy):
    run_dir, _ = answered
    proxy = make_proxy(judge_server.base_url)
    args = ["judge", "single", *judge_args(judge_server, proxy.url, jmt_data, tmp_path, run_dir)]
    proc = jeval(*args, "--run-id", "first")
    folder = tmp_path / "judged" / f"single-{safe_name(judge_server.model_id)}-jeval-ja-v1"
    records = finished(proc, folder / "first", 2 * N_QUESTIONS)
    assert len(chats(proxy)) == 2 * N_QUESTIONS
    assert all(r["temperature"] == 0.0 and r["max_tokens"] == 48 for r in chats(proxy))

    results = json.loads((folder / "first" / "results.json").read_text())
    assert results["prompt_set"]["name"] == "jeval-ja-v1" and results["judge"]["model"] == judge_server.model_id
    assert results["judgments"] == len(records) == 2 * N_QUESTIONS
    failed = [r for r in records if r["failure"] is not None]
    assert results["failures"] == len(failed) == results["scores"]["tiny"]["failures"]
    coverage = results["scores"]["tiny"]["coverage"]
    assert (coverage["expected"], coverage["judged"], coverage["failed"]) == (2 * N_QUESTIONS, 2 * N_QUESTIONS
                                                                              - len(failed), len(failed))
    assert coverage["complete"] is (not failed)
    assert all(isinstance(r["judgment"], str) and r["score"] == -1 for r in failed)
    assert all(r["failure"] in ("empty", "no_verdict", "out_of_range", "conflicting") for r in failed)
    prompts = {(r["category"], r["turn"]): r["judge"][1] for r in records}
    assert prompts[("math", 1)] == "single-math-v1" and prompts[("writing", 1)] == "single-v1"
    assert (prompts[("reasoning", 2)] == "single-math-v1-multi-turn"
            and prompts[("roleplay", 2)] == "single-v1-multi-turn")
    answers = {json.loads(x)["question_id"]: json.loads(x) for x in
               (run_dir / "answers" / "jmt_bench.jsonl").read_text().splitlines()}
    turn2 = next(r for r in records if r["turn"] == 2 and r["question_id"] == 31)
    for text in answers[31]["choices"][0]["turns"]:
        assert text in turn2["user_prompt"]
    assert "60です。" in turn2["user_prompt"]
    assert results["requests"]["sent"] == 2 * N_QUESTIONS and results["requests"]["from_cache"] == 0
    assert results["requests"]["tokens"]["prompt"] > 0

    again = jeval(*args, "--run-id", "second")
    finished(again, folder / "second", 2 * N_QUESTIONS)
    assert again.returncode == proc.returncode
    assert len(chats(proxy)) == 2 * N_QUESTIONS
    second = json.loads((folder / "second" / "results.json").read_text())
    assert second["requests"]["sent"] == 0 and second["requests"]["from_cache"] == 2 * N_QUESTIONS
    assert second["scores"] == results["scores"]

    retried = jeval(*args, "--run-id", "third", "--retry-failures")
    finished(retried, folder / "third", 2 * N_QUESTIONS)
    assert len(chats(proxy)) == 2 * N_QUESTIONS + len(failed)
    third = json.loads((folder / "third" / "results.json").read_text())
    assert third["requests"]["retried_failures"] == len(failed)


def test_pairwise_judges_both_orders_and_writes_battles(answered, judge_server, jmt_data, tmp_path, make_proxy):
    run_dir, _ = answered
    proxy = make_proxy(judge_server.base_url)
    args = ["judge", "pairwise", *judge_args(judge_server, proxy.url, jmt_data, tmp_path, run_dir, FIXTURE_ANSWERS),
            "--turns", "1", "--run-id", "p"]
    proc = jeval(*args)
    folder = tmp_path / "judged" / f"pairwise-{safe_name(judge_server.model_id)}-jeval-ja-v1" / "p"
    records = finished(proc, folder, N_QUESTIONS)
    sent = chats(proxy)
    assert len(sent) == 2 * N_QUESTIONS
    assert len(records) == N_QUESTIONS
    for r in records:
        assert (r["model_1"], r["model_2"]) == ("tiny", "helper-7b")
        a_first = r["g1_user_prompt"].index("アシスタントAの回答")
        assert r["g1_user_prompt"] != r["g2_user_prompt"] and a_first >= 0
    battles = [json.loads(x) for x in (folder / "battles.jsonl").read_text().splitlines()]
    results = json.loads((folder / "results.json").read_text())
    assert results["pairwise"]["battles"] == len(battles)
    assert results["pairwise"]["failures"] + len(battles) == N_QUESTIONS
    assert results["pairwise"]["coverage"]["judged"] == len(battles)
    for b in battles:
        assert b["winner"] in ("model_a", "model_b", "tie") and b["source"] == "judge"
        assert {b["model_a"], b["model_b"]} == {"tiny", "helper-7b"} and isinstance(b["tstamp"], float)
    again = jeval(*args[:-1], "p2")
    assert again.returncode == proc.returncode and len(chats(proxy)) == 2 * N_QUESTIONS


def cached_rows(path: Path) -> int:
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_judging_run_resumes_without_asking_twice(answered, judge_server, jmt_data, tmp_path, make_proxy):
    run_dir, _ = answered
    proxy = make_proxy(judge_server.base_url, delay_s=0.4)
    args = ["judge", "single", *judge_args(judge_server, proxy.url, jmt_data, tmp_path, run_dir), "--concurrency", "1"]
    first = subprocess.Popen([*JEVAL, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cache = tmp_path / "judgments.sqlite"
    deadline = time.monotonic() + 120
    while cached_rows(cache) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done = cached_rows(cache)
    assert 3 <= done < 2 * N_QUESTIONS
    sent_before = len(chats(proxy))
    second = jeval(*args, "--run-id", "second")
    finished(second, tmp_path / "judged" / f"single-{safe_name(judge_server.model_id)}-jeval-ja-v1" / "second",
             2 * N_QUESTIONS)
    sent_after = len(chats(proxy)) - sent_before
    assert sent_after == 2 * N_QUESTIONS - done
    assert cached_rows(cache) == 2 * N_QUESTIONS


def test_a_judge_request_that_keeps_failing_is_a_recorded_failure_and_is_asked_again_next_run(
        answered, judge_server, jmt_data, tmp_path, make_proxy):
    run_dir, _ = answered
    proxy = make_proxy(judge_server.base_url, fail_first=3)
    args = ["judge", "single", *judge_args(judge_server, proxy.url, jmt_data, tmp_path, run_dir),
            "--concurrency", "1", "--max-retries", "1", "--turns", "1"]
    proc = jeval(*args, "--run-id", "a")
    folder = tmp_path / "judged" / f"single-{safe_name(judge_server.model_id)}-jeval-ja-v1"
    records = finished(proc, folder / "a", N_QUESTIONS)
    errors = [r for r in records if r["failure"] == "request_error"]
    assert len(errors) == 1 and "InternalServerError" in errors[0]["failure_detail"] and errors[0]["judgment"] is None
    results = json.loads((folder / "a" / "results.json").read_text())
    assert results["requests"]["request_errors"] == 1 and results["requests"]["client_retries"] == 1
    before = len(chats(proxy))
    again = jeval(*args, "--run-id", "b")
    records = finished(again, folder / "b", N_QUESTIONS)
    assert len(chats(proxy)) - before == 1
    assert not [r for r in records if r["failure"] == "request_error"]
