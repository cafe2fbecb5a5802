"""`jeval run --gen-kwargs` and `--system-prompt`: the requests sent carry them, the protocol says so
(never one leaderboard column with the task's own protocol), the cache keys differ (and a run
without them keeps the keys runs stored before they existed), the decoding record keeps them, the
sampling settings reach the engine (the in-process model's generate(), a server's request body,
lm-eval's bridged tasks), and what cannot take them is refused on one line.

The endpoint of the request-body tests is a loopback double of an OpenAI-compatible server that
records every request body and answers each JCommonsenseQA item with its target: a test double,
so said (what is under test is what jeval sends and records, not a model). The behaviour tests run
the tiny checkpoint in process."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sqlite3
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import error_lines, jeval, run_files
from http_support import JsonHandler
from lmeval_support import OFFLINE

from jeval.cache import cache_key
from jeval.errors import JevalError
from jeval.identity import ModelIdentity
from jeval.overrides import GenKwargs, Overrides, check_engine, parse_gen_kwargs, read_system_prompt
from jeval.planning import plan
from jeval.registry import load_registry
from jeval.task import SAMPLING, Request

ITEMS = Path(__file__).parent / "fixtures" / "lmeval_any" / "items.jsonl"
TINY_GEN = """task: tiny_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {items}
test_split: test
doc_to_text: "問題：{{question}}\\n答え："
output_type: generate_until
doc_to_target: "{{answer}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
metric_list:
  - metric: exact_match
