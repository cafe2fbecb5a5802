"""`jeval run --gen-kwargs` and `--system-prompt`: the requests sent carry them, the protocol says so
(never one leaderboard column with the task's own protocol), the cache keys differ, the decoding
record keeps them, and what cannot take them is refused on one line.

The endpoint is a loopback double of an OpenAI-compatible server that records every request body
and answers each JCommonsenseQA item with its target: a test double, so said (what is under test
is what jeval sends and records, not a model)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import error_lines, jeval
from http_support import JsonHandler

from jeval.errors import JevalError
from jeval.overrides import GenKwargs, Overrides, parse_gen_kwargs, read_system_prompt
from jeval.planning import plan
from jeval.registry import load_registry
from jeval.task import Request


class RecordingServer(JsonHandler):
    targets: ClassVar[dict[str, str]] = {}
    bodies: ClassVar[list[dict]] = []

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "test", "root": "m"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        asked = body.get("prompt") or body["messages"][-1]["content"]
        text = self.targets[max((s for s in self.targets if s in asked), key=len)]
        usage = {"prompt_tokens": 20, "completion_tokens": 2, "total_tokens": 22}
        if "messages" in body:
            self._send({"id": "c", "object": "chat.completion", "created": 0, "model": "m", "usage": usage,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                     "finish_reason": "stop"}]})
        else:
            self._send({"id": "c", "object": "text_completion", "created": 0, "model": "m", "usage": usage,
                        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}]})


@pytest.fixture
def server(prepared):
    items = json.loads((prepared / "jcommonsenseqa" / "test.json").read_text(encoding="utf-8"))["samples"]
    handler = type("Handler", (RecordingServer,), {"targets": {s["input"]: s["output"] for s in items},
                                                    "bodies": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def run(url: str, data: Path, tmp_path: Path, run_id: str, *extra: str):
    return jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "jcommonsenseqa", "--data-dir", data,
                 "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out", "--limit", "3",
                 "--run-id", run_id, "--json", *extra)


def results_of(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def one_error(proc) -> str:
    [line] = error_lines(proc)
    assert proc.returncode == 2 and line.startswith("jeval:"), proc.stderr
    return line


def test_gen_kwargs_read_as_lm_eval_writes_them():
    assert parse_gen_kwargs("temperature=0.7, max_gen_toks=512,seed=3") == GenKwargs(0.7, 512, 3)
    assert parse_gen_kwargs("do_sample=false") == GenKwargs(temperature=0.0)
    assert parse_gen_kwargs("do_sample=true") == GenKwargs(temperature=1.0), "sampling at the usual temperature"
    assert parse_gen_kwargs("do_sample=true,temperature=0.5").temperature == 0.5
    assert parse_gen_kwargs("max_new_tokens=7").max_tokens == 7


@pytest.mark.parametrize(("given", "says"), [
    ("temprature=0.7", "unknown generation setting"),
    ("top_p=0.9", "do not send top_p"),
    ("temperature=hot", "not a number"),
    ("temperature=-1", "0 or more"),
    ("max_gen_toks=0", "1 or more"),
    ("max_tokens=1.5", "not a whole number"),
    ("do_sample=maybe", "true or false"),
    ("do_sample=false,temperature=0.7", "contradicts"),
    ("temperature", "KEY=VALUE"),
    ("max_tokens=5,max_gen_toks=6", "given twice"),
    ("", "empty"),
])
def test_bad_gen_kwargs_are_clear_errors(given, says):
    with pytest.raises(JevalError, match=says):
        parse_gen_kwargs(given)


def test_the_protocol_suffix_has_sorted_keys_and_leaves_the_seed_out():
    overrides = Overrides(parse_gen_kwargs("temperature=0.7,max_gen_toks=512,seed=1"))
    assert overrides.suffix() == "/gen:max_tokens=512,temperature=0.7"
    assert overrides.record() == {"gen_kwargs": {"max_tokens": 512, "temperature": 0.7, "seed": 1}}
    text = "あなたは誠実なアシスタントです。"
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert Overrides(system_prompt=text).suffix() == f"/system:{digest[:8]}"


def test_a_system_prompt_comes_first_and_joins_a_tasks_own_system_message():
    overrides = Overrides(system_prompt="S")
    chat = Request("t", "k", "p", 8, "", messages=({"role": "user", "content": "q"},))
    assert overrides.apply(chat).messages == ({"role": "system", "content": "S"}, {"role": "user", "content": "q"})
    own = Request("t", "k", "p", 8, "", messages=({"role": "system", "content": "T"}, {"role": "user", "content": "q"}))
    assert overrides.apply(own).messages[0] == {"role": "system", "content": "S\n\nT"}
    assert overrides.apply(chat).payload() != chat.payload(), "so the cache keys differ"


def test_a_system_prompt_file_is_read(tmp_path):
    (tmp_path / "system.txt").write_text("丁寧に答えてください。\n", encoding="utf-8")
    assert read_system_prompt(f"@{tmp_path / 'system.txt'}") == "丁寧に答えてください。"
    with pytest.raises(JevalError, match="cannot read"):
        read_system_prompt(f"@{tmp_path / 'missing.txt'}")


def test_gen_kwargs_reach_the_server_and_name_their_own_protocol(server, prepared, tmp_path):
    handler, url = server
    plain = results_of(run(url, prepared, tmp_path, "plain"))
    task = plain["tasks"]["jcommonsenseqa"]
    assert task["protocol"] == "jeval-jaster-1+standin-data" and "overrides" not in task["decoding"]
    default_max = {b["max_tokens"] for b in handler.bodies}
    handler.bodies.clear()

    changed = results_of(run(url, prepared, tmp_path, "changed", "--gen-kwargs",
                             "temperature=0.7,max_gen_toks=5,seed=3"))
    task = changed["tasks"]["jcommonsenseqa"]
    assert task["protocol"] == "jeval-jaster-1/gen:max_tokens=5,temperature=0.7+standin-data"
    assert len(handler.bodies) == 3, "nothing came from the cache entries of the run without them"
    assert all((b["temperature"], b["max_tokens"], b["seed"]) == (0.7, 5, 3) for b in handler.bodies)
    assert default_max != {5}
    assert task["decoding"]["overrides"] == {"gen_kwargs": {"max_tokens": 5, "temperature": 0.7, "seed": 3}}
    assert task["decoding"]["temperature"] == [0.7] and task["decoding"]["greedy"] is False
    assert changed["seed"] == 3, "seed= is the run's seed"
    columns = [{c["protocol"] for c in r["columns"] if "jcommonsenseqa" in c["tasks"]} for r in (plain, changed)]
    assert columns[0] and columns[1] and not columns[0] & columns[1], "never one leaderboard column"

    handler.bodies.clear()
    again = results_of(run(url, prepared, tmp_path, "again", "--gen-kwargs", "max_gen_toks=5,temperature=0.7,seed=3"))
    assert handler.bodies == [] and again["requests"]["from_cache"] == 3, "the same overrides, the same keys"


def test_bad_gen_kwargs_on_the_command_line_are_one_line(server, prepared, tmp_path):
    _handler, url = server
    line = one_error(run(url, prepared, tmp_path, "bad", "--gen-kwargs", "temperature=0.7,topp=0.9"))
    assert "--gen-kwargs topp: unknown generation setting" in line
    line = one_error(run(url, prepared, tmp_path, "seeds", "--gen-kwargs", "seed=1", "--seed", "2"))
    assert "disagree" in line


def test_a_system_prompt_is_the_first_message_of_chat_requests(server, prepared, tmp_path):
    handler, url = server
    (tmp_path / "system.txt").write_text("あなたは日本語の試験を受けています。", encoding="utf-8")
    text = "あなたは日本語の試験を受けています。"
    results = results_of(run(url, prepared, tmp_path, "system", "--variant", "chat", "--shots", "0",
                             "--system-prompt", f"@{tmp_path / 'system.txt'}"))
    task = results["tasks"]["jcommonsenseqa"]
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert task["protocol"].endswith(f"/system:{digest[:8]}+standin-data")
    assert task["decoding"]["overrides"] == {"system_prompt": text, "system_prompt_sha256": digest}
    assert len(handler.bodies) == 3
    assert all(b["messages"][0] == {"role": "system", "content": text} and b["messages"][1]["role"] == "user"
               for b in handler.bodies)


def test_a_system_prompt_with_completion_tasks_is_refused_naming_them(server, prepared, tmp_path):
    handler, url = server
    line = one_error(run(url, prepared, tmp_path, "refused", "--system-prompt", "S"))
    assert "chat requests only" in line and "jcommonsenseqa" in line and "--variant chat" in line
    assert handler.bodies == [], "refused before anything is asked"


def test_log_likelihood_tasks_are_left_as_they_are_and_the_run_says_so(tmp_path, caplog):
    corpus = tmp_path / "valid.jsonl"
    corpus.write_text(json.dumps({"text": "今日は良い天気です。"}, ensure_ascii=False) + "\n", encoding="utf-8")
    tasks = load_registry().resolve(["ppl"])
    with caplog.at_level(logging.WARNING, logger="jeval.planning"):
        made = plan(tasks, data_dir=tmp_path, shots=None, limit=None, variant=None,
                    args={"ppl": {"corpus": (str(corpus),)}}, overrides=Overrides(parse_gen_kwargs("temperature=1")))
    [planned] = made.tasks
    assert "/gen:" not in planned.protocol and not planned.overrides
    assert "change nothing" in caplog.text and "ppl" in caplog.text
