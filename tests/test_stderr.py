"""Standard errors beside scores: the analytic error of a mean, a seeded bootstrap for scores over
the whole set, the error of a suite's mean, and a real run in which every score has its error."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest
from conftest import SAMPLES, jeval, run_files
from test_jaster_run import write_llm_jp_eval_files

from jeval.stderr import (
    FEWER_RESAMPLES,
    RESAMPLES,
    SEED,
    bootstrap_stderr,
    bootstrap_stderrs,
    is_stderr_key,
    mean_stderr,
    stderr_key,
    unweighted_mean_stderr,
    with_stderrs,
)
from jeval.tasks.jaster.suite import summarize
from jeval.tasks.ppl.loss import CorpusLoss
from jeval.tasks.ppl.stderr import figure_stderrs


def test_analytic_error_is_the_sample_deviation_over_root_n():
    # [1, 0, 1, 1]: mean 0.75, squared deviations 3 * 0.0625 + 0.5625 = 0.75, / (n - 1) = 0.25,
    # sample deviation 0.5, over sqrt(4): 0.25
    assert mean_stderr([1.0, 0.0, 1.0, 1.0]) == pytest.approx(0.25)
    values = [0.2, 0.9, 0.4, 0.4, 0.75, 0.1]
    assert mean_stderr(values) == pytest.approx(statistics.stdev(values) / math.sqrt(len(values)))


def test_analytic_error_equals_lm_evals_mean_stderr():
    from lm_eval.api.metrics import mean_stderr as lm_eval_mean_stderr

    values = [0.0, 1.0, 1.0, 0.0, 1.0, 0.5, 0.25]
    assert mean_stderr(values) == pytest.approx(lm_eval_mean_stderr(values), rel=1e-12)


def test_one_item_has_no_error():
    assert mean_stderr([1.0]) is None
    assert bootstrap_stderr(lambda xs: sum(xs) / len(xs), [3.0]) is None


def test_bootstrap_is_deterministic_with_its_seed_and_moves_with_another():
    items = [float(i % 7) for i in range(50)]
    mean = lambda xs: sum(xs) / len(xs)
    first = bootstrap_stderr(mean, items, seed=SEED)
    assert first == bootstrap_stderr(mean, items, seed=SEED)
    assert first != bootstrap_stderr(mean, items, seed=SEED + 1)
    # for a mean, the bootstrap estimates the analytic error (within the resampling noise)
    assert first == pytest.approx(mean_stderr(items), rel=0.1)


def test_bootstrap_leaves_out_resamples_where_the_score_is_undefined():
    found = bootstrap_stderrs(lambda xs: {"x": sum(xs) / len(xs), "never": float("nan")}, [0.0, 1.0, 2.0, 5.0],
                              ["x", "never"], resamples=200)
    assert found["x"] is not None and found["never"] is None


def test_error_keys_are_named_as_lm_eval_names_them():
    assert stderr_key("exact_match") == "exact_match_stderr"
    assert stderr_key("acc,none") == "acc_stderr,none"
    assert stderr_key("bits_per_byte,lang=ja") == "bits_per_byte_stderr,lang=ja"
    assert is_stderr_key("acc_stderr,none") and not is_stderr_key("acc,none")


def test_mean_scores_get_the_analytic_error_and_others_a_bootstrap_of_the_tasks_own_aggregation():
    scores = [{"exact_match": float(i % 3 == 0), "y": float(i), "p": float(i % 5)} for i in range(30)]

    def aggregate(rows):
        mean_y = sum(r["y"] for r in rows) / len(rows)
        mean_p = sum(r["p"] for r in rows) / len(rows)
        covariance = sum((r["y"] - mean_y) * (r["p"] - mean_p) for r in rows)
        spread = math.sqrt(sum((r["y"] - mean_y) ** 2 for r in rows) * sum((r["p"] - mean_p) ** 2 for r in rows))
        return {"exact_match": sum(r["exact_match"] for r in rows) / len(rows),
                "pearson": covariance / spread if spread else 0.0, "details": {"n": len(rows)}}

    metrics = aggregate(scores)
    found = with_stderrs(metrics, scores, aggregate)
    assert {k: v for k, v in found.metrics.items() if not is_stderr_key(k)} == metrics
    assert list(found.metrics) == ["exact_match", "exact_match_stderr", "pearson", "pearson_stderr", "details"]
    assert found.metrics["exact_match_stderr"] == pytest.approx(mean_stderr([s["exact_match"] for s in scores]))
    assert found.record["method"] == {"exact_match": "mean", "pearson": "bootstrap"}
    assert found.record["bootstrap"] == {"resamples": RESAMPLES, "seed": SEED, "unit": "scored item"}
    assert found.metrics["pearson_stderr"] > 0
    assert with_stderrs(metrics, scores, aggregate).metrics == found.metrics


def test_scores_already_with_an_error_keep_it_and_costly_metrics_are_resampled_less():
    metrics = {"acc,none": 0.5, "acc_stderr,none": 0.1}
    assert with_stderrs(metrics, [{}, {}]).metrics == metrics
    scores = [{"prediction": str(i)} for i in range(10)]
    found = with_stderrs({"rouge2": 12.0}, scores, lambda rows: {"rouge2": float(len({r["prediction"] for r in rows}))})
    assert found.record["bootstrap"]["resamples"] == FEWER_RESAMPLES["rouge2"] == 100


def test_a_score_that_cannot_be_resampled_is_marked_with_the_reason():
    found = with_stderrs({"pearson": 0.3}, [{"p": 1.0}, {"p": 2.0}])
    assert found.metrics["pearson_stderr"] is None
    assert "cannot be recomputed" in found.record["missing"]["pearson"]
    failing = with_stderrs({"pearson": 0.3}, [{"p": 1.0}, {"p": 2.0}], lambda rows: 1 / 0)
    assert failing.metrics == {"pearson": 0.3, "pearson_stderr": None}
    assert failing.record["missing"]["pearson"].startswith("bootstrap failed: ZeroDivisionError")


def test_suite_mean_error_is_root_sum_of_squares_over_k_as_lm_eval_computes_it():
    from lm_eval.api.metrics import unweighted_mean_stderr as lm_eval_unweighted

    errors = [0.1, 0.05, 0.2]
    assert unweighted_mean_stderr(errors) == pytest.approx(math.sqrt(0.01 + 0.0025 + 0.04) / 3)
    assert unweighted_mean_stderr(errors) == pytest.approx(lm_eval_unweighted(errors))
    assert unweighted_mean_stderr([0.1, None]) is None


def test_perplexity_errors_are_a_bootstrap_over_documents():
    docs = [CorpusLoss(float(10 + i), 5 + i % 3, 20, 40 + i, 1, 1) for i in range(12)]
    errors = figure_stderrs(docs)
    assert errors == figure_stderrs(docs)
    assert set(errors) == {"bits_per_byte", "bits_per_char", "loss", "perplexity"}
    assert all(e is not None and e > 0 for e in errors.values())
    assert figure_stderrs(docs[:1]) == dict.fromkeys(errors)


@pytest.fixture(scope="module")
def jaster_data(tmp_path_factory) -> Path:
    """Jaster datasets in llm-jp-eval's evaluation format (test_jaster_run's files), prepared with the
    project's sample frame."""
    root = tmp_path_factory.mktemp("stderr-data")
    source = write_llm_jp_eval_files(root / "llm-jp-eval")
    proc = jeval("data", "prepare", "jnli", "jamp", "niilc", "jsquad", "chabsa", "jsts", "--jaster-dir", source,
                 "--mirror", SAMPLES, "--data-dir", root / "data")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "data"


