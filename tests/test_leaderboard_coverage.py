"""The leaderboard never shows an incomplete judge score as a plain number.

The case from the security review: a judge run in which 153 of 160 judgments failed gave MT-Bench
10.0 (100.00 on the table) from 7 judgments in 4 of 8 categories. Here that run sits beside two
complete ones: in Markdown, CSV, JSON and HTML its score is marked incomplete with a note saying
how much was judged, is never bold, sorts after the complete scores, makes the combined score
built on it incomplete too and is left out of correlations. Judge results are written as
judges/run.py writes them, the scores by `summarize_single` over records in `single_record`'s shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import jeval
from leaderboard_support import jaster_task, write_jeval_run, write_ratings

from jeval.io import atomic_write_json
from jeval.judges.aggregate import summarize_single
from jeval.judges.coverage import expected_judgments
from jeval.leaderboard.arena_input import load_arena
from jeval.leaderboard.collect import collect
from jeval.leaderboard.correlate import correlate
from jeval.leaderboard.table import build
from jeval.tasks.jmt_bench.files import CATEGORIES

CREATED = "2026-03-04T10:00:00+0000"
QUESTIONS = [(100 + 10 * c + q, category) for c, category in enumerate(CATEGORIES) for q in range(10)]
"""Japanese MT-Bench's shape: 8 categories of 10 questions, 2 turns each: 160 judgments a model."""
GAMER_JUDGED = [("writing", 2), ("roleplay", 2), ("extraction", 2), ("stem", 1)]
NOTE = ("Incomplete judge score, marked (incomplete), never bold or ranked: fewer judgments gave a verdict than the "
        "judge run's coverage rule asks (by default 95% of the items and every category), so the mean stands on "
        "part of the benchmark only: gamer-7b MT-Bench 7 of 160 judged (4%), 4 of 8 categories; not judged: "
        "no_verdict 53, request_error 100")


def record(model: str, qid: int, category: str, turn: int, score: float | None, failure: str | None = None
           ) -> dict[str, Any]:
    return {"question_id": qid, "model": model, "judge": ["gpt-4o", "single-v1"],
            "score": -1 if score is None else score, "turn": turn, "category": category, "repeat": 0,
            "prompt_set": "jeval-ja-v1", "failure": failure, "failure_detail": None if failure is None else "why",
            "judgment": None}


def gamer_records() -> list[dict[str, Any]]:
    """7 judgments of 10 in 4 categories; 100 request errors and 53 unreadable verdicts."""
    judged = dict(GAMER_JUDGED)
    out, errors = [], 0
    for qid, category in QUESTIONS:
        for turn in (1, 2):
            if judged.get(category, 0) > 0:
                judged[category] -= 1
                out.append(record("gamer-7b", qid, category, turn, 10))
            else:
                failure = "request_error" if errors < 100 else "no_verdict"
                errors += 1
                out.append(record("gamer-7b", qid, category, turn, None, failure))
    return out


def complete_records(model: str, score: float) -> list[dict[str, Any]]:
    return [record(model, qid, category, turn, score) for qid, category in QUESTIONS for turn in (1, 2)]


def write_judge_results(root: Path, run_id: str, records: list[dict[str, Any]], drop_coverage: bool = False,
                        drop_counts: bool = False) -> Path:
    expected = expected_judgments(((c, 2) for _, c in QUESTIONS), (1, 2), 1)
    scores = summarize_single(records, 1, expected=expected)
    for s in scores.values():
        if drop_coverage or drop_counts:
            del s["coverage"]
        if drop_counts:
            del s["judgments"], s["failures"]
    folder = root / "judge" / "single-gpt-4o-jeval-ja-v1" / run_id
    results = {"jeval_version": "0.1.0", "mode": "single", "created": CREATED,
               "judge": {"model": "gpt-4o", "identity": "gpt-4o", "base_urls": [], "temperature": 0.0,
                         "max_tokens": 2048},
               "prompt_set": {"name": "jeval-ja-v1", "fingerprint": "x", "prompts": {}}, "reference": "gpt-4",
               "turns": [1, 2], "repeat": 1, "answers": [], "models": sorted(scores),
               "questions": dict.fromkeys(scores, 80), "requests": {}, "config": {}, "scores": scores,
               "failures": sum(1 for r in records if r["failure"]), "judgments": len(records),
               "coverage": {"rule": {"min_share": 0.95, "every_category": True}}, "timings": {}}
    atomic_write_json(folder / "results.json", results)
    return folder / "results.json"