"""
"""An lm-eval generation task over a fixture file (lm-eval's `json` loader: no network); greedy,
answers cut at a newline or 8 tokens."""
EVERY_SETTING = ("temperature=0.7,top_p=0.9,top_k=40,min_p=0.05,repetition_penalty=1.1,presence_penalty=0.2,"
                 "frequency_penalty=-0.3")


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
    every = parse_gen_kwargs(EVERY_SETTING)
    assert every.sampling() == {"top_p": 0.9, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1,
                                "presence_penalty": 0.2, "frequency_penalty": -0.3}
    assert isinstance(every.top_k, int)
    assert parse_gen_kwargs("do_sample=true,top_k=0").top_k == 0, "0: no limit, as vLLM and transformers read it"
    assert parse_gen_kwargs("repetition_penalty=1.2").sampling() == {"repetition_penalty": 1.2}, "penalties act greedy"


@pytest.mark.parametrize(("given", "says"), [
    ("temprature=0.7", "unknown generation setting"),
    ("top_p=0", r"top_p=0: must be a finite number, in \(0, 1\]"),
    ("top_p=1.5", r"in \(0, 1\]"),
    ("top_k=-1", "must be 0 or more"),
    ("top_k=1.5", "not a whole number"),
    ("min_p=2", r"in \[0, 1\]"),
    ("repetition_penalty=0", "above 0"),
    ("presence_penalty=2.5", r"in \[-2, 2\]"),
    ("frequency_penalty=nan", r"in \[-2, 2\]"),
    ("do_sample=false,top_p=0.9", "top_p only narrows what sampling draws from"),
    ("temperature=0,top_k=5,min_p=0.1", "top_k, min_p only narrow what sampling draws from"),
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
    every = Overrides(parse_gen_kwargs(EVERY_SETTING + ",seed=2"))
    assert every.suffix() == ("/gen:frequency_penalty=-0.3,min_p=0.05,presence_penalty=0.2,repetition_penalty=1.1,"
                              "temperature=0.7,top_k=40,top_p=0.9")
    assert GenKwargs.from_record(every.record()["gen_kwargs"]) == every.gen, "the record reads back"
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


IDENTITY = ModelIdentity("m", "sha256:" + "ab" * 32, "weights", "transformers", "transformers 5.23.0, torch 2.13.0",
                         {"device": "cpu", "dtype": "float32"})


@pytest.mark.parametrize(("asked", "seed", "stored"), [
    (dict(task="t", key="1", prompt="問題：1たす1は？\n答え：", max_tokens=8, target="2", stop=("\n",)), None,
     "06516abf19d9aa489d5a38809baf553d9001e661e78db89bc98199c523d5a33e"),
    (dict(task="t", key="1", prompt="問題：1たす1は？\n答え：", max_tokens=8, target="2", stop=("\n",)), 5,
     "06516abf19d9aa489d5a38809baf553d9001e661e78db89bc98199c523d5a33e"),
    (dict(task="t", key="2", prompt="q", max_tokens=16, target="",
          messages=({"role": "user", "content": "こんにちは"},)),
     None, "882071370b73b87ed3c8d286f9bfb5f69c32f894d20b31ba2e53283019071274"),
    (dict(task="t", key="3", prompt="p", max_tokens=32, target="", temperature=0.7, sample=2), 5,
     "c933a8f81c487b486848b6a1a0a93a6a185020f8dff8608b716f54cabba3f3f2"),
])
def test_a_request_without_sampling_settings_keeps_the_cache_key_runs_stored_before_they_existed(asked, seed, stored):
    """The keys were computed by jeval before requests could carry sampling settings (commit
    b1cddb0): greedy and sampled runs without them meet the cache entries those runs stored."""
    request = Request(**asked)
    assert not set(SAMPLING) & set(request.payload(seed))
    assert cache_key(IDENTITY, request.payload(seed)) == stored


def test_sampling_settings_go_into_the_payload_and_narrowing_ones_need_a_sampled_request():
    plain = Request("t", "k", "p", 8, "")
    asked = Overrides(parse_gen_kwargs("temperature=0.7,top_k=5,repetition_penalty=1.2")).apply(plain)
    assert asked.payload() == {**plain.payload(), "temperature": 0.7, "top_k": 5, "repetition_penalty": 1.2}
    assert cache_key(IDENTITY, asked.payload()) != cache_key(IDENTITY, plain.payload())
    greedy_penalty = Overrides(parse_gen_kwargs("repetition_penalty=1.2")).apply(plain)
    assert greedy_penalty.payload() == {**plain.payload(), "repetition_penalty": 1.2}, "a penalty acts when greedy too"
    narrowing = Overrides(parse_gen_kwargs("top_p=0.9,repetition_penalty=1.2"))
    with pytest.raises(JevalError, match="top_p only narrows what sampling draws from, and jsquad decodes greedily"):
        narrowing.apply_all([Request("jsquad", "k", "p", 8, ""), Request("jsquad", "j", "q", 8, "")])
    mixed = narrowing.apply_all([Request("jmt_bench", "math", "p", 8, ""),
                                 Request("jmt_bench", "writing", "p", 8, "", temperature=0.7)])
    assert mixed[0].payload() == {**plain.payload(), "repetition_penalty": 1.2}, "a no-op left off a greedy request"
    assert mixed[1].sampling == {"top_p": 0.9, "repetition_penalty": 1.2}, "the task's own sampling takes it"


def test_a_dialogues_later_turns_are_asked_with_the_first_turns_settings():
    [task] = load_registry().resolve(["jmt_bench"])
    first = Overrides(parse_gen_kwargs("temperature=0.7,top_p=0.9,max_gen_toks=64")).apply(
        Request("jmt_bench", "81", "q1", 1024, "", metadata={"turns": ["q1", "q2"], "turn": 1},
                messages=({"role": "user", "content": "q1"},)))
    second = task.follow_up(first, "a1")
    assert second is not None and second.messages[-1] == {"role": "user", "content": "q2"}
    assert (second.temperature, second.max_tokens, second.sampling) == (0.7, 64, {"top_p": 0.9})


def test_for_lm_eval_a_temperature_brings_its_do_sample_and_the_length_is_max_gen_toks():
    assert parse_gen_kwargs("temperature=0.7,max_gen_toks=64,top_p=0.9,seed=1").lm_eval() == {
        "temperature": 0.7, "do_sample": True, "max_gen_toks": 64, "top_p": 0.9}
    assert parse_gen_kwargs("do_sample=false").lm_eval() == {"temperature": 0.0, "do_sample": False}
    assert parse_gen_kwargs("repetition_penalty=1.3").lm_eval() == {"repetition_penalty": 1.3}, \
        "do_sample, until and max_gen_toks stay the task's own"


@pytest.mark.parametrize(("kwargs", "until", "max_tokens", "temperature", "sampling"), [
    ({"until": "\n", "max_gen_toks": 8}, ["\n"], 8, 0.0, {}),
    ({}, [], 256, 0.0, {}),  # lm-eval's own default length
    ({"until": ["\n"], "do_sample": False, "num_beams": 1, "max_new_tokens": 150}, ["\n"], 150, 0.0, {}),
    ({"max_tokens": 40, "max_new_tokens": 30}, [], 30, 0.0, {}),  # lm-eval's order among the aliases
    ({"max_gen_toks": 32, "temperature": 1, "do_sample": False}, [], 32, 0.0, {}),  # LongBench: greedy
    ({"temperature": 0.5, "top_p": 0.95}, [], 256, 0.5, {"top_p": 0.95}),  # no do_sample: lm-eval samples
    ({"do_sample": True, "temperature": 0.2, "top_p": 0.95}, [], 256, 0.2, {"top_p": 0.95}),
    ({"top_p": 0.9}, [], 256, 0.0, {}),  # greedy: narrowing settings are no-ops and left out
])
def test_an_lm_eval_tasks_generation_kwargs_are_read_as_lm_evals_models_read_them(kwargs, until, max_tokens,
                                                                                    temperature, sampling):
    from jeval.tasks.japanese_leaderboard.bridge import Decoding, decoding_of

    assert decoding_of(kwargs, "lm-eval:t") == Decoding(until, max_tokens, temperature, sampling)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"num_beams": 4}, "num_beams=4"),
    ({"max_length": 512}, "max_length=512"),
    ({"until": ["\n"], "length_penalty": 0.5, "num_beams": 2}, "length_penalty=0.5, num_beams=2"),
])
def test_generation_kwargs_the_bridge_would_not_apply_are_refused_naming_the_task(kwargs, says):
    from jeval.tasks.japanese_leaderboard.bridge import decoding_of

    with pytest.raises(JevalError, match="lm-eval:t: its generation_kwargs ask for ") as e:
        decoding_of(kwargs, "lm-eval:t")
    assert says in str(e.value) and "cannot apply" in str(e.value)


@pytest.mark.parametrize(("engine", "given", "says"), [
    ("transformers-serve", "temperature=0.7,top_k=5", "top_k (`transformers serve` answers 422 to it"),
    ("transformers-serve", "temperature=0.7,min_p=0.1,repetition_penalty=1.1", "min_p (`transformers serve`"),
    ("transformers-serve", "presence_penalty=0.5", "presence_penalty (`transformers serve` ignores it)"),
    ("transformers-serve", "frequency_penalty=0.5", "reads it as repetition_penalty=1+value"),
    ("transformers", "presence_penalty=0.5,frequency_penalty=0.1",
     "presence_penalty (transformers' generate() has no such setting); frequency_penalty"),
])
def test_a_setting_the_engine_would_not_apply_is_refused_naming_it(engine, given, says):
    with pytest.raises(JevalError) as refused:
        check_engine(Overrides(parse_gen_kwargs(given)), engine)
    assert says in str(refused.value) and f"the {engine} engine cannot apply" in str(refused.value)


def test_engines_that_apply_a_setting_take_it():
    check_engine(Overrides(parse_gen_kwargs("temperature=0.7,top_p=0.9")), "transformers-serve")
    check_engine(Overrides(parse_gen_kwargs("temperature=0.7,top_k=3,min_p=0.1,repetition_penalty=1.1")),
                 "transformers")
    for engine in ("vllm", "vllm-offline", "openai-compatible"):
        check_engine(Overrides(parse_gen_kwargs(EVERY_SETTING)), engine)


def test_every_sampling_setting_reaches_the_request_body(server, prepared, tmp_path):
    handler, url = server
    results_of(run(url, prepared, tmp_path, "plain"))
    assert handler.bodies and all(not set(SAMPLING) & set(b) for b in handler.bodies), "a run without them sends none"
    handler.bodies.clear()

    changed = results_of(run(url, prepared, tmp_path, "every", "--gen-kwargs", EVERY_SETTING))
    task = changed["tasks"]["jcommonsenseqa"]
    assert task["protocol"] == ("jeval-jaster-1/gen:frequency_penalty=-0.3,min_p=0.05,presence_penalty=0.2,"
                                "repetition_penalty=1.1,temperature=0.7,top_k=40,top_p=0.9+standin-data")
    expected = {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1,
                "presence_penalty": 0.2, "frequency_penalty": -0.3}
    assert len(handler.bodies) == 3
    assert all({k: b.get(k) for k in expected} == expected for b in handler.bodies), handler.bodies[0]
    assert task["decoding"]["overrides"] == {"gen_kwargs": expected}

    handler.bodies.clear()
    again = results_of(run(url, prepared, tmp_path, "again", "--gen-kwargs", EVERY_SETTING))
    assert handler.bodies == [] and again["requests"]["from_cache"] == 3


def test_a_setting_the_engine_cannot_apply_is_refused_before_anything_starts(prepared, tiny_checkpoint, tmp_path):
    common = ("run", "--model", tiny_checkpoint, "--tasks", "jcommonsenseqa", "--data-dir", prepared,
              "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out")
    line = one_error(jeval(*common, "--gen-kwargs", "temperature=0.7,top_k=5"))
    assert "top_k (`transformers serve` answers 422 to it" in line and "transformers-serve engine" in line
    line = one_error(jeval(*common, "--backend", "local", "--gen-kwargs", "frequency_penalty=0.5"))
    assert "frequency_penalty (transformers' generate() has no such setting)" in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache.sqlite").exists(), "nothing started"


def sample_rows(output: Path, run_id: str, task: str) -> list[dict]:
    [path] = [p for p in run_files(output, f"samples/{task}.jsonl") if p.parts[-3] == run_id]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_top_k_1_at_temperature_1_answers_as_greedy_decoding_in_process(prepared, tiny_checkpoint, tmp_path):
    def local(run_id: str, given: str) -> tuple[dict, list[str]]:
        results = results_of(jeval("run", "--model", tiny_checkpoint, "--backend", "local", "--tasks",
                                   "jcommonsenseqa", "--data-dir", prepared, "--cache", tmp_path / "cache.sqlite",
                                   "--output", tmp_path / "out", "--limit", "3", "--run-id", run_id, "--json",
                                   "--gen-kwargs", given))
        return results, [r["output"] for r in sample_rows(tmp_path / "out", run_id, "jcommonsenseqa")]

    _, greedy = local("greedy", "max_gen_toks=16")
    top1, answers = local("top1", "temperature=1.0,top_k=1,max_gen_toks=16")
    assert top1["requests"]["sent"] == 3, "asked anew, not answered from the greedy run's entries"
    assert top1["tasks"]["jcommonsenseqa"]["protocol"].startswith("jeval-jaster-1/gen:max_tokens=16,temperature=1,"
                                                                    "top_k=1")
    assert answers == greedy and any(answers)


def test_sampling_settings_reach_generate_in_process(tiny_checkpoint):
    """top_k=1 (and min_p=1) at temperature 1 answer as greedy decoding does, while temperature 1
    alone, from the same torch seed, does not: the settings reached generate(). A repetition
    penalty changes greedy answers; a presence penalty, which generate() lacks, is refused."""
    import torch

    from jeval.models.inprocess import LocalSettings
    from jeval.models.local import LocalModel

    model = LocalModel(tiny_checkpoint, LocalSettings(threads=1))
    prompts = ["今日は", "日本の首都は", "問題：1たす1は？\n答え：", "猫が"]

    def answers(temperature: float = 0.0, **sampling: float) -> list[str]:
        torch.manual_seed(0)

        async def all_of() -> list[str]:
            found = await asyncio.gather(*(model.complete(p, max_tokens=16, temperature=temperature,
                                                          sampling=sampling or None) for p in prompts))
            return [c.text for c in found]

        return asyncio.run(all_of())

    try:
        greedy = answers()
        assert answers(1.0, top_k=1) == greedy
        assert answers(1.0, min_p=1.0) == greedy
        assert answers(1.0) != greedy, "sampling at temperature 1 draws other answers"
        assert answers(repetition_penalty=1.8) != greedy
        with pytest.raises(JevalError, match="presence_penalty: the in-process transformers engine cannot apply it"):
            asyncio.run(model.complete("今日は", max_tokens=4, sampling={"presence_penalty": 0.5}))
    finally:
        asyncio.run(model.aclose())


def test_in_process_sampling_leaves_out_what_the_request_and_checkpoint_leave_out(tiny_checkpoint):
    """As vLLM takes them: settings a request leaves out come from the checkpoint's generation
    config (the tiny checkpoint's: top_p 0.95, no top_k), never from transformers' library default
    (top_k 50). The real generate() runs; a wrapper records the configuration it resolves."""
    from jeval.models.inprocess import LocalSettings
    from jeval.models.local import LocalModel

    model = LocalModel(tiny_checkpoint, LocalSettings(threads=1))
    resolved = []
    real = model.model.generate

    def recording(*args, **kwargs):
        asked = {k: v for k, v in kwargs.items() if k in ("do_sample", "temperature", "top_k", "top_p")}
        config, _ = model.model._prepare_generation_config(None, **asked)
        resolved.append((config.top_k, config.top_p))
        return real(*args, **kwargs)

    model.model.generate = recording
    try:
        asyncio.run(model.complete("今日は", max_tokens=4, temperature=0.7))
        asyncio.run(model.complete("今日は", max_tokens=4, temperature=0.7, sampling={"top_k": 5}))
    finally:
        asyncio.run(model.aclose())
    assert resolved == [(0, 0.95), (5, 0.95)]


@pytest.fixture(scope="module")
def include(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lm-eval-configs")
    (folder / "tiny_gen.yaml").write_text(TINY_GEN.replace("{items}", str(ITEMS)), encoding="utf-8")
    repeated = TINY_GEN.replace("task: tiny_gen", "task: tiny_repeats").replace(
        "  max_gen_toks: 8\n", "  max_gen_toks: 4\n  do_sample: true\n  temperature: 1.0\nrepeats: 3\n")
    (folder / "tiny_repeats.yaml").write_text(repeated.replace("{items}", str(ITEMS)), encoding="utf-8")
    beams = TINY_GEN.replace("task: tiny_gen", "task: tiny_beams").replace("  max_gen_toks: 8\n",
                                                                          "  max_new_tokens: 3\n  num_beams: 4\n")
    (folder / "tiny_beams.yaml").write_text(beams.replace("{items}", str(ITEMS)), encoding="utf-8")
    return folder


def bridged(tmp: Path, include: Path, checkpoint: Path, run_id: str, *extra: str):
    return jeval("run", "--model", checkpoint, "--backend", "local", "--tasks", "lm-eval:tiny_gen",
                 "--lm-eval-include", include, "--cache", tmp / "cache.sqlite", "--output", tmp / "out",
                 "--run-id", run_id, "--json", *extra, env=OFFLINE, cwd=tmp)


def last_error(proc) -> str:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return error_lines(proc)[-1]


def test_lm_eval_generation_tasks_take_gen_kwargs_over_their_own(include, tiny_checkpoint, tmp_path):
    from jeval.models.inprocess import LocalSettings
    from jeval.models.local import LocalModel

    plain = results_of(bridged(tmp_path, include, tiny_checkpoint, "plain"))["tasks"]["lm-eval:tiny_gen"]
    assert plain["protocol"] == "lm-eval-0.4.13/tiny_gen" and "overrides" not in plain["decoding"]

    results = results_of(bridged(tmp_path, include, tiny_checkpoint, "top1", "--gen-kwargs",
                                 "temperature=1.0,top_k=1,max_gen_toks=6,seed=4"))
    task = results["tasks"]["lm-eval:tiny_gen"]
    assert task["protocol"] == "lm-eval-0.4.13/tiny_gen/gen:max_tokens=6,temperature=1,top_k=1"
    assert task["decoding"]["overrides"] == {"gen_kwargs": {"max_tokens": 6, "temperature": 1.0, "top_k": 1,
                                                            "seed": 4}}
    assert task["decoding"]["tiny_gen"]["generation_kwargs"] == {
        "until": ["\n"], "max_gen_toks": 6, "temperature": 1.0, "do_sample": True, "top_k": 1}, "the task's until kept"

    rows = sample_rows(tmp_path / "out", "top1", "lm-eval:tiny_gen")
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size=1, threads=1))
    try:
        for row in rows:
            expected = asyncio.run(model.complete(row["prompt"], max_tokens=6, stop=["\n"])).text
            assert row["resps"] == [[expected]], "top_k=1 answers as greedy decoding does"
    finally:
        asyncio.run(model.aclose())

    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        asked = [json.loads(r) for (r,) in db.execute("SELECT request FROM generations")]
    greedy, sampled = [r for r in asked if r["temperature"] == 0], [r for r in asked if r["temperature"] > 0]
    assert len(greedy) == len(sampled) == 4
    assert all(set(r) == {"kind", "prompt", "max_tokens", "temperature", "stop"} for r in greedy), \
        "a run without them sends what it always sent"
    assert all((r["top_k"], r["seed"], r["max_tokens"], r["stop"]) == (1, 4, 6, ["\n"]) for r in sampled)


def test_narrowing_a_greedy_lm_eval_task_or_giving_it_a_system_prompt_is_refused(include, tiny_checkpoint,
                                                                                   tmp_path):
    line = last_error(bridged(tmp_path, include, tiny_checkpoint, "narrow", "--gen-kwargs", "top_k=5"))
    assert "top_k only narrows what sampling draws from, and lm-eval:tiny_gen decodes greedily" in line
    line = last_error(bridged(tmp_path, include, tiny_checkpoint, "system", "--system-prompt", "S"))
    assert "--system-prompt cannot reach lm-eval's bridged generation tasks (lm-eval:tiny_gen" in line


def test_an_lm_eval_task_asking_for_beam_search_is_refused_in_one_line(include, tiny_checkpoint, tmp_path):
    proc = jeval("run", "--model", tiny_checkpoint, "--backend", "local", "--tasks", "lm-eval:tiny_beams",
                 "--lm-eval-include", include, "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out",
                 env=OFFLINE, cwd=tmp_path)
    assert "lm-eval:tiny_beams: its generation_kwargs ask for num_beams=4" in last_error(proc)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("results.json"))


def test_an_lm_eval_tasks_repeated_samples_are_drawn_and_cached_apart(include, tiny_checkpoint, tmp_path):
    """lm-eval hands a request over once per repeat (pass@k); sampled repeats are told apart by their
    index, and their seeds follow the run's, as jeval's own tasks' samples are."""
    proc = jeval("run", "--model", tiny_checkpoint, "--backend", "local", "--tasks", "lm-eval:tiny_repeats",
                 "--lm-eval-include", include, "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out",
                 "--seed", "5", "--json", env=OFFLINE, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with sqlite3.connect(tmp_path / "cache.sqlite") as db:
        asked = [json.loads(r) for (r,) in db.execute("SELECT request FROM generations")]
    prompts = {r["prompt"] for r in asked}
    assert len(asked) == 3 * len(prompts) and prompts
    for prompt in prompts:
        mine = sorted((r.get("sample", 0), r["seed"]) for r in asked if r["prompt"] == prompt)
        assert mine == [(0, 5), (1, 6), (2, 7)]
