"""Honest identities: a number is never filed under another model, engine, few-shot count or prompt
source than the one that produced it.

- Answers are cached per model identity: weights (or, behind a URL, what the server reports and
  the stated revision) and engine. Different engines, or another checkpoint served under the same
  model id, never reuse answers; the same model does, and a fully cached run starts nothing.
- Models are rows by fingerprint: two folders of one name are two rows; a Unicode name is kept.
- A column is (label, protocol, few-shot count): 0-shot and 4-shot never share one.
- Prompt text from a mirror's stand-in files is labelled in results.json and every leaderboard format.
- A task the engine cannot serve fails before any server starts.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import error_lines, jeval
from golden_support import build_fixed_checkpoint
from http_support import JsonHandler

from jeval.cli import main


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Two checkpoints of different weights in folders of one name, one with a Japanese name, and a
    copy of the first under another name."""
    root = tmp_path_factory.mktemp("ckpts")
    found = {"a": root / "run1" / "tiny", "b": root / "run2" / "tiny", "ja": root / "日本語 モデル",
             "copy": root / "copy-of-a"}
    build_fixed_checkpoint(found["a"], seed=1, context=4096)
    build_fixed_checkpoint(found["b"], seed=2, context=4096)
    build_fixed_checkpoint(found["ja"], seed=3, context=4096)
    shutil.copytree(found["a"], found["copy"])
    return found


def run(tmp_path: Path, data: Path, *args) -> dict:
    """`jeval run` on three JCommonsenseQA items, in this process (the CLI exactly as a user calls it)."""
    argv = ["run", "--tasks", "jcommonsenseqa", "--limit", "3", "--data-dir", data, "--cache",
            tmp_path / "cache.sqlite", "--output", tmp_path / "results", *args]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([str(a) for a in argv]) == 0
    path = Path(printed.getvalue().strip().splitlines()[-1].removeprefix("results: "))
    return json.loads(path.read_text(encoding="utf-8")) | {"_path": str(path), "_stdout": printed.getvalue()}


def test_different_engines_never_share_answers_and_a_cached_run_starts_nothing(checkpoints, prepared, tmp_path):
    local = run(tmp_path, prepared, "--model", checkpoints["a"], "--backend", "local")
    assert local["requests"]["from_cache"] == 0 and local["backend"]["model_loaded"] is True
    served = run(tmp_path, prepared, "--model", checkpoints["a"])
    assert served["model"]["fingerprint"] == local["model"]["fingerprint"]
    assert (served["model"]["engine"]["name"], local["model"]["engine"]["name"]) == ("transformers-serve",
                                                                                       "transformers")
    assert served["requests"]["from_cache"] == 0 and served["backend"]["server_started"] is True

    again = run(tmp_path, prepared, "--model", checkpoints["a"])
    assert again["requests"]["from_cache"] == again["requests"]["total"] == 3
    assert again["backend"]["server_started"] is False and again["backend"]["command"] is None
    local_again = run(tmp_path, prepared, "--model", checkpoints["a"], "--backend", "local")
    assert local_again["requests"]["from_cache"] == 3 and local_again["backend"]["model_loaded"] is False
    assert local_again["tasks"]["jcommonsenseqa"]["metrics"] == local["tasks"]["jcommonsenseqa"]["metrics"]