def write_board(root: Path) -> Path:
    results = root / "results"
    for model in ("ace-7b", "steady-7b", "gamer-7b", "fourth-7b"):
        write_jeval_run(results, model, f"r-{model}", "2026-03-01T10:00:00+0000",
                        {"jamp": jaster_task("jamp", 0.55)})
    write_judge_results(results, "j1", gamer_records() + complete_records("ace-7b", 8)
                        + complete_records("steady-7b", 6) + complete_records("fourth-7b", 4))
    return results


def board(results: Path, fmt: str, columns: str = "combined,mtbench") -> str:
    proc = jeval("leaderboard", results, "--format", fmt, "--columns", columns)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_review_case_is_incomplete_in_the_judges_results():
    cov = summarize_single(gamer_records(), 1)["gamer-7b"]["coverage"]
    assert (cov["expected"], cov["judged"], cov["failed"], cov["complete"]) == (160, 7, 153, False)
    assert cov["categories_missing"] == ["reasoning", "math", "coding", "humanities"]
    assert cov["summary"] == "7 of 160 judged (4%), 4 of 8 categories; not judged: no_verdict 53, request_error 100"


def test_markdown_marks_the_incomplete_score_and_never_bolds_or_ranks_it(tmp_path):
    md = board(write_board(tmp_path), "md").splitlines()
    assert md[0] == ("| Model | Combined (Nejumi)[3] | MT-Bench[4] | MT-Bench writing[4] | MT-Bench roleplay[4] "
                     "| MT-Bench reasoning | MT-Bench math | MT-Bench coding | MT-Bench extraction[4] "
                     "| MT-Bench stem[4] | MT-Bench humanities |")
    assert md[-3] == ("4. Compare with care: MT-Bench, MT-Bench writing, MT-Bench roleplay, MT-Bench extraction, "
                      "MT-Bench stem stand on different data or numbers of items for different models (data "
                      "fingerprint or item count differs for judged items (ace-7b, fourth-7b, steady-7b | gamer-7b)).")
    assert md[2] == "| ace-7b | **42.50** " + "| **80.00** " * 9 + "|"
    assert md[3] == "| steady-7b | 32.50 " + "| 60.00 " * 9 + "|"
    assert md[4] == "| fourth-7b | 22.50 " + "| 40.00 " * 9 + "|"
    assert md[5] == ("| gamer-7b | 52.50 (incomplete)[6] " + "| 100.00 (incomplete)[5] " * 3 + "| – " * 3
                     + "| 100.00 (incomplete)[5] " * 2 + "| – |")
    assert md[-2] == (f"5. {NOTE}; gamer-7b MT-Bench writing 2 of 20 judged; gamer-7b MT-Bench roleplay 2 of 20 "
                      "judged; gamer-7b MT-Bench extraction 2 of 20 judged; gamer-7b MT-Bench stem 1 of 20 judged.")
    assert md[-1] == "6. Combined (Nejumi) is built on an incomplete score and is marked incomplete too: gamer-7b."


def test_csv_never_gives_the_incomplete_score_as_a_plain_number(tmp_path):
    lines = board(write_board(tmp_path), "csv").splitlines()
    gamer = next(line for line in lines if line.startswith("gamer-7b,"))
    assert gamer == ("gamer-7b,52.50 (incomplete),100.00 (incomplete),100.00 (incomplete),100.00 (incomplete),,,,"
                     "100.00 (incomplete),100.00 (incomplete),")
    assert next(line for line in lines if line.startswith("# best:")).startswith(
        "# best: Combined (Nejumi)=ace-7b; MT-Bench=ace-7b; MT-Bench writing=ace-7b;")
    assert f"# [5] {NOTE}" in "\n".join(lines)


