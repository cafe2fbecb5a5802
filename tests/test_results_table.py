"""The console summary of a run (`format_table`), on results written here by hand: only what ran is
shown, every score with its standard error, every mean with its metric and what it covers, and
numbers that are not scores say what they are."""

from __future__ import annotations

import pytest

from jeval.results import format_table
from jeval.tasks.jaster.suite import summarize


def task(category: str, metrics: dict, protocol: str = "jeval-jaster-1", n: int = 10) -> dict:
    return {"protocol": protocol, "category": category, "shots": 4, "n_samples": n, "metrics": metrics}


def results(tasks: dict, summaries: dict | None = None) -> dict:
    return {"model": {"name": "tiny", "fingerprint": "sha256:0123456789abcdef0123", "identity_basis": "weights"},
            "backend": {"engine": "transformers"}, "tasks": tasks, "summaries": summaries or {}}


def jaster(tasks: dict) -> dict:
    summary = summarize(tasks)
    assert summary is not None
    return results(tasks, {"jaster": summary})


def jglue(tasks: dict) -> dict:
    from jeval.registry import load_registry

    summary = load_registry().suites["jglue"].summarize(tasks)
    assert summary is not None
    return results(tasks, {"jglue": summary})


ONE_JASTER = jaster({"jnli": task("NLI", {"exact_match": 0.5, "exact_match_stderr": 0.1581})})
THREE_JASTER = jaster({
    "jnli": task("NLI", {"exact_match": 0.5, "exact_match_stderr": 0.1581}),
    "jamp": task("NLI", {"exact_match": 0.3, "exact_match_stderr": 0.1528}),
    "niilc": task("QA", {"char_f1": 0.2, "char_f1_stderr": 0.05}),
    "jsts": task("STS", {"pearson": 0.4, "pearson_stderr": 0.2, "spearman": 0.35, "spearman_stderr": 0.21}),
})
JGLUE_ONE = jglue({"jl_jnli": task("JGLUE", {"acc,none": 0.6, "acc_stderr,none": 0.05}, "lm-eval-0.4.13")})
MT_BENCH = results({"jmt_bench": task("MT-Bench", {"answered_turns": 1.0, "answered_turns_stderr": 0.0},
                                      "jmt-bench-fastchat-v1")})
PPL = results({"ppl": task("PPL", {"bits_per_byte": 1.2345, "bits_per_byte_stderr": 0.0123, "loss": 2.5,
                                   "bits_per_byte,lang=ja": 1.3, "bits_per_byte_stderr,lang=ja": 0.02},
                           "jeval-ppl/1")})

CASES = [
    # (results, lines that must appear, texts that must not)
    (ONE_JASTER,
     ["jnli", "exact_match", "0.5000", "±0.1581", "[jaster NLI, 1 of 5 datasets]", "mean exact_match",
      "[jaster AVG, 1 of 11 categories]", "mean of categories",
      "note: jaster AVG counts the 10 categories that did not run as 0, as llm-jp-eval does: QA, RC, MC"],
     ["[jaster QA", "[jaster MC", "[jaster STS", "[MC]", "[QA]"]),
    (THREE_JASTER,
     ["[jaster NLI, 2 of 5 datasets]", "[jaster QA, 1 of 3 datasets]", "mean char_f1",
      "[jaster STS, 1 of 1 dataset; not in AVG]", "mean pearson", "[jaster AVG, 2 of 11 categories]",
      "pearson", "±0.2000", "spearman", "±0.2100"],
     ["[jaster RC", "[jaster MC"]),
    (JGLUE_ONE,
     ["jl_jnli", "acc,none", "0.6000", "±0.0500", "[jglue AVG, 1 of 4 tasks]", "mean of each task's first metric",
      "note: jglue AVG is a partial mean over 1 of its 4 tasks (lacks jl_jcommonsenseqa, jl_marc_ja, jl_jsquad)"],
     ["acc_stderr", "[jl_jnli]"]),
    (MT_BENCH,
     ["answered_turns", "share of turns answered, not a score: grade the answers with `jeval judge`"],
     ["[MT-Bench]", "mean"]),
    (PPL,
     ["bits_per_byte", "1.2345", "±0.0123", "bits per UTF-8 byte, lower is better", "bits_per_byte,lang=ja",
      "±0.0200", "nats per token, lower is better"],
     ["[PPL]", "bits_per_byte_stderr"]),
]


@pytest.mark.parametrize(("given", "shown", "hidden"), CASES, ids=["one-jaster", "three-jaster", "jglue-partial",
                                                                  "mt-bench", "ppl"])
def test_console_summary(given, shown, hidden):
    table = format_table(given)
    for text in shown:
        assert text in table, (text, table)
    for text in hidden:
        assert text not in table, (text, table)


def test_each_score_row_carries_its_error_in_the_stderr_column():
    lines = format_table(THREE_JASTER).splitlines()
    header = lines[1]
    stderr_at = header.index("stderr")
    row = next(line for line in lines if line.startswith("jamp"))
    assert row[stderr_at:].split()[0] == "±0.1528"
    avg = next(line for line in lines if line.startswith("[jaster AVG"))
    summary = THREE_JASTER["summaries"]["jaster"]
    assert avg[stderr_at:].split()[0] == f"±{summary['AVG_stderr']:.4f}"


def test_a_score_without_an_error_shows_none_rather_than_a_guess():
    table = format_table(results({"jnli": task("NLI", {"exact_match": 1.0, "exact_match_stderr": None}, n=1)}))
    row = next(line for line in table.splitlines() if line.startswith("jnli"))
    assert row.rstrip().endswith("1.0000")
