"""The judge against the OpenAI API's protocol, with readable verdicts.

The paid OpenAI API cannot be reached from tests, so a local HTTP server stands in for it (a test
double, and only for that): it checks the bearer key, answers 429 once, reports token usage, and
grades deterministically: an answer containing 「★」 gets 9, others 3, alternating with 4 on
repeated identical prompts (judges vary even at temperature 0); pairwise, the answer that contains
「★」 wins strongly in either order. Also: CLI errors for bad input, each in one line.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections import Counter
from pathlib import Path

import pytest
from conftest import error_lines, jeval
from http_support import JsonHandler

SECRET = "sk-test-Zq81LmN0pQ"
FIXTURE_ANSWERS = Path(__file__).parent / "fixtures" / "jmt_bench" / "answers"


class FakeOpenAI:
    def __init__(self):
        self.calls: list[dict] = []
        self.keys: list[str] = []
        self.seen_prompts: Counter = Counter()
        fake = self

        class Handler(JsonHandler):
            def do_GET(self):
                self._send({"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.keys.append(self.headers.get("Authorization", ""))
                if self.headers.get("Authorization") != f"Bearer {SECRET}":
                    self._send({"error": {"message": "bad key", "type": "invalid_request_error"}}, 401)
                    return
                fake.calls.append(body)
                if len(fake.calls) == 1:
                    self._send({"error": {"message": "slow down", "type": "rate_limit"}}, 429)
                    return
                self._send({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": fake.grade(body)}}],
                            "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}})

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def grade(self, body) -> str:
        user = body["messages"][-1]["content"]
        if "アシスタントAの回答" in user or "アシスタントAとユーザー" in user:
            a_part, b_part = re.split(r"【アシスタントB", user, maxsplit=1)
            if "★" in a_part.split("アシスタントA", 1)[1] and "★" not in b_part:
                return "Aが明らかに優れています。\n[[A>>B]]"
            if "★" in b_part and "★" not in a_part.split("アシスタントA", 1)[1]:
                return "Bが明らかに優れています。\n[[B>>A]]"
            return "同等です。\n[[A=B]]"
        answered = user.rsplit("【アシスタントの回答】", 1)[-1] if "【アシスタントの回答】" in user else user
        self.seen_prompts[user] += 1
        if "★" in answered:
            return "よくできています。\n評価：[[9]]"
        return f"不十分です。\n評価：[[{3 if self.seen_prompts[user] % 2 else 4}]]"

    def close(self):
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def openai_api():
    fake = FakeOpenAI()
    yield fake
    fake.close()


@pytest.fixture
def answer_files(tmp_path):
    """Two models' FastChat answer files: one answers with 「★」 texts, one without."""
    good = [json.loads(x) for x in (FIXTURE_ANSWERS / "helper-7b.jsonl").read_text().splitlines()]
    files = {}
    for name, marker in (("good-7b", "★"), ("plain-7b", "")):
        rows = [{**r, "model_id": name,
                 "choices": [{"index": 0, "turns": [marker + t for t in r["choices"][0]["turns"]]}]}
                for r in good]
        files[name] = tmp_path / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return files


def common(openai_api, jmt_data, tmp_path):
    return ["--judge-model", "gpt-4o", "--judge-base-url", openai_api.url, "--api-key-env", "JUDGE_KEY",
            "--data-dir", str(jmt_data), "--cache", str(tmp_path / "j.sqlite"), "--output", str(tmp_path / "out")]


def all_output_text(proc, folder: Path) -> str:
    files = "".join(p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file())
    return proc.stdout + proc.stderr + files


def test_single_grading_with_readable_verdicts_repeats_and_costs(openai_api, answer_files, jmt_data, tmp_path):
    proc = jeval("judge", "single", *common(openai_api, jmt_data, tmp_path), "--answers", answer_files["plain-7b"],
                 "--answers", answer_files["good-7b"], "--repeat", "2", "--price-in", "2.5", "--price-out", "10",
                 "--concurrency", "1", "--run-id", "r", env={"JUDGE_KEY": SECRET})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(openai_api.keys) == {f"Bearer {SECRET}"}
    assert all(c["model"] == "gpt-4o" and c["temperature"] == 0.0 and c["max_tokens"] == 2048
               for c in openai_api.calls)
    results = json.loads((tmp_path / "out" / "single-gpt-4o-jeval-ja-v1" / "r" / "results.json").read_text())
    n = 2 * 5 * 2 * 2
    assert results["judgments"] == n and results["failures"] == 0
    req = results["requests"]
    assert req["sent"] == n and req["client_retries"] == 1
    assert req["tokens"] == {"prompt": 1000 * n, "completion": 100 * n}
    assert req["cost_usd"] == pytest.approx(n * (1000 * 2.5 + 100 * 10) / 1e6)
    good, plain = results["scores"]["good-7b"], results["scores"]["plain-7b"]
    assert good["overall"] == 9.0 and set(good["categories"].values()) == {9.0}
    assert plain["overall"] == 3.5 and plain["turns"] == {"1": 3.5, "2": 3.5}
    assert plain["repeats"]["overall_by_repeat"] == [3.0, 4.0]
    assert plain["repeats"]["overall"]["median"] == 3.5 and plain["repeats"]["items_with_differing_scores"] == 10
    assert list(good["radar"]["axes"]) == ["writing", "roleplay", "reasoning", "math", "coding"]
    assert "good-7b: overall 9.00" in proc.stdout and "over 2 repeats" in proc.stdout
    assert SECRET not in all_output_text(proc, tmp_path / "out")
    assert SECRET.encode() not in (tmp_path / "j.sqlite").read_bytes()

    again = jeval("judge", "single", *common(openai_api, jmt_data, tmp_path), "--answers", answer_files["plain-7b"],
                  "--answers", answer_files["good-7b"], "--repeat", "2", "--price-in", "2.5", "--price-out", "10",
                  "--run-id", "r2", env={"JUDGE_KEY": SECRET})
    assert again.returncode == 0
    second = json.loads((tmp_path / "out" / "single-gpt-4o-jeval-ja-v1" / "r2" / "results.json").read_text())
    assert second["requests"]["sent"] == 0 and second["requests"]["cost_usd"] == 0.0
    assert second["requests"]["cost_saved_by_cache_usd"] == pytest.approx(req["cost_usd"])


