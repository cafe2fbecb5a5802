"""No silent wrong scores and no dead ends: what a run does with items a server refuses, prompts
longer than the model's context, replies that are not completions, prepared data edited after it
was prepared, and downloads that are not the file they claim to be.

The endpoints here are loopback doubles of a vLLM server: `transformers serve` (the real server
these tests can start) neither refuses over-long prompts with HTTP 400 nor sends HTML, so what
vLLM and a misconfigured proxy answer is played by a small handler (say so: a test double)."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import SAMPLES, error_lines, jeval
from http_support import JsonHandler

REFUSED = "釘を打つ"
"""Prompts containing this are refused with HTTP 400, as vLLM refuses a prompt over its context."""


class FakeVllm(JsonHandler):
    """Answers "1" to every completion, except HTTP 400 for prompts holding REFUSED (vLLM's message),
    or for every prompt with `refuse_all`; with `html` set, every completion gets a login page."""

    html = False
    refuse_all = False
    asked: ClassVar[list[str]] = []

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "vllm", "root": "m",
                                                 "max_model_len": 2048}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body.get("prompt", "")
        type(self).asked.append(prompt)
        if type(self).html:
            self._send_bytes(b"<!DOCTYPE html><html><body>Please sign in</body></html>", "text/html")
        elif REFUSED in prompt or type(self).refuse_all:
            self._send({"object": "error", "message": "This model's maximum context length is 2048 tokens. However, "
                        "you requested 2300 tokens (2299 in the messages, 1 in the completion).",
                        "type": "BadRequestError", "code": 400}, status=400)
        else:
            self._send({"id": "c", "object": "text_completion", "created": 0, "model": "m",
                        "choices": [{"index": 0, "text": "1", "finish_reason": "stop", "logprobs": None}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})


@pytest.fixture
def fake_vllm():
    handler = type("Handler", (FakeVllm,), {"html": False, "refuse_all": False, "asked": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def run(url: str, data: Path, tmp_path: Path, *extra: str):
    return jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "jcommonsenseqa", "--data-dir", data,
                 "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out", "--limit", "-1", *extra)


def results_of(tmp_path: Path, run_id: str) -> dict:
    return json.loads(next((tmp_path / "out").glob(f"*/{run_id}/results.json")).read_text(encoding="utf-8"))


def refused_items(data: Path) -> list[int]:
    test = json.loads((data / "jcommonsenseqa" / "test.json").read_text(encoding="utf-8"))["samples"]
    return [i for i, s in enumerate(test) if REFUSED in s["input"]]


def test_an_item_the_server_refuses_fails_alone_and_the_run_writes_its_results(fake_vllm, prepared, tmp_path):
    handler, url = fake_vllm
    refused = refused_items(prepared)
    assert refused, "the sample data must hold an item to refuse"
    proc = run(url, prepared, tmp_path, "--run-id", "first")
    assert proc.returncode == 0, proc.stderr
    task = results_of(tmp_path, "first")["tasks"]["jcommonsenseqa"]
    failed = task["failed_items"]
    assert failed["count"] == len(refused) and failed["keys"] == sorted(f"jcommonsenseqa/{i}" for i in refused)
    assert failed["scored_as"] == "empty answer"
    assert list(failed["reasons"]) == [next(iter(failed["reasons"]))] and "HTTP 400" in next(iter(failed["reasons"]))
    assert task["requests"]["failed"] == len(refused)
    samples = [json.loads(x) for x in
               next((tmp_path / "out").glob("*/first/samples/jcommonsenseqa.jsonl")).read_text().splitlines()]
    assert [s["key"] for s in samples if "failed" in s] == failed["keys"]
    assert all(s["exact_match"] == 0.0 and s["output"] == "" for s in samples if "failed" in s)
    assert task["metrics"]["exact_match"] == sum(s["exact_match"] for s in samples) / len(samples)
    assert f"failed: jcommonsenseqa: {len(refused)} of {task['n_samples']} items" in proc.stdout
    column = next(c for c in results_of(tmp_path, "first")["columns"] if c["tasks"] == ["jcommonsenseqa"])
    assert any("count as empty answers" in note for note, _ in column["notes"])

    asked_before = len(handler.asked)
    proc = run(url, prepared, tmp_path, "--run-id", "second")
    assert proc.returncode == 0, proc.stderr
    assert len(handler.asked) - asked_before == len(refused), "answers are cached; failures are asked again"


def test_a_run_whose_every_item_is_refused_writes_its_results_and_exits_2(fake_vllm, prepared, tmp_path):
    handler, url = fake_vllm
    handler.refuse_all = True
    proc = run(url, prepared, tmp_path, "--run-id", "all", "--limit", "3")
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert proc.returncode == 2 and "every one of the 3 requests failed" in line and "HTTP 400" in line
    assert results_of(tmp_path, "all")["tasks"]["jcommonsenseqa"]["failed_items"]["count"] == 3


def test_a_prompt_longer_than_the_context_is_not_sent(tiny_checkpoint, prepared, tmp_path):
    proc = jeval("run", "--model", tiny_checkpoint, "--backend", "local", "--tasks", "jcommonsenseqa", "--shots",
                 "30", "--limit", "2", "--data-dir", prepared, "--cache", tmp_path / "c.sqlite",
                 "--output", tmp_path / "out", "--run-id", "long")
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert proc.returncode == 2 and "every one of the 2 requests failed" in line
    results = results_of(tmp_path, "long")
    [reason] = results["tasks"]["jcommonsenseqa"]["failed_items"]["reasons"]
    assert "exceed the model's context of" in reason and "max_position_embeddings" in reason
    assert results["backend"]["model_loaded"] is False, "nothing was sent, so the model never loaded"


def test_a_reply_that_is_not_a_completion_is_one_error_line(fake_vllm, prepared, tmp_path):
    handler, url = fake_vllm
    handler.html = True
    proc = run(url, prepared, tmp_path)
    assert proc.returncode == 2
    assert error_lines(proc)[-1].startswith(f"jeval: error: {url} did not answer with an OpenAI-compatible "
                                            "completion (it sent: '<!DOCTYPE html>")
    assert "Traceback" not in proc.stderr


def test_prepared_data_edited_afterwards_is_refused_before_anything_runs(fake_vllm, prepared, tmp_path):
    handler, url = fake_vllm
    test_file = prepared / "jcommonsenseqa" / "test.json"
    test = json.loads(test_file.read_text(encoding="utf-8"))
    test["samples"][0]["output"] = "4" if test["samples"][0]["output"] != "4" else "3"
    test_file.write_text(json.dumps(test, ensure_ascii=False), encoding="utf-8")
    proc = run(url, prepared, tmp_path)
    assert error_lines(proc) == [
        f"jeval: error: jcommonsenseqa: the prepared files in {prepared / 'jcommonsenseqa'} changed after `jeval data "
        f"prepare` wrote them: {test_file} (data fingerprint {_recorded(prepared)[:12]} recorded, "
        f"{_found(prepared)[:12]} found); run `jeval data prepare jcommonsenseqa` again (add --mirror DIR_OR_URL "
        "when offline)"]
    assert handler.asked == [] and not (tmp_path / "out").exists()


def _recorded(data: Path) -> str:
    return json.loads((data / "jcommonsenseqa" / "manifest.json").read_text())["data_fingerprint"]


def _found(data: Path) -> str:
    from jeval.data.prepare import data_fingerprint

    return data_fingerprint(data / "jcommonsenseqa")


JNLI_TRAIN = ("raw.githubusercontent.com/yahoojapan/JGLUE/c35b43c73056f6898837de0dcc5ba11cc7dc3ecc/datasets/"
              "jnli-v1.1/train-v1.1.json")


def unpinned_mirror(root: Path) -> Path:
    """The Jaster fixtures with checksums for every file but JNLI's train file (which jeval does
    not pin either): that one is accepted on the checks an unpinned download gets."""
    from test_jaster_own_protocol import data_only_mirror

    mirror = data_only_mirror(root)
    manifest = json.loads((mirror / "jeval-mirror.json").read_text())
    del manifest["checksums"][f"https://{JNLI_TRAIN}"]
    (mirror / "jeval-mirror.json").write_text(json.dumps(manifest))
    return mirror


def test_an_unpinned_download_that_is_an_html_page_is_not_kept(tmp_path):
    mirror = unpinned_mirror(tmp_path / "mirror")
    (mirror / JNLI_TRAIN).write_text("<!DOCTYPE html><html><body>rate limited</body></html>", encoding="utf-8")
    proc = jeval("data", "prepare", "jnli", "--mirror", mirror, "--data-dir", tmp_path / "data")
    [line] = [x for x in error_lines(proc) if x.startswith("jeval:")]
    assert proc.returncode == 2 and "is not a usable copy of" in line and "it is an HTML page, not the file" in line
    assert not (tmp_path / "data" / "raw" / JNLI_TRAIN).exists() and not (tmp_path / "data" / "jnli").exists()


@pytest.mark.parametrize("bad", [b"<html><body>moved</body></html>", b'{"sentence_pair_id": "0", "sent', b""])
def test_a_bad_earlier_download_is_fetched_again(tmp_path, bad):
    mirror = unpinned_mirror(tmp_path / "mirror")
    cached = tmp_path / "data" / "raw" / JNLI_TRAIN
    cached.parent.mkdir(parents=True)
    cached.write_bytes(bad)
    proc = jeval("data", "prepare", "jnli", "--mirror", mirror, "--data-dir", tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert "the copy downloaded earlier is not usable" in proc.stderr and "fetching it again" in proc.stderr
    assert cached.read_bytes() == (mirror / JNLI_TRAIN).read_bytes()
    assert "jnli: prepared [jeval-jaster-1] train 9" in proc.stdout


def test_a_cut_short_jsonl_download_is_refused(tmp_path):
    from jeval.data.validate import problem

    good = SAMPLES / "raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets/jcommonsenseqa-v1.1/train-v1.1.json"
    cut = tmp_path / "train-v1.1.json"
    cut.write_bytes(good.read_bytes()[:-40])
    assert problem(good, "https://x/train-v1.1.json") is None
    assert problem(cut, "https://x/train-v1.1.json") is not None
    (tmp_path / "a.zip").write_bytes(b"PK\x03\x04 not really")
    assert "not readable as zip" in str(problem(tmp_path / "a.zip", "https://x/a.zip"))
