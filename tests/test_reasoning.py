"""Reasoning models: the thinking block is taken off before an answer is scored, kept in the
samples, and counted; requests get room to think; a task's reasoning variant is its own protocol.

The endpoint is a loopback double of a vLLM server running a reasoning model (the tiny checkpoint
the trainer makes does not think), answering every item correctly after a thinking block: a
test double, so said."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import error_lines, jeval
from http_support import JsonHandler

from jeval.errors import JevalError
from jeval.reasoning import Reasoning, answer_of, counts, separate
from jeval.task import Request

THINK = Reasoning()


def test_the_answer_is_what_follows_a_closed_block():
    found = separate("<think>\n3 + 4 は 7。\n\nよし。\n</think>\n\n7", THINK)
    assert (found.reasoning, found.answer, found.terminated) == ("3 + 4 は 7。\n\nよし。", "7", True)


def test_a_block_opened_by_the_chat_template_has_only_its_end_marker():
    found = separate("考える。</think>答えは 2", THINK)
    assert (found.reasoning, found.answer) == ("考える。", "答えは 2")


def test_an_unterminated_block_leaves_an_empty_answer_and_is_marked():
    found = separate("<think>まだ考えている 1 2 3", THINK)
    assert (found.reasoning, found.answer, found.terminated) == ("まだ考えている 1 2 3", "", False)


def test_output_without_a_block_is_the_answer_as_it_is():
    found = separate("  そのまま\n", THINK)
    assert found == separate("  そのまま\n", Reasoning("<a>", "</a>"))
    assert found.reasoning is None and found.answer == "  そのまま\n"


def test_markers_are_configurable_and_a_second_block_joins_the_thinking():
    markers = Reasoning("<|begin_of_thought|>", "<|end_of_thought|>")
    found = separate("<|begin_of_thought|>a<|end_of_thought|>\n<|begin_of_thought|>b<|end_of_thought|> B", markers)
    assert (found.reasoning, found.answer) == ("a\n\nb", "B")


def test_stop_sequences_cut_the_answer_after_the_block_not_the_thinking():
    request = Request("t", "k", "p", 8, "2", stop=("\n\n",))
    found = answer_of({"text": "<think>a\n\nb</think>\n2\n\n説明"}, request, THINK)
    assert (found.reasoning, found.answer) == ("a\n\nb", "2")
    sent = THINK.asked(request)
    assert (sent.max_tokens, sent.stop) == (8 + THINK.budget, ())


def test_thinking_separated_by_the_server_is_used_even_without_reasoning_handling():
    found = answer_of({"text": "2", "reasoning": "考えた"}, Request("t", "k", "p", 8, "2"), None)
    assert (found.reasoning, found.answer, found.by_server) == ("考えた", "2", True)


def test_token_counts_come_from_the_server_else_the_tokenizer_else_are_unknown():
    found = separate("<think>abc</think>de", THINK)
    by_server = counts(found, {"completion_tokens": 10, "reasoning_tokens": 7}, None)
    assert (by_server["reasoning_tokens"], by_server["answer_tokens"], by_server["token_counts_from"]) == \
        (7, 3, "server")
    by_tokenizer = counts(found, {"completion_tokens": 10}, len)
    assert (by_tokenizer["reasoning_tokens"], by_tokenizer["answer_tokens"]) == (3, 2)
    unknown = counts(found, {"completion_tokens": 10}, None)
    assert unknown["reasoning_tokens"] is None and (unknown["reasoning_chars"], unknown["answer_chars"]) == (3, 2)


def test_bad_markers_and_budgets_are_clear_errors():
    with pytest.raises(JevalError, match="two different"):
        Reasoning("<t>", "<t>")
    with pytest.raises(JevalError, match="0 or more"):
        Reasoning(budget=-1)


class ThinkingVllm(JsonHandler):
    """Thinks, then answers each JCommonsenseQA item with its target (followed by a blank line and
    an explanation); items whose input holds `unfinished` never close their block. With
    `separate` set, chat answers come as vLLM's reasoning parser sends them."""

    targets: ClassVar[dict[str, str]] = {}
    unfinished = ""
    separate = False
    bodies: ClassVar[list[dict]] = []

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "vllm", "root": "m",
                                                 "max_model_len": 32768}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        asked = body.get("prompt") or body["messages"][-1]["content"]
        source = max((s for s in self.targets if s in asked), key=len)
        thinking = f"問題を読む。\n\n{source[:10]}… 選択肢を比べる。"
        if self.unfinished and self.unfinished in source:
            text = f"<think>{thinking} まだ"
        else:
            text = f"<think>{thinking}</think>\n\n{self.targets[source]}\n\nなぜなら…"
        usage = {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90,
                 "completion_tokens_details": {"reasoning_tokens": 30}}
        if "messages" in body:
            message = {"role": "assistant", "content": text}
            if self.separate:
                message = {"role": "assistant", "content": self.targets[source], "reasoning_content": thinking}
            self._send({"id": "c", "object": "chat.completion", "created": 0, "model": "m", "usage": usage,
                        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
        else:
            self._send({"id": "c", "object": "text_completion", "created": 0, "model": "m", "usage": usage,
                        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}]})


def prepared_items(data: Path) -> list[dict]:
    return json.loads((data / "jcommonsenseqa" / "test.json").read_text(encoding="utf-8"))["samples"]