def test_five_level_pairwise_writes_weighted_battles_for_the_arena(openai_api, answer_files, jmt_data, tmp_path):
    proc = jeval("judge", "pairwise", *common(openai_api, jmt_data, tmp_path), "--answers", answer_files["good-7b"],
                 "--answers", answer_files["plain-7b"], "--five-level", "--run-id", "p", env={"JUDGE_KEY": SECRET})
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = tmp_path / "out" / "pairwise-gpt-4o-jeval-ja-v1" / "p"
    battles = [json.loads(x) for x in (folder / "battles.jsonl").read_text().splitlines()]
    assert len(battles) == 10
    for b in battles:
        assert (b["model_a"], b["model_b"], b["winner"], b["weight"]) == ("good-7b", "plain-7b", "model_a", 3)
        assert b["source"] == "judge" and b["anony"] is True and b["flags"] == []
        assert b["turn"] in (1, 2) and isinstance(b["question_id"], int) and isinstance(b["tstamp"], float)
    records = [json.loads(x) for x in (folder / "judgments.jsonl").read_text().splitlines()]
    assert {(r["g1_verdict"], r["g2_verdict"], r["g1_winner"], r["g2_winner"]) for r in records} == {
        ("A>>B", "B>>A", "model_1", "model_1")}
    results = json.loads((folder / "results.json").read_text())
    assert results["pairwise"]["models"]["good-7b"]["win"] == 30
    assert results["strong_weight"] == 3
    rescored = jeval("judge", "rescore", "--judgments", folder / "judgments.jsonl", "--json")
    report = json.loads(rescored.stdout)
    assert report["judgments"] == 20 and report["agree"] == 20


def test_the_openai_api_needs_its_key_variable_and_names_it(jmt_data, tmp_path, answer_files):
    proc = jeval("judge", "single", "--judge-model", "gpt-4o", "--answers", answer_files["good-7b"],
                 "--data-dir", jmt_data, "--output", tmp_path / "out", env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 2
    assert error_lines(proc) == ["jeval: error: the judge's API key is read from $OPENAI_API_KEY, which is not set"]


@pytest.mark.parametrize("case, message", [
    ("no-data", "no prepared Japanese MT-Bench data"),
    ("bad-answers", "bad.jsonl:2: not valid JSON"),
    ("unknown-question", "answer to question 999, which is not among the 5 prepared questions"),
    ("prompt-set", "unknown prompt set 'nejumi-ja'"),
    ("five-level-upstream", "prompt set 'fastchat-en' has no 'pair5-math-v1' prompt"),
    ("unreachable", "cannot reach http://127.0.0.1:9/v1"),
    ("turns", "--turns takes 1, 2 or 1,2"),
])
def test_bad_input_is_one_clear_error_line(case, message, jmt_data, tmp_path, answer_files, openai_api):
    args = ["--judge-model", "gpt-4o", "--judge-base-url", openai_api.url, "--data-dir", str(jmt_data),
            "--cache", str(tmp_path / "j.sqlite"), "--output", str(tmp_path / "out")]
    mode, answers = "single", ["--answers", str(answer_files["good-7b"])]
    if case == "no-data":
        args[args.index("--data-dir") + 1] = str(tmp_path / "empty")
    elif case == "bad-answers":
        bad = tmp_path / "bad.jsonl"
        bad.write_text(answer_files["good-7b"].read_text().splitlines()[0] + "\n{oops\n")
        answers = ["--answers", str(bad)]
    elif case == "unknown-question":
        bad = tmp_path / "q999.jsonl"
        bad.write_text(json.dumps({"question_id": 999, "model_id": "x", "choices": [{"turns": ["a", "b"]}]}) + "\n")
        answers = ["--answers", str(bad)]
    elif case == "prompt-set":
        args += ["--prompt-set", "nejumi-ja"]
    elif case == "five-level-upstream":
        mode = "pairwise"
        answers += ["--answers", str(answer_files["plain-7b"])]
        args += ["--prompt-set", "fastchat-en", "--five-level"]
    elif case == "unreachable":
        args[args.index("--judge-base-url") + 1] = "http://127.0.0.1:9/v1"
    elif case == "turns":
        args += ["--turns", "3"]
    proc = jeval("judge", mode, *args, *answers)
    assert proc.returncode == 2, proc.stdout
    [line] = error_lines(proc)
    assert line.startswith("jeval: error: ") and message in line
    assert not (tmp_path / "out").exists()
