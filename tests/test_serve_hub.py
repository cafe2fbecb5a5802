"""`jeval serve --model ORG/NAME[@REVISION]`: a Hub model id resolves as it does for `jeval run`
(downloaded into the Hugging Face cache by the same code), the snapshot folder is served, and what
jeval serve prints names the repo and the commit, so that a run against it records both.

The Hub is the loopback double of test_hub_model.py (the Hub cannot be reached from here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import JEVAL, error_lines, jeval, run_files
from test_hub_model import CHECKPOINT_NAMES, COMMIT, REPO, fake_hub, hub_env

from jeval.fingerprint import checkpoint_fingerprint


@pytest.fixture
def hub(tiny_checkpoint):
    with fake_hub(tiny_checkpoint) as found:
        yield found


def serve(model: str, log_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, dict[str, str]]:
    """`jeval serve --model MODEL` started, and what it printed up to its `try:` line."""
    proc = subprocess.Popen([*JEVAL, "serve", "--model", model, "--log-dir", str(log_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
    printed: dict[str, str] = {}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and "try" not in printed:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"jeval serve exited: {proc.stderr.read()[-2000:]}")
        if line.startswith("serving "):
            printed["serving"] = line.strip()
        key, _, value = line.partition(": ")
        printed[key] = value.strip()
    return proc, printed


def test_a_hub_model_is_served_and_a_run_against_it_names_repo_and_commit(hub, prepared, tmp_path,
                                                                            tiny_checkpoint):
    handler, url = hub
    home = tmp_path / "hf"
    proc, printed = serve(REPO, tmp_path / "logs", hub_env(url, home))
    try:
        snapshot = home / "hub" / "models--jeval-test--tiny" / "snapshots" / COMMIT
        assert printed["serving"] == f"serving {REPO}@{COMMIT} with transformers"
        assert Path(printed["model id"]) == snapshot.resolve()
        assert printed["name"] == REPO and printed["revision"] == f"{REPO}@{COMMIT}"
        assert sorted(p.name for p in snapshot.iterdir()) == sorted(CHECKPOINT_NAMES), "only checkpoint files"
        assert f"GET /api/models/{REPO}/revision/main" in handler.seen
        base = printed["base URL"]
        assert httpx.get(base.removesuffix("/v1") + "/health", timeout=10).status_code == 200

        suggested = printed["try"].split()
        assert suggested[:2] == ["jeval", "run"]
        run = jeval(*suggested[1:], "--limit", "2", "--data-dir", prepared, "--cache", tmp_path / "cache.sqlite",
                    "--output", tmp_path / "out", "--run-id", "served", "--json")
        assert run.returncode == 0, run.stderr[-3000:]
        [results_path] = run_files(tmp_path / "out")
        model = json.loads(results_path.read_text(encoding="utf-8"))["model"]
        assert model["name"] == REPO and model["revision"] == f"{REPO}@{COMMIT}"
        assert model["fingerprint"] == checkpoint_fingerprint(snapshot), "the weights behind the URL, by their files"
        assert model["engine"]["name"] == "transformers-serve", "the try: line names the server behind the URL"

        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        took = time.monotonic() - stopped
        assert took < 10, f"{took:.1f} s: with nothing in flight the stop must not wait out the 15 s grace"
        assert "stopping: waiting up to 15 s for requests in flight; Ctrl-C again stops now" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(("model", "offline", "says"), [
    ("jeval-test/missing", False, ["no model jeval-test/missing on the Hub", "huggingface-cli login"]),
    ("jeval-test/gated", False, ["gated", "licence"]),
    (f"{REPO}@no-such-branch", False, ["no revision 'no-such-branch'"]),
    (REPO, True, ["not in the local Hugging Face cache", "offline"]),
])
def test_a_hub_model_that_cannot_be_had_is_one_line_and_nothing_starts(hub, tmp_path, model, offline, says):
    _handler, url = hub
    proc = jeval("serve", "--model", model, "--log-dir", tmp_path / "logs",
                 env=hub_env(url, tmp_path / "hf", offline=offline), timeout=120)
    [line] = error_lines(proc)
    assert proc.returncode == 2 and line.startswith("jeval: error:")
    for part in says:
        assert part in line, line
    assert not (tmp_path / "logs").exists(), "no server was started"


def test_the_model_is_named_once(tmp_path):
    both = jeval("serve", tmp_path, "--model", tmp_path)
    assert both.returncode == 2 and error_lines(both) == [
        "jeval: error: jeval serve: name the model once, as CHECKPOINT or as --model, not both"]
    neither = jeval("serve")
    assert neither.returncode == 2 and "a checkpoint folder or a Hugging Face Hub id" in error_lines(neither)[-1]
