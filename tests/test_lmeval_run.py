"""`jeval run` on the japanese_leaderboard tasks: lm-eval drives jeval's backends and cache, and
jeval reports what lm-eval itself reports."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from conftest import error_lines, jeval
from lmeval_support import ALL_TASKS, OFFLINE, make_mirror

GENERATION = {"jl_jsquad", "jl_jaqket_v2", "jl_xlsum", "jl_mgsm", "jl_mgsm_direct", "jl_mgsm_native_cot"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jlrun")
    mirror = make_mirror(root / "mirror")
    proc = jeval("data", "prepare", *ALL_TASKS, "--mirror", mirror, "--data-dir", root / "data")
    assert proc.returncode == 0, proc.stderr
    return root


def run(workdir: Path, *args: str, out: str = "out", cache: str = "cache.sqlite") -> tuple:
    proc = jeval("run", "--data-dir", workdir / "data", "--cache", workdir / cache,
                 "--output", workdir / out, "--limit", "2", *args, env=OFFLINE)
    if proc.returncode != 0:
        return proc, None
    path = Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: "))
    return proc, json.loads(path.read_text())


def samples(results_path: Path, task: str) -> list[dict]:
    lines = (results_path.parent / "samples" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def local_run(workdir, tiny_checkpoint):
    proc, results = run(workdir, "--model", str(tiny_checkpoint), "--backend", "local", "--tasks",
                        "ja_leaderboard,jl_mgsm_direct,jl_mgsm_native_cot")
    assert results is not None, proc.stderr[-3000:]
    return Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: ")), results


def test_in_process_run_reports_every_task_with_its_protocol_and_the_suite_means(local_run):
    path, results = local_run
    assert set(results["tasks"]) == set(ALL_TASKS)
    jcqa = results["tasks"]["jl_jcommonsenseqa"]
    assert jcqa["protocol"].startswith("lm-eval-0.4.13/japanese_leaderboard")
    assert jcqa["shots"] == 3 and jcqa["n_samples"] == 2 and next(iter(jcqa["metrics"])) == "acc,none"
    assert results["tasks"]["jl_mgsm_native_cot"]["protocol"].endswith("/mgsm_cot_native+standin-prompts+standin-data")
    assert results["tasks"]["jl_mgsm_native_cot"]["prompt_source"]["origin"] == "standin"  # the fixture exemplars
    assert (set(results["tasks"]["jl_mgsm_native_cot"]["metrics"])
            >= {"exact_match,strict-match", "exact_match,flexible-extract"})
    board = results["summaries"]["ja_leaderboard"]
    firsts = [next(iter(results["tasks"][t]["metrics"].values())) for t in board["categories"]]
    assert len(board["categories"]) == 8 and math.isclose(board["AVG"], sum(firsts) / 8)
    rows = samples(path, "jl_jnli")
    assert len(rows) == 2 and rows[0]["prompt"].count("### 応答：") == 4  # three shots and the item
    assert len(rows[0]["resps"]) == 3  # one log-likelihood per choice


def test_scores_and_answers_equal_lm_eval_own_run_of_the_same_checkpoint(local_run, workdir, tiny_checkpoint,
                                                                         monkeypatch):
    """lm-eval's own transformers model (with the BOS token jeval's in-process backend adds) on the
    same rendered task folder: the same metrics, the same generated texts, the same choices."""
    for k, v in OFFLINE.items():
        monkeypatch.setenv(k, v)
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    path, results = local_run
    lm = HFLM(pretrained=str(tiny_checkpoint), device="cpu", batch_size=1, add_bos_token=True)
    theirs = lm_eval.simple_evaluate(model=lm, tasks=ALL_TASKS, limit=2, task_manager=TaskManager(
        include_path=str(workdir / "data" / "lm-eval-tasks"), include_defaults=False))
    for task in ALL_TASKS:
        expected = {k: (None if v == "N/A" else float(v)) for k, v in theirs["results"][task].items() if "," in k}
        mine = results["tasks"][task]["metrics"]
        assert {k: mine[k] for k in expected} == pytest.approx(expected), task
        assert set(mine) - set(expected) <= {"out_of_format", "lenient_exact_match"}, task
        mine = samples(path, task)
        for row, other in zip(mine, sorted(theirs["samples"][task], key=lambda s: s["doc_id"]), strict=True):
            if task in GENERATION:
                assert row["resps"] == other["resps"], task
            else:
                lls = [r[0][0] for r in row["resps"]]
                assert lls == pytest.approx([float(r[0][0]) for r in other["resps"]], abs=1e-3), task


def test_mgsm_tasks_record_answer_format_diagnostics_beside_lm_evals_metrics(local_run):
    path, results = local_run
    for task in ("jl_mgsm", "jl_mgsm_direct", "jl_mgsm_native_cot"):
        metrics = results["tasks"][task]["metrics"]
        assert 0.0 <= metrics["out_of_format"] <= 1.0 and 0.0 <= metrics["lenient_exact_match"] <= 1.0, task
        diagnosed = [r for r in samples(path, task) if "out_of_format" in r]
        assert len(diagnosed) == 2, task  # one per item: the rows of the strict reading
        assert sum(r["out_of_format"] for r in diagnosed) / 2 == metrics["out_of_format"], task
    assert "out_of_format" not in results["tasks"]["jl_jsquad"]["metrics"]


def test_a_second_run_is_answered_from_the_cache_with_the_same_scores(local_run, workdir, tiny_checkpoint):
    _, first = local_run
    proc, again = run(workdir, "--model", str(tiny_checkpoint), "--backend", "local", "--tasks", "jglue,jl_mgsm",
                      out="again")
    assert again is not None, proc.stderr[-3000:]
    counts = again["tasks"]["jl_mgsm"]["lm_eval"]["requests"]
    assert counts["from_cache"] == counts["loglikelihood"] + counts["generate_until"] > 0
    for task in again["tasks"]:
        assert again["tasks"][task]["metrics"] == first["tasks"][task]["metrics"]
    assert set(again["summaries"]) == {"jglue", "ja_leaderboard"}


def test_generation_tasks_run_against_transformers_serve(workdir, served):
    proc, results = run(workdir, "--base-url", served.base_url, "--model-id", served.model_id,
                        "--tasks", "jl_jsquad,jl_mgsm_native_cot", out="served")
    assert results is not None, proc.stderr[-3000:]
    assert results["backend"]["kind"] == "endpoint"
    assert results["tasks"]["jl_jsquad"]["n_samples"] == 2
    assert results["tasks"]["jl_mgsm_native_cot"]["lm_eval"]["requests"]["generate_until"] == 4


def test_a_loglikelihood_task_on_a_server_without_logprobs_names_the_backends_that_can(workdir, served):
    """(A fresh cache: the served checkpoint is the one the in-process runs answered, and cached
    log-likelihoods of the same weights would be reused.)"""
    proc, _ = run(workdir, "--base-url", served.base_url, "--model-id", served.model_id, "--tasks", "jl_jnli",
                  out="refused", cache="fresh.sqlite")
    assert proc.returncode == 2
    line = error_lines(proc)[-1]
    assert (line.startswith("jeval: error: ") and "jl_jnli need log-likelihoods" in line
            and "--backend local" in line and "vllm serve" in line)


def test_lm_eval_itself_runs_the_plugins_from_jeval_tasks_path(workdir):
    folder = jeval("tasks", "path", "--data-dir", workdir / "data").stdout.strip()
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "lm_eval", "run", "--model", "dummy", "--include_path", folder,
                           "--tasks", "jglue", "--limit", "1"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **OFFLINE}, cwd=workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "jl_jcommonsenseqa" in proc.stdout and "jl_jsquad" in proc.stdout


class _DrawingLM:
    """An lm-eval model whose every answer is drawn from the process's random generators (Python's,
    numpy's and torch's, which lm-eval seeds) and depends on the request's text: two evaluations
    agree only if they seed alike and ask alike."""

    @staticmethod
    def make():
        import random

        import numpy as np
        import torch
        from lm_eval.api.model import LM

        def draw(text: str) -> float:
            return random.random() + float(np.random.rand()) + torch.rand(1).item() + len(text) / 100

        class DrawingLM(LM):
            def loglikelihood(self, requests):
                return [(-draw(r.args[0] + r.args[1]), False) for r in requests]

            def loglikelihood_rolling(self, requests):
                return [-draw(r.args[0]) for r in requests]

            def generate_until(self, requests):
                return [f"{draw(r.args[0]):.3f}" for r in requests]

        return DrawingLM()


@pytest.mark.parametrize("shots, gen", [(None, None), (1, {"temperature": 0.5, "max_tokens": 7})])
def test_lm_eval_tasks_are_evaluated_as_simple_evaluate_evaluates_them(workdir, monkeypatch, shots, gen):
    """jeval calls lm-eval's `evaluate` with `simple_evaluate`'s seeds, overrides and arguments (it
    skips only the environment report added afterwards): on the rendered japanese_leaderboard
    tasks, every result jeval reads is the same, with the run's --shots and --gen-kwargs too."""
    for k, v in OFFLINE.items():
        monkeypatch.setenv(k, v)
    import lm_eval
    from lm_eval.tasks import TaskManager

    from jeval.overrides import GenKwargs
    from jeval.tasks.japanese_leaderboard.evaluate import evaluate_tasks

    folder = jeval("tasks", "path", "--data-dir", workdir / "data").stdout.strip()
    kwargs = GenKwargs(**gen) if gen else None
    # A process's first load of a dataset draws from the generators after lm-eval has seeded them
    # (lm-eval's own first and second runs differ so), hence one evaluation before the two compared.
    evaluate_tasks(_DrawingLM.make(), ALL_TASKS, TaskManager(include_path=folder, include_defaults=False), 3, None)
    theirs = lm_eval.simple_evaluate(model=_DrawingLM.make(), tasks=ALL_TASKS, limit=3, num_fewshot=shots,
                                     gen_kwargs=kwargs.lm_eval() if kwargs else None,
                                     task_manager=TaskManager(include_path=folder, include_defaults=False))
    mine = evaluate_tasks(_DrawingLM.make(), ALL_TASKS, TaskManager(include_path=folder, include_defaults=False),
                          3, shots, kwargs)
    assert set(theirs) - set(mine) == {"config", "git_hash", "date", "pretty_env_info", "transformers_version",
                                       "lm_eval_version", "upper_git_hash"}
    for key in ("results", "configs", "versions", "n-shot", "n-samples", "higher_is_better", "group_subtasks"):
        assert json.dumps(mine[key], sort_keys=True, default=str) == json.dumps(theirs[key], sort_keys=True,
                                                                                default=str), key
    for task in ALL_TASKS:
        assert json.dumps(mine["samples"][task], default=str) == json.dumps(theirs["samples"][task], default=str)
    if shots:
        assert set(mine["n-shot"].values()) == {1}
    if gen:
        assert mine["configs"]["jl_jsquad"]["generation_kwargs"]["temperature"] == 0.5
