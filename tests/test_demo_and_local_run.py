"""The README's first command (`jeval demo`) and `jeval run --backend local`."""

from __future__ import annotations

import json
import shutil

from conftest import jeval, run_files


def test_demo_runs_end_to_end_offline(tiny_checkpoint, tmp_path):
    workdir = tmp_path / "demo"
    shutil.copytree(tiny_checkpoint, workdir / "tiny-checkpoint")
    proc = jeval("demo", "--workdir", workdir, "--limit", "6", env={"HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "reusing the tiny checkpoint" in proc.stdout
    [results_file] = list(run_files(workdir / "results", "results.json"))
    results = json.loads(results_file.read_text())
    task = results["tasks"]["jcommonsenseqa"]
    assert task["n_samples"] == 6 and task["data_checksums_from_mirror"] is True
    assert "exact_match" in proc.stdout


def test_local_backend_gives_the_same_answers_as_the_server(tiny_checkpoint, prepared, tmp_path):
    common = ["--tasks", "jcommonsenseqa", "--limit", "5", "--data-dir", prepared]
    local = jeval("run", "--model", tiny_checkpoint, "--backend", "local", *common,
                  "--cache", tmp_path / "a.sqlite", "--output", tmp_path / "local")
    assert local.returncode == 0, local.stderr[-2000:]
    served = jeval("run", "--model", tiny_checkpoint, *common,
                   "--cache", tmp_path / "b.sqlite", "--output", tmp_path / "served")
    assert served.returncode == 0, served.stderr[-2000:]

    def outputs(folder):
        [run] = list(run_files(folder, "samples/jcommonsenseqa.jsonl"))
        return [json.loads(x)["output"] for x in run.read_text().splitlines()]

    assert outputs(tmp_path / "local") == outputs(tmp_path / "served")