@pytest.fixture
def thinking_server(prepared):
    items = prepared_items(prepared)
    handler = type("Handler", (ThinkingVllm,), {"targets": {s["input"]: s["output"] for s in items},
                                                 "unfinished": items[1]["input"], "separate": False, "bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1", items
    server.shutdown()
    server.server_close()


def run(url: str, data: Path, tmp_path: Path, run_id: str, *extra: str):
    return jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "jcommonsenseqa", "--data-dir", data,
                 "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out", "--limit", "-1",
                 "--run-id", run_id, *extra)


def outputs(tmp_path: Path, run_id: str) -> tuple[dict, list[dict]]:
    folder = next((tmp_path / "out").glob(f"*/{run_id}"))
    samples = (folder / "samples" / "jcommonsenseqa.jsonl").read_text(encoding="utf-8").splitlines()
    return json.loads((folder / "results.json").read_text(encoding="utf-8")), [json.loads(x) for x in samples]


def test_a_reasoning_model_is_scored_on_the_answer_after_its_thinking(thinking_server, prepared, tmp_path):
    handler, url, items = thinking_server
    proc = run(url, prepared, tmp_path, "think", "--reasoning", "--reasoning-budget", "64")
    assert proc.returncode == 0, proc.stderr
    results, samples = outputs(tmp_path, "think")
    task = results["tasks"]["jcommonsenseqa"]
    n = len(items)
    assert task["metrics"]["exact_match"] == pytest.approx((n - 1) / n)
    finished = [s for s in samples if not s["reasoning_unterminated"]]
    assert all(s["output"] == s["target"] and "選択肢を比べる" in s["reasoning"] and
               s["raw_output"].startswith("<think>") for s in finished)
    [unfinished] = [s for s in samples if s["reasoning_unterminated"]]
    assert unfinished["output"] == "" and unfinished["exact_match"] == 0.0 and unfinished["reasoning"].endswith("まだ")
    assert all((s["reasoning_tokens"], s["answer_tokens"], s["token_counts_from"]) == (30, 10, "server")
               for s in samples)
    assert task["reasoning"] == {"start": "<think>", "end": "</think>", "budget": 64, "blocks": n, "unterminated": 1,
                                 "separated_by_server": 0, "reasoning_tokens": 30 * n, "answer_tokens": 10 * n,
                                 "token_counts_from": ["server"]}
    assert task["decoding"]["reasoning"]["budget"] == 64 and task["decoding"]["stop"] == ["\n\n"]
    output_length = json.loads((prepared / "jcommonsenseqa" / "test.json").read_text())["output_length"]
    assert {b["max_tokens"] for b in handler.bodies} == {output_length + 64}
    assert all(not b.get("stop") for b in handler.bodies), "a stop sequence would cut the thinking short"
    assert task["protocol"] == "jeval-jaster-1/reasoning+standin-data", "answers after thinking: a condition of its own"


def test_without_reasoning_handling_the_block_is_scored_as_the_answer(thinking_server, prepared, tmp_path):
    handler, url, _items = thinking_server
    proc = run(url, prepared, tmp_path, "plain")
    assert proc.returncode == 0, proc.stderr
    results, samples = outputs(tmp_path, "plain")
    assert results["tasks"]["jcommonsenseqa"]["metrics"]["exact_match"] == 0.0
    assert "reasoning" not in results["tasks"]["jcommonsenseqa"] and "reasoning" not in samples[0]
    assert all(b.get("stop") == ["\n\n"] for b in handler.bodies)


def test_the_reasoning_variant_is_zero_shot_chat_under_its_own_protocol(thinking_server, prepared, tmp_path):
    handler, url, items = thinking_server
    proc = run(url, prepared, tmp_path, "variant", "--variant", "reasoning")
    assert proc.returncode == 0, proc.stderr
    results, _samples = outputs(tmp_path, "variant")
    task = results["tasks"]["jcommonsenseqa"]
    assert task["protocol"] == "jeval-jaster-1/reasoning+standin-data" and task["shots"] == 0
    assert task["reasoning"]["blocks"] == len(items) and task["decoding"]["reasoning"]["budget"] == 8192
    assert all(len(b["messages"]) == 1 and b["messages"][0]["role"] == "user" for b in handler.bodies)
    train = json.loads((prepared / "jcommonsenseqa" / "train.json").read_text(encoding="utf-8"))["samples"]
    assert not any(t["input"] in b["messages"][0]["content"] for t in train for b in handler.bodies)

    refused = run(url, prepared, tmp_path, "shots", "--variant", "reasoning", "--shots", "2")
    [line] = [x for x in error_lines(refused) if x.startswith("jeval:")]
    assert refused.returncode != 0 and "zero-shot" in line and "--shots 2" in line


def test_thinking_sent_apart_by_the_server_is_kept_in_the_samples(thinking_server, prepared, tmp_path):
    handler, url, items = thinking_server
    handler.separate = True
    handler.unfinished = ""
    proc = run(url, prepared, tmp_path, "parser", "--variant", "chat", "--shots", "0")
    assert proc.returncode == 0, proc.stderr
    results, samples = outputs(tmp_path, "parser")
    task = results["tasks"]["jcommonsenseqa"]
    assert task["metrics"]["exact_match"] == 1.0
    assert all(s["reasoning_by_server"] and "選択肢を比べる" in s["reasoning"] for s in samples)
    assert task["reasoning"]["separated_by_server"] == len(items)
