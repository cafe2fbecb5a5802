"""A whole `jaster` run against a real served tiny checkpoint: every dataset prepared from files in
llm-jp-eval's evaluation format (written here), per-dataset metrics, per-category scores and AVG
in results.json, and a second run answered from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import jeval, run_files

from jeval.tasks.jaster.suite import MEMBERS

# Reference outputs shaped like each metric's upstream data (set_f1: one item per line; mbpp:
# llm-jp-eval's list of assert statements; jsts: a similarity score).
OUTPUTS = {
    "exact_match": "1", "char_f1": "東京都", "set_f1": "東京 地名\n京都 地名", "pearson": "3.0",
    "comet_wmt22": "今日は晴れです。", "code_exec": "['assert add(1, 2) == 3']", "rouge2": "今日は晴れの一日でした。",
}
METRICS = {
    "exact_match": ["exact_match"], "char_f1": ["char_f1"], "set_f1": ["set_f1"], "pearson": ["pearson", "spearman"],
    "comet_wmt22": ["bleu_ja", "char_f1", "comet_wmt22"], "code_exec": ["code_exec"], "rouge2": ["rouge2"],
}
ITEMS = {"train": 5, "dev": 2, "test": 3}


def write_llm_jp_eval_files(root: Path) -> Path:
    base = root / "1.4.1" / "evaluation"
    for member in MEMBERS:
        for split, n in ITEMS.items():
            samples = [{"input": f"質問：{member.name}の{split}問題{i}", "output": OUTPUTS[member.metric]}
                       for i in range(n)]
            if member.metric == "pearson":
                samples = [{**s, "output": f"{i}.0"} for i, s in enumerate(samples)]
            data = {"instruction": f"{member.name}の指示文。", "output_length": 8,
                    "metrics": METRICS[member.metric], "few_shots": [], "samples": samples}
            (base / split).mkdir(parents=True, exist_ok=True)
            (base / split / f"{member.name}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture
def jaster_data(sample_mirror, tmp_path) -> Path:
    data_dir = tmp_path / "data"
    source = write_llm_jp_eval_files(tmp_path / "llm-jp-eval")
    proc = jeval("data", "prepare", "jaster", "jsts", "xlsum_ja", "--jaster-dir", source,
                 "--mirror", sample_mirror[1], "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return data_dir


def run(served, data_dir: Path, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "results"
    proc = jeval("run", "--base-url", served.base_url, "--model-id", served.model_id, "--data-dir", data_dir,
                 "--cache", tmp_path / "cache.sqlite", "--output", out, *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    newest = max(run_files(out, "results.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(newest.read_text())


def test_full_jaster_run_reports_categories_and_avg_and_resumes(served, jaster_data, tmp_path):
    first = run(served, jaster_data, tmp_path, "--tasks", "jaster,jsts", "--limit", "1", "--run-id", "first")
    assert first["requests"]["from_cache"] == 0

    results = run(served, jaster_data, tmp_path, "--tasks", "jaster,jsts", "--limit", "2", "--run-id", "second")
    assert len(results["tasks"]) == 28
    assert (results["requests"]["total"], results["requests"]["from_cache"]) == (56, 28)

    summary = results["summaries"]["jaster"]
    # the splits are llm-jp-eval's own files; the prompt frame is the project's stand-in utils.py
    assert summary["protocol"] == "llm-jp-eval-1.4.1+standin-prompts"
    for category in ("NLI", "QA", "RC", "MC", "EL", "FA", "MR", "HE", "CG"):
        members = [m for m in MEMBERS if m.category == category]
        expected = sum(results["tasks"][m.name]["metrics"][m.metric] for m in members) / len(members)
        assert summary["categories"][category] == pytest.approx(expected), category
    assert summary["categories"]["SUM"] is None and "xlsum_ja" in summary["missing"]
    assert summary["categories"]["STS"] == results["tasks"]["jsts"]["metrics"]["pearson"] or (
        summary["categories"]["STS"] is None and "jsts" in summary["missing"])
    counted = [summary["categories"][c] or 0.0 for c in summary["averaged_categories"]]
    assert len(counted) == 11
    assert summary["AVG"] == pytest.approx(sum(counted) / 11)
    assert "SUM" in summary["missing_categories_count_as_zero"]

    jnli = results["tasks"]["jnli"]
    assert jnli["n_samples"] == 2 and jnli["shots"] == 4 and jnli["limit"] == 2
    assert jnli["decoding"]["stop"] == ["\n\n"] and jnli["decoding"]["max_tokens"] == [8]
    assert results["tasks"]["mbpp"]["shots"] == 0
    rows = [json.loads(line) for line in
            next((tmp_path / "results").glob("*/second/samples/jnli.jsonl")).read_text().splitlines()]
    assert rows[0]["prompt"].count("### 入力:") == 5
    assert all(r["exact_match"] == float(r["prediction"] == r["reference"]) for r in rows)


def test_xlsum_runs_when_named(served, jaster_data, tmp_path):
    results = run(served, jaster_data, tmp_path, "--tasks", "xlsum_ja", "--limit", "1")
    task = results["tasks"]["xlsum_ja"]
    assert task["shots"] == 0 and "rouge2" in task["metrics"]
    assert results["summaries"]["jaster"]["categories"]["SUM"] == pytest.approx(task["metrics"]["rouge2"] / 100)
