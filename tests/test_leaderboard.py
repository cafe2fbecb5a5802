"""`jeval leaderboard`: tables over results folders with partial coverage and two protocols.

The story of the fixture (tests/leaderboard_support.py, written through the project's writers):
- alpha: Jaster jamp 0.55 (NLI), niilc 0.33 (QA), jcommonsenseqa 0.77 (MC) under llm-jp-eval-1.4.1,
  so AVG = (0.55 + 0.33 + 0.77) / 11 = 0.15 with eight categories counted as 0 by llm-jp-eval's rule;
  all four JGLUE tasks (0.8, 0.6, 0.9, 0.5: mean 0.7); MGSM 0.4; MT-Bench writing 7, math 5 (overall 6).
- beta: jamp 0.44, jcommonsenseqa 0.66 (AVG 1.1 / 11 = 0.1); JCommonsenseQA 0.7 and JNLI 0.5, the
  latter on other data (fingerprint d2): JGLUE mean 0.6 over two tasks; MT-Bench writing 4, math 6 (5).
- gamma: Jaster under the chat variant only (llm-jp-eval-1.4.1/chat): jamp 0.22, jcommonsenseqa 0.88.
- delta: an older run (MGSM 0.25, XL-Sum 0.12) and a newer one (MGSM 0.3 only).
- arena: alpha 1050 [1030, 1070] 120 votes, beta 990 [970, 1010] 100, gamma 960 [930, 990] 80.
Expected tables below are written by hand from these numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import error_lines, jeval
from leaderboard_support import build_results, jaster_task, lm_eval_task, write_jeval_run, write_ratings

from jeval.arena.battles import Battle, write_battles_jsonl
from jeval.arena.ratings import leaderboard as arena_leaderboard
from jeval.arena.store import Turn, VoteStore
from jeval.cli import main
from jeval.tasks.ppl.task import PROTOCOL as PPL_PROTOCOL

SCALE_NOTE = ("Scores are on a 0–100 scale: 0–1 scores ×100, MT-Bench's 1–10 ×10. Arena ratings are Bradley-Terry "
              "ratings on the Elo scale (400 points = 10× odds) with 95% bootstrap intervals. Best in each column: "
              "bold (CSV: the `# best` line). No result: – (empty in CSV), never counted as 0.")
ZERO_RULE = "Jaster AVG counts a category with no score as 0, as llm-jp-eval does"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("leaderboard")
    build_results(root)
    write_ratings(root / "arena.json", [("alpha", 1050, 1030, 1070, 120), ("beta", 990, 970, 1010, 100),
                                        ("gamma", 960, 930, 990, 80)])
    return root


def board_text(capsys, *args) -> tuple[str, str]:
    capsys.readouterr()
    assert main(["leaderboard", *map(str, args)]) == 0
    out = capsys.readouterr()
    return out.out, out.err


def test_markdown_keeps_protocols_apart_and_shows_missing_cells(fixture, capsys):
    text, _ = board_text(capsys, fixture / "results", "--arena", fixture / "arena.json",
                         "--columns", "jaster,mgsm,xlsum,mtbench,arena")
    assert text == (
        "| Model | Jaster AVG [llm-jp-eval-1.4.1][3] | Jaster NLI [llm-jp-eval-1.4.1][3] | Jaster QA "
        "| Jaster MC [llm-jp-eval-1.4.1][3] | Jaster AVG [llm-jp-eval-1.4.1/chat][3] "
        "| Jaster NLI [llm-jp-eval-1.4.1/chat][3] | Jaster MC [llm-jp-eval-1.4.1/chat][3] | MGSM | XL-Sum "
        "| MT-Bench | MT-Bench writing | MT-Bench math | Arena rating | Arena 95% CI | Arena votes |\n"
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        "| alpha | **15.00**[4] | **55.00** | **33.00** | **77.00** | – | – | – | **40.00** | – | **60.00** "
        "| **70.00** | 50.00 | **1050.0** | 1030.0–1070.0 | 120 |\n"
        "| beta | 10.00[4] | 44.00 | – | 66.00 | – | – | – | – | – | 50.00 | 40.00 | **60.00** | 990.0 "
        "| 970.0–1010.0 | 100 |\n"
        "| delta | – | – | – | – | – | – | – | 30.00 | **12.00** | – | – | – | – | – | – |\n"
        "| gamma | – | – | – | – | **10.00**[4] | **22.00** | **88.00** | – | – | – | – | – | 960.0 "
        "| 930.0–990.0 | 80 |\n"
        "\n"
        "Notes:\n"
        "\n"
        f"1. {SCALE_NOTE}\n"
        "2. Protocols: Jaster: llm-jp-eval-1.4.1, llm-jp-eval-1.4.1/chat; MGSM: lm-eval-0.4.13/japanese_leaderboard; "
        "XL-Sum: lm-eval-0.4.13/japanese_leaderboard; MT-Bench: judge gpt-4o / jeval-ja-v1; "
        "Arena: Bradley-Terry, 150 battles, 100 bootstrap rounds, prior 1e-06.\n"
        "3. Jaster results under different protocols are kept in separate columns and never averaged together: "
        "llm-jp-eval-1.4.1, llm-jp-eval-1.4.1/chat.\n"
        f"4. {ZERO_RULE}: alpha lacks RC, EL, FA, MR, MT, HE, CG, SUM; beta, gamma: lacks QA, RC, EL, FA, MR, MT, "
        "HE, CG, SUM.\n"
        "5. 1 older result(s) were superseded by the latest run of the same model, protocol and "
        "few-shot count (choose runs with --run-id).\n")


def test_csv_with_combined_scores_data_warnings_and_partial_means(fixture, capsys):
    text, _ = board_text(capsys, fixture / "results", "--format", "csv", "--models", "alpha,beta,delta",
                         "--columns", "combined,jaster,jglue,mtbench", "--weights", "Jaster AVG=1,JGLUE mean=1")
    assert text == (
        "model,Combined (Nejumi),Combined (weighted),Jaster AVG,Jaster NLI,Jaster QA,Jaster MC,JCommonsenseQA,JNLI,"
        "MARC-ja,JSQuAD,JGLUE mean,MT-Bench,MT-Bench writing,MT-Bench math\n"
        "alpha,37.50,42.50,15.00,55.00,33.00,77.00,80.00,60.00,90.00,50.00,70.00,60.00,70.00,50.00\n"
        "beta,30.00,35.00,10.00,44.00,,66.00,70.00,50.00,,,60.00,50.00,40.00,60.00\n"
        "delta,,,,,,,,,,,,,,\n"
        "# best: Combined (Nejumi)=alpha; Combined (weighted)=alpha; Jaster AVG=alpha; Jaster NLI=alpha; "
        "Jaster QA=alpha; Jaster MC=alpha; JCommonsenseQA=alpha; JNLI=alpha; MARC-ja=alpha; JSQuAD=alpha; "
        "JGLUE mean=alpha; MT-Bench=alpha; MT-Bench writing=alpha; MT-Bench math=beta\n"
        f"# [1] {SCALE_NOTE}\n"
        "# [2] Protocols: Jaster: llm-jp-eval-1.4.1; JGLUE: lm-eval-0.4.13/japanese_leaderboard, "
        "jeval-mean/lm-eval-0.4.13/jglue; MT-Bench: judge gpt-4o / jeval-ja-v1.\n"
        "# [3] Combined (Nejumi) = (Jaster AVG + MT-Bench/10) / 2, Nejumi leaderboard style: computed on 0–1 with "
        "MT-Bench's 1–10 score divided by 10, shown on the table's scale; missing where either score is missing.\n"
        "# [4] Combined (weighted) = (1×Jaster AVG + 1×JGLUE mean) / 2, on the table's scale (MT-Bench as "
        "score/10); missing where any term is missing.\n"
        "# [5] Compare with care: JNLI, JGLUE mean stand on different data or numbers of items for different "
        "models (data fingerprint or item count differs for jl_jnli (alpha | beta)).\n"
        f"# [6] {ZERO_RULE}: alpha lacks RC, EL, FA, MR, MT, HE, CG, SUM; beta lacks QA, RC, EL, FA, MR, MT, HE, "
        "CG, SUM.\n"
        "# [7] JGLUE mean: mean over the suite's tasks that ran only: beta lacks jl_marc_ja, jl_jsquad.\n")


def test_csv_reads_back_with_pandas_and_missing_stays_missing(fixture, capsys):
    import pandas as pd

    text, _ = board_text(capsys, fixture / "results", "--format", "csv", "--scale", "1", "--columns", "jaster,mgsm")
    (fixture / "t.csv").write_text(text, encoding="utf-8")
    frame = pd.read_csv(fixture / "t.csv", comment="#", index_col="model")
    assert list(frame.index) == ["alpha", "beta", "delta", "gamma"]
    assert frame.at["alpha", "Jaster AVG [llm-jp-eval-1.4.1]"] == pytest.approx(0.15)
    assert frame.at["delta", "MGSM"] == pytest.approx(0.3)
    assert pd.isna(frame.at["beta", "MGSM"]) and pd.isna(frame.at["gamma", "Jaster AVG [llm-jp-eval-1.4.1]"])


def test_json_cells_have_null_for_missing_best_flags_and_sources(fixture, capsys):
    text, _ = board_text(capsys, fixture / "results", "--format", "json", "--columns", "mgsm,xlsum")
    data = json.loads(text)
    assert data["scale"] == 100
    assert [c["label"] for c in data["columns"]] == ["MGSM", "XL-Sum"]
    assert {c["protocol"] for c in data["columns"]} == {"lm-eval-0.4.13/japanese_leaderboard"}
    rows = {r["model"]: r["cells"] for r in data["rows"]}
    assert [r["model"] for r in data["rows"]] == ["alpha", "delta"]
    assert data["notes"][-1] == "Left out, no result in the columns shown: beta, gamma."
    mgsm, xlsum = (c["key"] for c in data["columns"])
    assert rows["alpha"][mgsm] == {"value": 40.0, "best": True, "incomplete": False, "notes": [],
                                   "source": str(fixture / "results" / "alpha" / "r-alpha" / "results.json"),
                                   "run_id": "r-alpha"}
    assert rows["alpha"][xlsum] == {"value": None, "best": False, "incomplete": False, "notes": []}
    assert rows["delta"][mgsm]["value"] == pytest.approx(30.0) and rows["delta"][mgsm]["run_id"] == "r-delta-new"
    assert rows["delta"][xlsum]["run_id"] == "r-delta-old"


def test_run_id_pins_a_models_run(fixture, capsys):
    text, _ = board_text(capsys, fixture / "results", "--format", "csv", "--columns", "mgsm,xlsum",
                         "--run-id", "r-delta-old", "--models", "delta")
    assert text.splitlines()[:2] == ["model,MGSM,XL-Sum", "delta,25.00,12.00"]


def test_malformed_and_foreign_json_is_reported_by_name_and_not_counted(fixture, tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(fixture / "results", results, symlinks=True)  # `latest` links stay links, as `jeval run` left them
    (results / "broken").mkdir()
    (results / "broken" / "results.json").write_text('{"run_id": "x", "tasks": {', encoding="utf-8")
    (results / "notes.json").write_text('{"hello": "world"}', encoding="utf-8")
    bad = json.loads((results / "alpha" / "r-alpha" / "results.json").read_text(encoding="utf-8"))
    bad["run_id"], bad["created"] = "r-alpha-later", "2027-01-01T00:00:00+0000"
    bad["summaries"]["jaster"]["AVG"] = "0.99"
    (results / "alpha" / "r-alpha-later").mkdir()
    (results / "alpha" / "r-alpha-later" / "results.json").write_text(json.dumps(bad), encoding="utf-8")
    clean, _ = board_text(capsys, fixture / "results", "--format", "csv", "--columns", "jaster,mgsm")
    dirty, err = board_text(capsys, results, "--format", "csv", "--columns", "jaster,mgsm")
    warnings = [line for line in err.splitlines() if line.startswith("jeval: warning:")]
    assert warnings == [
        f"jeval: warning: {results / 'alpha' / 'r-alpha-later' / 'results.json'}: malformed jeval run results: "
        "summary 'jaster' has no `protocol`, numeric `AVG` or `categories` object; skipped, not counted",
        f"jeval: warning: {results / 'broken' / 'results.json'}: not valid JSON (Expecting property name enclosed "
        "in double quotes at line 1); skipped, not counted",
        f"jeval: warning: {results / 'notes.json'}: not a jeval run or judge results file (unknown JSON); "
        "skipped, not counted",
    ]
    assert dirty == clean + (
        "# [6] 3 file(s) were skipped and not counted: alpha/r-alpha-later/results.json (malformed jeval run "
        "results: summary 'jaster' has no `protocol`, numeric `AVG` or `categories` object); broken/results.json "
        "(not valid JSON (Expecting property "
        "name enclosed in double quotes at line 1)); notes.json (not a jeval run or judge results file (unknown "
        "JSON)).\n")


def test_lenient_diagnostics_are_their_own_columns(tmp_path, capsys):
    write_jeval_run(tmp_path, "m", "r1", "2026-01-01T00:00:00+0000",
                    {"jamp": jaster_task("jamp", 0.5, lenient=(0.25, 0.7))})
    strict, _ = board_text(capsys, tmp_path, "--format", "csv", "--columns", "Jaster NLI")
    lenient, _ = board_text(capsys, tmp_path, "--format", "csv", "--lenient",
                            "--columns", "Jaster NLI,jaster_lenient")
    assert strict.splitlines()[:2] == ["model,Jaster NLI", "m,50.00"]
    assert lenient.splitlines()[:2] == ["model,Jaster NLI,jamp lenient EM,jamp out of label set", "m,50.00,70.00,25.00"]


def test_number_answer_diagnostics_show_their_out_of_format_rate(tmp_path, capsys):
    mgsm = lm_eval_task("jl_mgsm", 0.1)
    mgsm["metrics"].update(out_of_format=0.6, lenient_exact_match=0.3)
    write_jeval_run(tmp_path, "m", "r1", "2026-01-01T00:00:00+0000", {"jl_mgsm": mgsm})
    lenient, _ = board_text(capsys, tmp_path, "--format", "csv", "--lenient", "--columns", "MGSM,jaster_lenient")
    assert lenient.splitlines()[:2] == ["model,MGSM,jl_mgsm lenient EM,jl_mgsm out of format", "m,10.00,30.00,60.00"]


def test_arena_battles_from_a_vote_store_and_a_file_are_rated_by_the_arena_code(tmp_path, capsys):
    """Battles pooled from a real SQLite vote store and a JSONL file give the ratings the arena's own
    `leaderboard()` gives for the same battles."""
    in_file = [Battle("a", "b", "model_a", float(i)) for i in range(6)] + \
              [Battle("b", "c", "model_a", 10.0 + i) for i in range(5)] + [Battle("a", "c", "tie", 20.0)]
    write_battles_jsonl(tmp_path / "battles.jsonl", in_file)
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    store = VoteStore(url)
    for i, (a, b) in enumerate((("c", "a"), ("b", "a"))):
        store.create_battle(f"v{i}", "anony", a, b, "s")
        store.add_turn(f"v{i}", 0, Turn("質問", "答えA", "答えB"), 0.0, [])
        store.record_vote(f"v{i}", "s", "model_a", [])
    battles = in_file + store.battles()
    store.close()
    write_jeval_run(tmp_path / "results", "a", "r", "2026-01-01T00:00:00+0000",
                    {"jl_mgsm": lm_eval_task("jl_mgsm", 0.5)})
    text, _ = board_text(capsys, tmp_path / "results", "--arena", tmp_path / "battles.jsonl", "--arena", url,
                         "--format", "json", "--arena-bootstrap", "50", "--seed", "3")
    expected = {r.model: r for r in arena_leaderboard(battles, bootstrap_rounds=50, seed=3).rows}
    assert sum(r.battles for r in expected.values()) == 2 * 14
    data = json.loads(text)
    rating = next(c["key"] for c in data["columns"] if c["label"] == "Arena rating")
    interval = next(c["key"] for c in data["columns"] if c["label"] == "Arena 95% CI")
    rows = {r["model"]: r["cells"] for r in data["rows"]}
    assert set(rows) == {"a", "b", "c"}
    for model, row in expected.items():
        assert rows[model][rating]["value"] == pytest.approx(row.rating)
        assert (rows[model][interval]["lower"], rows[model][interval]["upper"]) == pytest.approx((row.lower, row.upper))
    assert "Bradley-Terry, 14 battles, 50 bootstrap rounds (seed 3)" in data["notes"][1]


def test_correlate_answers_with_numbers_and_a_plot(tmp_path, capsys):
    for model, mgsm, xlsum in (("m1", 0.1, 0.4), ("m2", 0.2, 0.3), ("m3", 0.3, 0.2), ("m4", 0.4, 0.1)):
        write_jeval_run(tmp_path / "results", model, "r", "2026-01-01T00:00:00+0000",
                        {"jl_mgsm": lm_eval_task("jl_mgsm", mgsm), "jl_xlsum": lm_eval_task("jl_xlsum", xlsum)})
    write_ratings(tmp_path / "arena.json", [("m4", 1100, 1080, 1120, 50), ("m3", 1050, 1030, 1070, 50),
                                            ("m2", 1000, 980, 1020, 50), ("m1", 950, 930, 970, 40)])
    out = tmp_path / "corr.md"
    _, err = board_text(capsys, tmp_path / "results", "--arena", tmp_path / "arena.json", "--correlate",
                        "--out", out)
    assert out.read_text(encoding="utf-8").splitlines()[:4] == [
        "| Reference | Column | n | Spearman ρ | p | Kendall τ | p |",
        "|:---|:---|---:|---:|---:|---:|---:|",
        "| Arena rating | MGSM | 4 | 1.000 | 0.000 | 1.000 | 0.083 |",
        "| Arena rating | XL-Sum | 4 | -1.000 | 0.000 | -1.000 | 0.083 |",
    ]
    plot = tmp_path / "corr.correlation.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"correlation plot written to {plot}" in err


def test_correlate_needs_three_shared_models(fixture, capsys):
    text, _ = board_text(capsys, fixture / "results", "--arena", fixture / "arena.json", "--correlate",
                         "--columns", "mtbench,arena")
    assert "| Arena rating | MT-Bench | 2 | – | – | – | – |" in text.splitlines()


@pytest.mark.parametrize(("args", "message"), [
    (["--models", "nobody"], "--models nobody: no results for them; models found: alpha, beta, delta, gamma"),
    (["--columns", "Nope"], "--columns 'Nope': no such column or group here"),
    (["--weights", "Jaster AVG=1"], "--weights 'Jaster AVG' is reported under several protocols"),
    (["--run-id", "r-missing"], "--run-id r-missing: no such run among the results read"),
])
def test_user_mistakes_are_one_line_and_exit_2(fixture, args, message):
    proc = jeval("leaderboard", fixture / "results", *args)
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert line.startswith("jeval: error: ") and message in line


def test_an_empty_folder_is_an_error_not_an_empty_table(tmp_path):
    (tmp_path / "x.json").write_text("[]", encoding="utf-8")
    proc = jeval("leaderboard", tmp_path)
    assert proc.returncode == 2
    lines = error_lines(proc)
    assert lines[0] == (f"jeval: warning: {tmp_path / 'x.json'}: a JSON list, not a jeval results object; "
                        "skipped, not counted")
    assert lines[1].startswith("jeval: error: no results to tabulate") and "1 file(s) skipped" in lines[1]


def test_an_alias_joins_an_arena_name_to_the_model_of_a_run(tmp_path, capsys):
    write_jeval_run(tmp_path / "results", "alpha", "r1", "2026-01-01T00:00:00+0000",
                    {"jamp": jaster_task("jamp", 0.5)})
    write_ratings(tmp_path / "arena.json", [("alpha-chat-v1", 1010, 1000, 1020, 50)])
    apart, _ = board_text(capsys, tmp_path / "results", "--arena", tmp_path / "arena.json", "--format", "csv",
                          "--columns", "Jaster NLI,arena")
    joined, _ = board_text(capsys, tmp_path / "results", "--arena", tmp_path / "arena.json", "--format", "csv",
                           "--columns", "Jaster NLI,arena", "--alias", "alpha-chat-v1=alpha")
    assert sorted(line.split(",")[0] for line in apart.splitlines()[1:3]) == ["alpha", "alpha-chat-v1"]
    rows = [line for line in joined.splitlines()[1:] if line and not line.startswith("#")]
    assert len(rows) == 1 and rows[0].startswith("alpha,50.00,1010")


def test_a_malformed_alias_is_one_error_line(tmp_path, capsys):
    assert main(["leaderboard", str(tmp_path), "--alias", "alpha"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["jeval: error: --alias 'alpha': expected NAME=VALUE"]


def _ppl_task(fingerprint: str, **bits_per_byte: float) -> dict:
    """A `ppl` task entry as the ppl evaluator writes it (other figures left out)."""
    return {"protocol": PPL_PROTOCOL, "category": "PPL", "shots": 0, "n_samples": 10, "limit": None,
            "metrics": {"bits_per_byte": min(bits_per_byte.values())}, "data_fingerprint": fingerprint,
            "languages": {lang: {"bits_per_byte": v, "bits_per_char": 2 * v, "loss": v, "tokens": 100}
                          for lang, v in bits_per_byte.items()}}


def test_perplexity_columns_show_bits_per_byte_per_language_lower_is_better(tmp_path, capsys):
    write_jeval_run(tmp_path, "alpha", "r1", "2026-01-01T00:00:00+0000", {"ppl": _ppl_task("c1", ja=1.2345, en=0.9)})
    write_jeval_run(tmp_path, "beta", "r1", "2026-01-01T00:00:00+0000", {"ppl": _ppl_task("c1", ja=1.1, en=1.0)})
    text, _ = board_text(capsys, tmp_path, "--columns", "ppl")
    assert text.splitlines()[:4] == [
        "| Model | bits/byte en | bits/byte ja |",
        "|:---|---:|---:|",
        "| alpha | **0.900** | 1.234 |",
        "| beta | 1.000 | **1.100** |",
    ]
    assert ("Perplexity columns give bits per UTF-8 byte of the evaluated corpus per language (comparable "
            "across tokenizers), as measured, not on the score scale; lower is better.") in text


def test_perplexity_on_different_corpora_is_flagged(tmp_path, capsys):
    write_jeval_run(tmp_path, "alpha", "r1", "2026-01-01T00:00:00+0000", {"ppl": _ppl_task("c1", ja=1.2)})
    write_jeval_run(tmp_path, "beta", "r1", "2026-01-01T00:00:00+0000", {"ppl": _ppl_task("c2", ja=1.1)})
    text, _ = board_text(capsys, tmp_path, "--columns", "ppl")
    assert text.splitlines()[0] == "| Model | bits/byte ja[4] |"
    assert "4. Compare with care: bits/byte ja stands on different data or numbers of items for different models " \
           "(data fingerprint or item count differs for ppl (alpha | beta))." in text
