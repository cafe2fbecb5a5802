"""`jeval run --tasks lm-eval:<task or group>`: any lm-eval task, here task configs written by the
test over a fixture file (lm-eval's `json` loader, so no network), found through
--lm-eval-include, run through jeval's backends, cache and results schema."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from conftest import error_lines, jeval
from lmeval_support import OFFLINE

ITEMS = Path(__file__).parent / "fixtures" / "lmeval_any" / "items.jsonl"

COMMON = """dataset_path: json
dataset_kwargs:
  data_files:
    test: {items}
test_split: test
doc_to_text: "問題：{{question}}\\n答え："
"""
CONFIGS = {
    "tiny_gen.yaml": "task: tiny_gen\n" + COMMON + """output_type: generate_until
doc_to_target: "{{answer}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
metric_list:
  - metric: exact_match
""",
    "tiny_mc.yaml": "task: tiny_mc\n" + COMMON + """output_type: multiple_choice
doc_to_choice: "{{choices}}"
doc_to_target: label
metric_list:
  - metric: acc
""",
    "tiny_group.yaml": """group: tiny_group
task: [tiny_gen, tiny_mc]
aggregate_metric_list:
  - metric: acc
""",
    "tiny_hub.yaml": """task: tiny_hub
dataset_path: jeval-test/no-such-dataset
test_split: test
output_type: generate_until
doc_to_text: "{{question}}"
doc_to_target: "{{answer}}"
metric_list:
  - metric: exact_match
""",
}


@pytest.fixture(scope="module")
def include(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lm-eval-configs")
    for name, text in CONFIGS.items():
        (folder / name).write_text(text.replace("{items}", str(ITEMS)), encoding="utf-8")
    return folder


def run(tmp: Path, include: Path, *args: str, cache: str = "cache.sqlite"):
    proc = jeval("run", "--lm-eval-include", include, "--cache", tmp / cache, "--output", tmp / "out", *args,
                 env=OFFLINE, cwd=tmp)
    if proc.returncode != 0:
        return proc, None, None
    path = Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: "))
    return proc, json.loads(path.read_text()), path.parent / "samples"


def read_samples(folder: Path, task: str) -> list[dict]:
    return [json.loads(x) for x in (folder / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def local_run(include, tiny_checkpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lm-eval-any")
    proc, results, samples = run(tmp, include, "--model", str(tiny_checkpoint), "--backend", "local",
                                 "--tasks", "lm-eval:tiny_group,lm-eval:tiny_mc")
    assert results is not None, proc.stderr[-3000:]
    return tmp, results, samples, proc


def test_a_run_outside_a_git_checkout_prints_no_complaint_from_git(local_run):
    """lm-eval asks git for a commit hash in the working directory (here a temporary folder)."""
    assert local_run[3].returncode == 0
    assert "not a git repository" not in local_run[3].stderr


def test_a_group_and_a_task_are_reported_in_the_results_schema(local_run):
    _, results, samples, _ = local_run
    group, mc = results["tasks"]["lm-eval:tiny_group"], results["tasks"]["lm-eval:tiny_mc"]
    assert group["protocol"] == "lm-eval-0.4.13/tiny_group" and mc["protocol"] == "lm-eval-0.4.13/tiny_mc"
    assert group["n_samples"] == 8 and mc["n_samples"] == 4
    assert set(group["subtasks"]) == {"tiny_gen", "tiny_mc"}
    assert group["subtasks"]["tiny_mc"]["acc,none"] == mc["metrics"]["acc,none"]
    assert list(mc["metrics"]) == ["acc,none", "acc_stderr,none"]
    assert group["decoding"]["tiny_gen"]["generation_kwargs"]["max_gen_toks"] == 8
    assert group["data_sources"][0]["dataset_kwargs"]["data_files"]["test"] == str(ITEMS)
    assert len(group["data_fingerprint"]) == 64 and group["data_fingerprint"] != mc["data_fingerprint"]
    rows = read_samples(samples, "lm-eval:tiny_mc")
    assert [r["key"] for r in rows] == ["0", "1", "2", "3"]
    assert sum(r["acc"] for r in rows) / 4 == pytest.approx(mc["metrics"]["acc,none"])
    assert all(len(r["resps"]) == 3 for r in rows)  # one log-likelihood per choice
    grouped = read_samples(samples, "lm-eval:tiny_group")
    assert {r["subtask"] for r in grouped} == {"tiny_gen", "tiny_mc"} and "tiny_gen:0" in {r["key"] for r in grouped}


def test_the_data_fingerprint_is_made_of_lm_evals_own_hashes_of_the_evaluated_documents(local_run, include, tmp_path):
    """lm-eval's results file (written with --output_path --log_samples) records a hash per task
    over its documents, prompts and targets; jeval's fingerprint of a task is made of it."""
    import hashlib
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "lm_eval", "run", "--model", "dummy", "--include_path", include,
                           "--tasks", "tiny_mc", "--output_path", tmp_path, "--log_samples"], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **OFFLINE}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = json.loads(next(tmp_path.rglob("results_*.json")).read_text())["task_hashes"]["tiny_mc"]
    mc = local_run[1]["tasks"]["lm-eval:tiny_mc"]
    assert mc["data_fingerprint"] == hashlib.sha256(f"tiny_mc:{theirs}".encode()).hexdigest()