def test_json_gives_null_with_the_incomplete_value_beside_it(tmp_path):
    data = json.loads(board(write_board(tmp_path), "json"))
    keys = {c["label"]: c["key"] for c in data["columns"]}
    cells = {r["model"]: r["cells"] for r in data["rows"]}
    gamer = cells["gamer-7b"][keys["MT-Bench"]]
    assert {k: gamer[k] for k in ("value", "incomplete", "incomplete_value", "best", "notes")} == {
        "value": None, "incomplete": True, "incomplete_value": 100.0, "best": False, "notes": [5]}
    assert data["notes"][4].startswith(NOTE)
    combined = cells["gamer-7b"][keys["Combined (Nejumi)"]]
    assert (combined["value"], combined["incomplete"], combined["incomplete_value"]) == (None, True, 52.5)
    assert cells["ace-7b"][keys["MT-Bench"]] | {"source": None} == {
        "value": 80.0, "best": True, "incomplete": False, "notes": [], "source": None, "run_id": "j1"}


def test_html_marks_the_cell_and_sorts_it_with_the_missing_ones(tmp_path):
    html = board(write_board(tmp_path), "html")
    row = html.split('<td data-value="gamer-7b">gamer-7b</td>', 1)[1].split("</tr>", 1)[0]
    assert row.count('class="incomplete"') == 6 and "best" not in row
    assert '<td data-value="" class="incomplete" title="incomplete: see the note">100.00 (incomplete)' in row
    assert "gamer-7b (incomplete)" in html


def test_results_written_before_coverage_was_recorded(tmp_path):
    old = tmp_path / "old"
    write_judge_results(old, "j-old", gamer_records() + complete_records("ace-7b", 8), drop_coverage=True)
    md = board(old, "md", "mtbench").splitlines()
    assert md[2].startswith("| ace-7b | **80.00** |")
    assert md[3].startswith("| gamer-7b | 100.00 (incomplete)")
    assert any("gamer-7b MT-Bench 7 of 160 judged (4%); categories not checked (results written before jeval "
               "recorded coverage)" in line for line in md)
    bare = tmp_path / "bare"
    write_judge_results(bare, "j-bare", complete_records("ace-7b", 8), drop_counts=True)
    md = board(bare, "md", "mtbench").splitlines()
    assert md[2].startswith("| ace-7b | 80.00 (incomplete)")
    assert any("ace-7b MT-Bench coverage not recorded (no judgment or failure counts)" in line for line in md)


def test_malformed_coverage_is_a_skipped_file(tmp_path):
    path = write_judge_results(tmp_path / "results", "j1", complete_records("ace-7b", 8))
    data = json.loads(path.read_text())
    data["scores"]["ace-7b"]["coverage"]["complete"] = "yes"
    path.write_text(json.dumps(data))
    proc = jeval("leaderboard", tmp_path / "results")
    assert proc.returncode == 2
    assert "the coverage of 'ace-7b' has no boolean `complete` or no `summary`" in proc.stderr


def test_correlations_leave_the_incomplete_score_out(tmp_path):
    results = write_board(tmp_path)
    ratings = write_ratings(tmp_path / "arena.json", [("ace-7b", 1100, 1080, 1120, 100),
                                                      ("steady-7b", 1000, 980, 1020, 100),
                                                      ("fourth-7b", 900, 880, 920, 100),
                                                      ("gamer-7b", 800, 780, 820, 100)])
    result = correlate(build(collect([results]), load_arena([str(ratings)], bootstrap=10, seed=0)))
    pair = next(p for p in result.pairs if p.reference == "Arena rating" and p.column == "MT-Bench")
    assert pair.n == 3 and "gamer-7b" not in pair.models and pair.spearman == 1.0
    assert "Incomplete scores (marked on the leaderboard) are left out of the correlations." in result.notes