def leaderboard(*args: object) -> str:
    """`jeval leaderboard`'s output, in this process."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["leaderboard", *map(str, args)]) == 0
    return printed.getvalue()


class ReportingServer:
    """Stands in for `vllm serve`, which cannot run on this CPU-only machine, in what identity
    depends on: `/v1/models` lists the served id with what vLLM reports beside it (`root`, the
    weights' path; `created`, the time of the request), and completions answer with text that
    names the weights, so that reused answers would show."""

    def __init__(self, model_id: str, root: str | None, owned_by: str = "vllm", version: str | None = None):
        self.seen: list[dict] = []
        server = self

        class Handler(JsonHandler):
            def do_GET(self):
                if self.path == "/version":
                    if version is None:
                        self.send_error(404)
                    else:
                        self._send({"version": version})
                    return
                entry = {"id": model_id, "object": "model", "created": int(time.time() * 1000)}
                if root is not None:
                    entry.update(owned_by=owned_by, root=root, max_model_len=2048)
                self._send({"object": "list", "data": [entry]})

            def do_POST(self):
                server.seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self._send({"id": "cmpl-1", "object": "text_completion", "created": 0, "model": model_id,
                            "choices": [{"index": 0, "text": f"answer of {root}", "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ReportingServer:
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_another_checkpoint_under_the_same_model_id_never_reuses_answers(checkpoints, prepared, tmp_path):
    with ReportingServer("team/model", str(checkpoints["a"])) as a:
        first = run(tmp_path, prepared, "--base-url", a.url)
    with ReportingServer("team/model", str(checkpoints["a"])) as a_again:
        same = run(tmp_path, prepared, "--base-url", a_again.url)
    with ReportingServer("team/model", "/srv/models/other-weights") as b:
        other = run(tmp_path, prepared, "--base-url", b.url)
    assert first["model"]["identity_basis"] == "weights" and first["model"]["served_id"] == "team/model"
    assert same["requests"]["from_cache"] == 3 and not a_again.seen
    assert other["model"]["identity_basis"] == "served metadata"
    assert other["model"]["fingerprint"] != first["model"]["fingerprint"]
    assert other["requests"]["from_cache"] == 0 and len(b.seen) == 3
    outputs = [json.loads(x)["output"] for x in (Path(other["_path"]).parent / "samples" / "jcommonsenseqa.jsonl")
               .read_text(encoding="utf-8").splitlines()]
    assert outputs == ["answer of /srv/models/other-weights"] * 3


def test_the_same_weights_behind_two_kinds_of_server_never_share_answers(checkpoints, prepared, tmp_path):
    with ReportingServer("team/model", str(checkpoints["a"]), "vllm", "0.11.0") as vllm:
        first = run(tmp_path, prepared, "--base-url", vllm.url)
    with ReportingServer("team/model", str(checkpoints["a"]), "another-server") as other:
        second = run(tmp_path, prepared, "--base-url", other.url)
    assert first["model"]["fingerprint"] == second["model"]["fingerprint"]
    assert first["model"]["engine"]["version"] == "0.11.0" and second["model"]["engine"]["version"] is None
    assert second["requests"]["from_cache"] == 0 and len(other.seen) == 3


def test_a_model_known_by_its_id_alone_is_told_apart_by_its_revision(prepared, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    with ReportingServer("remote-model", None) as server:
        r1 = run(tmp_path, prepared, "--base-url", server.url, "--model-revision", "2026-01")
        r1_again = run(tmp_path, prepared, "--base-url", server.url, "--model-revision", "2026-01")
        r2 = run(tmp_path, prepared, "--base-url", server.url, "--model-revision", "2026-02")
    assert r1["model"]["identity_basis"] == "model id"
    assert any("reports nothing about 'remote-model' beyond its id" in r.getMessage() for r in caplog.records)
    assert r1_again["requests"]["from_cache"] == 3
    assert r2["requests"]["from_cache"] == 0 and r2["model"]["fingerprint"] != r1["model"]["fingerprint"]
    assert r2["model"]["revision"] == "2026-02"


def test_two_folders_of_one_name_are_two_rows_and_unicode_names_are_kept(checkpoints, prepared, tmp_path):
    a = run(tmp_path, prepared, "--model", checkpoints["a"], "--backend", "local", "--shots", "2")
    b = run(tmp_path, prepared, "--model", checkpoints["b"], "--backend", "local", "--shots", "2")
    ja = run(tmp_path, prepared, "--model", checkpoints["ja"], "--backend", "local", "--shots", "2")
    assert a["model"]["name"] == b["model"]["name"] == "tiny" and a["model"]["fingerprint"] != b["model"]["fingerprint"]
    assert ja["model"]["name"] == "日本語 モデル" and Path(ja["_path"]).parent.parent.name.startswith("日本語_モデル-")
    rows = [r["model"] for r in json.loads(leaderboard(tmp_path / "results", "--format", "json"))["rows"]]
    short = {k: v["model"]["fingerprint"].split(":")[1][:8] for k, v in (("a", a), ("b", b))}
    assert sorted(rows) == sorted([f"tiny [{short['a']}]", f"tiny [{short['b']}]", "日本語 モデル"])

    copy = run(tmp_path, prepared, "--model", checkpoints["copy"], "--backend", "local", "--shots", "2")
    assert copy["model"]["fingerprint"] == a["model"]["fingerprint"] and copy["requests"]["from_cache"] == 3
    rows = [r["model"] for r in json.loads(leaderboard(tmp_path / "results", "--format", "json"))["rows"]]
    assert sorted(rows) == sorted(["copy-of-a", "tiny", "日本語 モデル"])  # the same weights are one model


def test_zero_shot_and_four_shot_are_different_columns(checkpoints, prepared, tmp_path):
    run(tmp_path, prepared, "--model", checkpoints["a"], "--backend", "local")
    run(tmp_path, prepared, "--model", checkpoints["a"], "--backend", "local", "--shots", "0")
    data = json.loads(leaderboard(tmp_path / "results", "--format", "json", "--columns", "jaster"))
    labels = [c["label"] for c in data["columns"]]
    assert "Jaster AVG [0-shot]" in labels and "Jaster AVG [4-shot]" in labels
    assert {c["shots"] for c in data["columns"]} == {"0", "4"}
    assert not any("superseded" in note for note in data["notes"])


def test_stand_in_prompt_text_is_labelled_in_results_and_every_leaderboard_format(checkpoints, sample_mirror,
                                                                                   tmp_path):
    data = tmp_path / "data"
    proc = jeval("data", "prepare", "jcommonsenseqa", "--prompts", "llm-jp-eval", "--mirror", sample_mirror[1],
                 "--data-dir", data)
    assert proc.returncode == 0, proc.stderr
    results = run(tmp_path, data, "--model", checkpoints["a"], "--backend", "local")
    task = results["tasks"]["jcommonsenseqa"]
    assert task["protocol"] == "llm-jp-eval-1.4.1+standin-prompts+standin-data"
    assert task["prompt_source"]["origin"] == "standin" and task["prompt_source"]["data_origin"] == "standin"
    assert results["summaries"]["jaster"]["protocol"] == "llm-jp-eval-1.4.1+standin-prompts+standin-data"
    assert "note: `+standin-prompts` in a protocol name" in results["_stdout"]
    assert "note: `+standin-data` in a protocol name" in results["_stdout"]
    for fmt in ("md", "csv", "json", "html"):
        text = leaderboard(tmp_path / "results", "--format", fmt).replace("&#x27;", "'")
        assert "+standin-prompts" in text, fmt
        assert "came from a mirror's stand-in files, not from upstream" in text, fmt
        assert "scored on data from a mirror's stand-in files, not upstream's" in text, fmt


def test_own_prompt_text_on_sample_data_is_labelled_as_both(checkpoints, prepared, tmp_path):
    """The default prompt text is jeval's own (protocol jeval-jaster-1, no suffix for it); the
    sample questions are still not benchmark data, and the protocol name says so."""
    results = run(tmp_path, prepared, "--model", checkpoints["a"], "--backend", "local")
    task = results["tasks"]["jcommonsenseqa"]
    assert task["protocol"] == "jeval-jaster-1+standin-data"
    assert task["prompt_source"]["origin"] == "own" and task["prompt_source"]["files"] == []
    assert results["summaries"]["jaster"]["protocol"] == "jeval-jaster-1+standin-data"
    assert "note: `+standin-data` in a protocol name" in results["_stdout"]
    assert "+standin-prompts" not in results["_stdout"]


def test_a_likelihood_task_on_transformers_serve_fails_before_the_server_starts(checkpoints, tmp_path):
    proc = jeval("run", "--model", checkpoints["a"], "--tasks", "jl_jcommonsenseqa", "--data-dir", tmp_path / "none",
                 "--output", tmp_path / "out", "--cache", tmp_path / "c.sqlite")
    assert proc.returncode == 2
    assert error_lines(proc) == [
        "jeval: error: jl_jcommonsenseqa needs log-likelihoods, which `transformers serve` cannot give (it answers 422 "
        "to prompt_logprobs and 500 to echo with max_tokens=0, and ignores logprobs otherwise); use --backend local "
        "(in-process transformers) or a vLLM server (`jeval run --model CKPT` with vLLM on a GPU, or --base-url of a "
        "`vllm serve` with --model-id its checkpoint folder)"]
    assert not (tmp_path / "out" / "logs").exists()


def test_results_written_before_the_schema_was_versioned_are_read_with_their_stand_in_data_marked(tmp_path):
    """A version 1 results.json (no schema, no columns, no prompt source): its columns come from the
    plugins' declarations, and data that came partly from a mirror's own checksums is not shown
    under the upstream protocol's name."""
    def v1(name: str, fingerprint: str, from_mirror: bool) -> dict:
        task = {"protocol": "llm-jp-eval-1.4.1", "category": "MC", "shots": 4, "n_samples": 10, "limit": 100,
                "metrics": {"exact_match": 0.5, "out_of_label_set": 0.1, "lenient_exact_match": 0.6},
                "data_fingerprint": "d", "data_checksums_from_mirror": from_mirror, "data_sources": [],
                "prompt_fingerprint": "p", "decoding": {}}
        return {"jeval_version": "0.1.0", "run_id": f"r-{name}", "created": "2026-11-01T00:00:00+0000",
                "model": {"name": name, "id": name, "fingerprint": fingerprint, "path": None},
                "backend": {"kind": "local"}, "config": {}, "tasks": {"jcommonsenseqa": task},
                "categories": {"MC": 0.5}, "summaries": {}, "timings": {}, "requests": {}, "tokens": {},
                "versions": {}}

    for name, fingerprint, from_mirror in (("old-upstream", "sha256:" + "1" * 64, False),
                                           ("old-mirror", "sha256:" + "2" * 64, True)):
        path = tmp_path / "results" / name / "r" / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(v1(name, fingerprint, from_mirror)), encoding="utf-8")
    data = json.loads(leaderboard(tmp_path / "results", "--format", "json", "--columns", "jaster"))
    labels = {c["label"] for c in data["columns"]}
    assert "Jaster AVG [llm-jp-eval-1.4.1]" in labels and "Jaster AVG [llm-jp-eval-1.4.1+unverified-prompts]" in labels
    avg = {c["key"] for c in data["columns"] if c["label"].startswith("Jaster AVG")}
    values = sorted(v["value"] for r in data["rows"] for k, v in r["cells"].items() if k in avg and v["value"])
    assert values == [pytest.approx(50 / 11)] * 2  # one category of eleven, by llm-jp-eval's rule