def test_generated_answers_are_the_in_process_models_greedy_continuations(local_run, tiny_checkpoint):
    from jeval.models.inprocess import LocalSettings
    from jeval.models.local import LocalModel

    _, _, samples, _ = local_run
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size=1))
    for row in (r for r in read_samples(samples, "lm-eval:tiny_group") if r["subtask"] == "tiny_gen"):
        expected = asyncio.run(model.complete(row["prompt"], max_tokens=8, stop=["\n"])).text
        assert row["resps"] == [[expected]]


def test_a_second_run_is_answered_from_the_cache(local_run, include, tiny_checkpoint):
    tmp, first, _, _ = local_run
    proc, again, _ = run(tmp, include, "--model", str(tiny_checkpoint), "--backend", "local",
                         "--tasks", "lm-eval:tiny_mc")
    assert again is not None, proc.stderr[-3000:]
    counts = again["tasks"]["lm-eval:tiny_mc"]["lm_eval"]["requests"]
    assert counts["from_cache"] == counts["loglikelihood"] == 12
    assert again["tasks"]["lm-eval:tiny_mc"]["metrics"] == first["tasks"]["lm-eval:tiny_mc"]["metrics"]


def test_a_likelihood_task_on_transformers_serve_names_the_backends_that_can(include, served, tmp_path):
    proc, results, _ = run(tmp_path, include, "--base-url", served.base_url, "--model-id", served.model_id,
                           "--tasks", "lm-eval:tiny_mc")
    assert results is None and proc.returncode == 2
    line = error_lines(proc)[-1]
    assert line.startswith("jeval: error: lm-eval:tiny_mc need log-likelihoods") and "--backend local" in line


def test_data_that_cannot_be_fetched_offline_is_one_error_line_naming_the_task(include, tiny_checkpoint, tmp_path):
    proc, results, _ = run(tmp_path, include, "--model", str(tiny_checkpoint), "--backend", "local",
                           "--tasks", "lm-eval:tiny_hub")
    assert results is None and proc.returncode == 2
    assert "Traceback" not in proc.stderr
    line = error_lines(proc)[-1]
    assert line.startswith("jeval: error: lm-eval:tiny_hub: its data could not be loaded")
    assert "HF_DATASETS_OFFLINE=1" in line and "HF_DATASETS_CACHE" in line


def test_an_empty_lm_eval_name_is_refused_when_the_run_is_planned(tiny_checkpoint):
    from jeval.errors import JevalError
    from jeval.registry import load_registry

    with pytest.raises(JevalError, match="give an lm-eval task or group after lm-eval:"):
        load_registry().resolve(["lm-eval:"])
    [task] = load_registry().resolve(["lm-eval:hellaswag"])
    assert task.spec.name == "lm-eval:hellaswag" and task.spec.protocol.endswith("/hellaswag")
