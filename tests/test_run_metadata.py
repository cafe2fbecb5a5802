"""What results.json records about how a run was made: its command line, jeval's version and git
commit, the libraries' versions, the machine, the seed; git asked quietly, and the seed sent only
with sampled requests so that greedy requests keep their cache entries."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

import pytest
from conftest import SAMPLES, jeval
from test_jaster_run import write_llm_jp_eval_files

import jeval as package
from jeval.run_metadata import git_commit, hardware, run_metadata, versions
from jeval.task import Request


@pytest.fixture(scope="module")
def jnli_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("metadata-data")
    source = write_llm_jp_eval_files(root / "llm-jp-eval")
    proc = jeval("data", "prepare", "jnli", "--jaster-dir", source, "--mirror", SAMPLES, "--data-dir", root / "data")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "data"


@pytest.fixture(scope="module")
def outside_git(tiny_checkpoint, jnli_data, tmp_path_factory):
    """`jeval run --seed 7` started from a folder that is no git checkout."""
    cwd = tmp_path_factory.mktemp("not-a-checkout")
    args = ("run", "--model", str(tiny_checkpoint), "--backend", "local", "--tasks", "jnli", "--limit", "2",
            "--seed", "7", "--data-dir", str(jnli_data), "--cache", "cache.sqlite", "--output", "out",
            "--run-id", "meta")
    proc = jeval(*args, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = (cwd / "out").glob("*/meta/results.json")
    return cwd, args, proc, json.loads(path.read_text())


def test_results_record_the_command_line_and_where_it_ran(outside_git):
    cwd, args, _, results = outside_git
    assert results["command_line"] == {"argv": ["jeval", *args], "via": "jeval command line", "cwd": str(cwd)}


def test_results_record_versions_with_jevals_commit(outside_git):
    _, _, _, results = outside_git
    found = results["versions"]
    assert found["jeval"] == package.__version__ == results["jeval_version"]
    assert found["jeval_git"] == git_commit(Path(package.__file__).resolve().parent)
    assert found["python"] == platform.python_version()
    from importlib.metadata import version

    for name in ("torch", "transformers", "lm_eval"):
        assert found[name] == version(name)
    assert "vllm" in found


def test_results_record_the_machine_and_the_seed(outside_git):
    _, _, _, results = outside_git
    machine = results["hardware"]
    assert machine["cpu_cores"] == os.cpu_count() and machine["cpu_cores_usable"] >= 1
    assert machine["memory_bytes"] > 0 and isinstance(machine["cpu"], str) and machine["cpu"]
    assert isinstance(machine["gpus"], list)
    assert results["seed"] == 7 and "temperature > 0" in results["seed_use"]
    assert results["config"]["seed"] == 7


def test_a_run_outside_a_checkout_prints_no_git_error(outside_git):
    _, _, proc, _ = outside_git
    assert "fatal" not in proc.stderr and "not a git repository" not in proc.stderr


def test_without_a_seed_none_is_recorded_and_python_callers_are_named():
    found = run_metadata((), None)
    assert found["seed"] is None and "seed_use" not in found
    assert found["command_line"]["via"].startswith("python")
    assert found["versions"] == versions() and found["hardware"]["cpu_cores"] == hardware()["cpu_cores"]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_git_is_not_asked_outside_a_work_tree(tmp_path, capfd):
    package_dir = tmp_path / "jeval"
    package_dir.mkdir()
    (package_dir / "__init__.py").write_text("")
    assert git_commit(package_dir) is None
    out, err = capfd.readouterr()
    assert out == err == ""


def test_commit_of_a_tracked_package_and_none_for_an_untracked_one(tmp_path, capfd):
    repo = tmp_path / "checkout"
    (repo / "evals").mkdir(parents=True)
    (repo / "evals" / "__init__.py").write_text("")
    git(repo, "init", "-q")
    git(repo, "add", "evals/__init__.py")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD")
    assert git_commit(repo / "evals") == {"commit": head, "dirty": False}
    (repo / "evals" / "__init__.py").write_text("x = 1\n")
    assert git_commit(repo / "evals") == {"commit": head, "dirty": True}
    (repo / "venv" / "site-packages" / "jeval").mkdir(parents=True)
    (repo / "venv" / "site-packages" / "jeval" / "__init__.py").write_text("")
    assert git_commit(repo / "venv" / "site-packages" / "jeval") is None
    assert capfd.readouterr().err == ""


def test_seed_goes_only_into_sampled_payloads():
    greedy = Request("t", "k", "p", 8, "", temperature=0.0)
    sampled = Request("t", "k", "p", 8, "", temperature=0.7)
    assert greedy.payload(seed=5) == greedy.payload() and "seed" not in greedy.payload(seed=5)
    assert sampled.payload(seed=5)["seed"] == 5 and "seed" not in sampled.payload()
    third = Request("t", "k", "p", 8, "", temperature=0.7, sample=2)
    assert third.payload(seed=5)["seed"] == 7


def chats(bodies: list[dict]) -> list[dict]:
    return [b for b in bodies if "messages" in b]


def test_seeded_run_sends_the_seed_with_sampled_requests_and_answers_greedy_ones_from_the_cache(
        served, jmt_data, tmp_path, make_proxy):
    proxy = make_proxy(served.base_url)
    common = ("run", "--base-url", proxy.url, "--model-id", served.model_id, "--tasks", "jmt_bench",
              "--data-dir", jmt_data, "--cache", tmp_path / "cache.sqlite", "--output", tmp_path / "out")
    first = jeval(*common, "--run-id", "unseeded")
    assert first.returncode == 0, first.stderr[-3000:]
    unseeded = chats(proxy.seen)
    assert unseeded and not any("seed" in body for body in unseeded)
    greedy = [b for b in unseeded if b["temperature"] == 0.0]
    sampled = [b for b in unseeded if b["temperature"] > 0]
    assert greedy and sampled

    second = jeval(*common, "--run-id", "seeded", "--seed", "5")
    assert second.returncode == 0, second.stderr[-3000:]
    seeded = chats(proxy.seen)[len(unseeded):]
    assert len(seeded) == len(sampled)
    assert all(b["temperature"] > 0 and b["seed"] == 5 for b in seeded)
    [path] = (tmp_path / "out").glob("*/seeded/results.json")
    results = json.loads(path.read_text())
    assert results["requests"]["from_cache"] == len(greedy) and results["requests"]["sent"] == len(sampled)
    assert results["seed"] == 5