@pytest.fixture(scope="module")
def jaster_results(served, jaster_data, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("stderr-run")
    proc = jeval("run", "--base-url", served.base_url, "--model-id", served.model_id, "--tasks",
                 "jnli,jamp,niilc,jsquad,chabsa,jsts", "--limit", "3", "--data-dir", jaster_data,
                 "--cache", out / "cache.sqlite", "--output", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = run_files(out, "results.json")
    return json.loads(path.read_text())


def test_every_score_of_a_run_has_its_error_beside_it(jaster_results):
    for name, task in jaster_results["tasks"].items():
        metrics = task["metrics"]
        scores = [k for k, v in metrics.items() if isinstance(v, float) and not is_stderr_key(k)]
        assert scores, name
        for key in scores:
            assert stderr_key(key) in metrics, (name, key)
            error = metrics[stderr_key(key)]
            assert error is None or error >= 0.0
            assert key in task["stderr"]["method"] or key in task["stderr"].get("missing", {})
    jnli = jaster_results["tasks"]["jnli"]
    assert jnli["stderr"]["method"]["exact_match"] == "mean" and jnli["stderr"]["n"] == 3
    jsts = jaster_results["tasks"]["jsts"]
    assert jsts["stderr"]["method"]["pearson"] == jsts["stderr"]["method"]["spearman"] == "bootstrap"
    assert jsts["stderr"]["bootstrap"] == {"resamples": RESAMPLES, "seed": SEED, "unit": "scored item"}


def test_analytic_errors_of_a_run_equal_the_formula_on_its_samples(jaster_results):
    folder = Path(jaster_results["config"]["output_dir"])
    [samples] = folder.glob(f"*/{jaster_results['run_id']}/samples/niilc.jsonl")
    values = [json.loads(line)["char_f1"] for line in samples.read_text().splitlines()]
    metrics = jaster_results["tasks"]["niilc"]["metrics"]
    assert metrics["char_f1"] == pytest.approx(sum(values) / len(values))
    assert metrics["char_f1_stderr"] == pytest.approx(mean_stderr(values))


def test_suite_errors_follow_from_the_task_errors(jaster_results):
    summary = jaster_results["summaries"]["jaster"]
    tasks = jaster_results["tasks"]
    nli = [tasks[n]["metrics"]["exact_match_stderr"] for n in ("jnli", "jamp")]
    assert summary["categories_stderr"]["NLI"] == pytest.approx(unweighted_mean_stderr(nli))
    assert summary["categories_stderr"]["MC"] is None and summary["categories"]["MC"] is None
    averaged = [summary["categories_stderr"][c] if summary["categories"][c] is not None else 0.0
                for c in summary["averaged_categories"]]
    assert summary["AVG_stderr"] == pytest.approx(unweighted_mean_stderr(averaged))
    recomputed = summarize(tasks)
    assert recomputed is not None and recomputed["AVG"] == summary["AVG"]
    assert recomputed["AVG_stderr"] == summary["AVG_stderr"]


def test_samples_of_one_problem_are_resampled_together_for_pass_at_k():
    """pass@k's error draws problems, each with all its samples: drawing samples apart would treat
    ten samples of one problem as ten independent problems (understating the error) and leave
    resampled problems with fewer samples than pass@10 needs."""
    from jeval.tasks.jhumaneval.task import JHumanEvalTask

    task = JHumanEvalTask()
    scores = [{"task_id": f"JHumanEval/{p}", "passed": s < (p * 3) % 11, "result": "passed" if s < (p * 3) % 11
               else "failed: AssertionError"} for p in range(12) for s in range(10)]
    metrics = task.aggregate(scores)
    found = with_stderrs(metrics, scores, task.aggregate, item=task.item_field)
    assert found.record["bootstrap"]["unit"] == "item (task_id), with all its scores"
    assert found.record["items"] == 12 and found.record["n"] == 120
    per_problem = [((p * 3) % 11) / 10 for p in range(12)]
    assert metrics["pass@1"] == pytest.approx(statistics.mean(per_problem))
    assert found.metrics["pass@1_stderr"] == pytest.approx(mean_stderr(per_problem), rel=0.15)
    assert found.metrics["pass@10_stderr"] is not None and found.metrics["pass@10_stderr"] > 0

    apart = with_stderrs(metrics, scores, task.aggregate)
    assert apart.metrics["pass@1_stderr"] < 0.8 * found.metrics["pass@1_stderr"]
