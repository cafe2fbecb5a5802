"""`jeval export lmeval RUN_DIR`: a real run's results in lm-eval's aggregated results layout, read
back by lm-eval's own code (its results-file finders and `make_table`, which `lm_eval run` prints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, error_lines, jeval, run_files
from test_jaster_run import write_llm_jp_eval_files

from jeval.export_lmeval import lm_eval_results, sanitize_model_name


@pytest.fixture(scope="module")
def run_dir(tiny_checkpoint, tmp_path_factory) -> Path:
    """A Jaster run of the tiny checkpoint in process (three categories, a correlation)."""
    root = tmp_path_factory.mktemp("export")
    source = write_llm_jp_eval_files(root / "llm-jp-eval")
    proc = jeval("data", "prepare", "jnli", "jamp", "niilc", "jsquad", "jsts", "--jaster-dir", source,
                 "--mirror", SAMPLES, "--data-dir", root / "data")
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = jeval("run", "--model", tiny_checkpoint, "--backend", "local", "--tasks", "jnli,jamp,niilc,jsquad,jsts",
                 "--limit", "3", "--seed", "11", "--data-dir", root / "data", "--cache", root / "cache.sqlite",
                 "--output", root / "out", "--name", "tiny/ckpt")
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = run_files(root / "out", "results.json")
    return path.parent


def exported(run_dir: Path, *extra: str) -> tuple[Path, dict]:
    proc = jeval("export", "lmeval", run_dir, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = Path(proc.stdout.strip().splitlines()[-1])
    return path, json.loads(path.read_text(encoding="utf-8"))


def test_export_lands_where_lm_eval_writes_and_lm_evals_finders_pick_it(run_dir):
    from lm_eval.utils import get_latest_filename, get_results_filenames

    path, data = exported(run_dir)
    assert path.parent == run_dir / "lm-eval" / sanitize_model_name("tiny/ckpt") == run_dir / "lm-eval" / "tiny__ckpt"
    assert path.name.startswith("results_") and ":" not in path.name
    names = [str(p) for p in (run_dir / "lm-eval").rglob("*.json")]
    assert get_latest_filename(get_results_filenames(names)) == str(path)
    assert data["model_name"] == "tiny/ckpt" and data["model_name_sanitized"] == "tiny__ckpt"


def table_rows(markdown: str) -> dict[tuple[str, str], tuple[float, str]]:
    """make_table's markdown as (task or group, metric) -> (value, stderr cell); a row with an
    empty first cell belongs to the task above it."""
    rows: dict[tuple[str, str], tuple[float, str]] = {}
    name = ""
    for line in markdown.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 9:
            continue
        name = cells[0].removeprefix("- ") or name
        rows[(name, cells[4])] = (float(cells[6]), cells[8])
    return rows


def test_lm_evals_make_table_reads_every_score_and_its_error(run_dir):
    from lm_eval.utils import make_table

    _, data = exported(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    shown = table_rows(make_table(data))
    checked = 0
    for name, task in results["tasks"].items():
        for metric in ("exact_match", "char_f1", "pearson", "spearman"):
            if metric not in task["metrics"]:
                continue
            value, error = task["metrics"][metric], task["metrics"][f"{metric}_stderr"]
            entry = data["results"][name]
            assert entry[f"{metric},none"] == value
            assert entry[f"{metric}_stderr,none"] == (error if error is not None else "N/A")
            cell_value, cell_error = shown[(name, metric)]
            assert cell_value == pytest.approx(value, abs=5e-5)
            assert cell_error == "N/A" if error is None else float(cell_error) == pytest.approx(error, abs=5e-5)
            checked += 1
    assert checked == 6
    groups = table_rows(make_table(data, "groups"))
    summary = results["summaries"]["jaster"]
    value, error = groups[("jaster", "avg")]
    assert value == pytest.approx(summary["AVG"], abs=5e-5)
    assert float(error) == pytest.approx(summary["AVG_stderr"], abs=5e-5)
    assert groups[("jaster NLI", "mean")][0] == pytest.approx(summary["categories"]["NLI"], abs=5e-5)
    assert data["group_subtasks"]["jaster"] == ["jaster_nli", "jaster_qa", "jaster_rc", "jaster_sts"]
    assert sorted(data["group_subtasks"]["jaster_nli"]) == ["jamp", "jnli"]


def test_export_carries_lm_evals_run_fields(run_dir):
    _, data = exported(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    assert data["versions"]["jnli"] == results["tasks"]["jnli"]["protocol"]
    assert data["n-shot"]["jnli"] == 4 and data["n-samples"]["jnli"] == {"original": None, "effective": 3}
    assert data["higher_is_better"]["jnli"] == {"exact_match": True, "out_of_label_set": False,
                                                "lenient_exact_match": True}
    assert data["config"]["random_seed"] == 11 and data["config"]["limit"] == 3
    assert data["git_hash"] == (results["versions"]["jeval_git"] or {}).get("commit")
    assert isinstance(data["date"], float) and data["lm_eval_version"] == results["versions"]["lm_eval"]
    assert data["jeval"]["fingerprint"] == results["model"]["fingerprint"]


def test_out_writes_the_file_asked_for(run_dir, tmp_path):
    target = tmp_path / "elsewhere" / "lm.json"
    path, data = exported(run_dir, "--out", target)
    assert path == target and "results" in data


def test_lm_eval_tasks_keep_their_own_keys_and_errors():
    results = {"run_id": "r", "created": "2026-12-01T10:00:00.000000+0900", "model": {"name": "m"},
               "tasks": {"jl_jnli": {"protocol": "lm-eval-0.4.13/jl_jnli", "shots": 3, "n_samples": 20, "limit": None,
                                     "metrics": {"acc,none": 0.55, "acc_stderr,none": 0.11}}},
               "summaries": {}}
    data = lm_eval_results(results, Path("results.json"))
    assert data["results"]["jl_jnli"] == {"name": "jl_jnli", "alias": "jl_jnli", "sample_len": 20, "acc,none": 0.55,
                                          "acc_stderr,none": 0.11}
    assert data["n-samples"]["jl_jnli"] == {"original": 20, "effective": 20}
    assert "groups" not in data


def test_a_folder_without_a_run_is_one_error_line(tmp_path):
    proc = jeval("export", "lmeval", tmp_path)
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert line.startswith("jeval: error:") and "no results.json" in line
    (tmp_path / "results.json").write_text('{"schema": "other"}')
    proc = jeval("export", "lmeval", tmp_path)
    assert proc.returncode == 2 and "not a `jeval run` results file" in proc.stderr and "Traceback" not in proc.stderr
