"""Answer-format diagnostics for tasks whose answer is a number (MGSM in Jaster and in lm-eval's
japanese_leaderboard, MAWPS): the share out of format and a lenient score under its own name,
beside a strict score that stays as the protocol defines it."""

from __future__ import annotations

import pytest
from conftest import jeval

from jeval.tasks.japanese_leaderboard.diagnostics import number_diagnostics
from jeval.tasks.numeric_answer import canonical_number, lenient_number


@pytest.mark.parametrize("text,number", [("12", "12"), (" 12。", "12"), ("１２", "12"), ("1,000", "1000"),
                                         ("12.0", "12"), ("-3", "-3"), ("3.5", "3.5"), ("abc", None),
                                         ("12と13", None), ("", None), ("1,00", None)])
def test_a_canonical_number_is_one_number_in_any_width_with_thousands_separators(text, number):
    assert canonical_number(text) == number


@pytest.mark.parametrize("output,number", [("答えは１２です", "12"), ("3個と4個で、合計7個。", "7"),
                                           ("まず1,200円、次に3円。答え: 1,203", "1203"), ("わかりません", None)])
def test_the_lenient_reading_is_the_last_number_of_the_output(output, number):
    assert lenient_number(output) == number


def row(doc_id: int, raw: str, answer: int, filtered: str | None = None, filter_name: str = "none") -> dict:
    """A samples row as jeval folds lm-eval's logged samples."""
    return {"key": str(doc_id), "filter": filter_name, "resps": [[raw]],
            "filtered_resps": [raw if filtered is None else filtered], "doc": {"answer_number": answer}}


def test_jl_mgsm_strict_reading_is_lm_evals_own_extraction():
    rows = [row(0, "ステップ：3+4=7。答えは7です。", 7),
            row(1, "答えは１２です。", 12),  # full-width digits: lm-eval reads no number
            row(2, "わかりません", 5)]
    metrics, out = number_diagnostics(rows, "none")
    assert [r["out_of_format"] for r in out] == [0.0, 1.0, 1.0]
    assert [r["lenient_prediction"] for r in out] == ["7", "12", None]
    assert metrics == {"out_of_format": pytest.approx(2 / 3), "lenient_exact_match": pytest.approx(2 / 3)}


def test_mgsm_variants_read_the_strict_match_filter_and_leave_the_other_filters_rows_alone():
    rows = [row(0, "7", 7, "7", "strict-match"), row(0, "7", 7, "7", "flexible-extract"),
            row(1, "答えは１２", 12, "答えは１２", "strict-match"),
            row(1, "答えは１２", 12, "[invalid]", "flexible-extract")]
    metrics, out = number_diagnostics(rows, "strict-match")
    assert metrics == {"out_of_format": 0.5, "lenient_exact_match": 1.0}
    assert "out_of_format" not in out[1] and "out_of_format" not in out[3]
    assert out[2]["lenient_exact_match"] == 1.0


def test_jaster_number_datasets_report_the_diagnostics_beside_exact_match(jaster_mirror, tmp_path):
    from jeval.registry import load_registry
    from jeval.task import TaskInputs

    proc = jeval("data", "prepare", "mgsm", "--mirror", jaster_mirror[1], "--data-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    task = load_registry().tasks["mgsm"]
    requests = task.requests(TaskInputs(tmp_path / "mgsm", 0, None)).requests[:3]
    assert all(r.metadata["answer_form"] == "number" and "label_set" not in r.metadata for r in requests)
    first, second, third = requests
    scores = [task.score(first, first.target),
              task.score(second, f"計算すると{int(second.target):,}円です"),
              task.score(third, "わかりません")]
    assert [s["exact_match"] for s in scores] == [1.0, 0.0, 0.0]
    assert [s["out_of_format"] for s in scores] == [0.0, 1.0, 1.0]
    assert [s["lenient_exact_match"] for s in scores] == [1.0, 1.0, 0.0]
    summary = task.aggregate(scores)
    assert summary["exact_match"] == pytest.approx(1 / 3)
    assert summary["out_of_format"] == pytest.approx(2 / 3) and summary["lenient_exact_match"] == pytest.approx(2 / 3)
    assert "out_of_label_set" not in summary
