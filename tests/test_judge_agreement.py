"""`jeval judge agreement`: the statistics against hand-computed values, every reader on small files
written here in each upstream format, position bias on a constructed set, and every error."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import jeval

from jeval.cli import main
from jeval.errors import JevalError
from jeval.judges.agreement import (
    Options,
    agreement,
    bootstrap,
    cohen_kappa,
    format_report,
    kendall_tau_b,
    sign_test_p,
    spearman,
    table_statistics,
    weighted_kappa,
)
from jeval.judges.judgment_sets import HUMAN, read_set, rename_models, text_hash

FAST = Options(bootstrap=0)


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["judge", "agreement", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def stat(section: dict, name: str) -> float | None:
    return section["statistics"][name]["value"]


# ---------------------------------------------------------------------------------------------
# Statistics against hand-computed values


def test_perfect_agreement_gives_kappa_one_and_rank_correlation_one():
    x = np.array([1, 2, 3, 4, 5, 3], dtype=float)
    assert weighted_kappa(x, x) == 1.0
    assert weighted_kappa(x, x, "linear") == 1.0
    assert cohen_kappa(np.array([0, 1, 2, 0]), np.array([0, 1, 2, 0]), 3) == 1.0
    assert spearman(x, x) == pytest.approx(1.0)
    assert kendall_tau_b(x, x) == pytest.approx(1.0)


def test_weighted_kappa_by_hand():
    # A = 1 2 3 4, B = 1 2 4 4. Observed mean squared difference: 1/4. Expected under independent
    # marginals: for a = 1..4 against B's (1: 1/4, 2: 1/4, 4: 1/2): 4.75, 2.25, 1.75, 3.25 -> mean 3.
    a, b = np.array([1, 2, 3, 4.0]), np.array([1, 2, 4, 4.0])
    assert weighted_kappa(a, b, "quadratic") == pytest.approx(1 - 0.25 / 3)
    # Linear: observed 1/4; expected (1/4)(0.25*0+0.25*1+0.5*3 + 0.25*1+0+0.5*2 + 0.25*2+0.25*1+0.5*1
    # + 0.25*3+0.25*2+0) = (1.75 + 1.25 + 1.25 + 1.25) / 4 = 1.375.
    assert weighted_kappa(a, b, "linear") == pytest.approx(1 - 0.25 / 1.375)
    assert weighted_kappa(np.array([3.0, 3.0]), np.array([3.0, 3.0])) is None  # nothing to agree beyond chance


def test_cohen_kappa_of_a_known_three_by_three_table():
    # rows A, columns B: po = 45/60, pe = (25*24 + 20*24 + 15*12) / 60^2 = 0.35 -> kappa = 0.4 / 0.65
    table = [[20, 5, 0], [3, 15, 2], [1, 4, 10]]
    x = np.array([i for i, row in enumerate(table) for j, n in enumerate(row) for _ in range(n)])
    y = np.array([j for i, row in enumerate(table) for j, n in enumerate(row) for _ in range(n)])
    assert cohen_kappa(x, y, 3) == pytest.approx(0.4 / 0.65)


def test_rank_correlations_by_hand_and_against_scipy():
    x, y = np.array([1, 2, 3, 4, 5.0]), np.array([2, 1, 4, 3, 5.0])
    assert spearman(x, y) == pytest.approx(1 - 6 * 4 / (5 * 24))  # sum d^2 = 4
    assert kendall_tau_b(x, y) == pytest.approx((8 - 2) / 10)  # two discordant pairs of ten
    assert spearman(x, np.ones(5)) is None
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for trial in range(60):
        n = int(rng.integers(3, 80))
        a = rng.integers(1, 6, n).astype(float)
        b = np.clip(a + rng.integers(-2, 3, n), 1, 5) if trial % 2 else rng.integers(1, 11, n).astype(float)
        vx, cx = np.unique(a, return_inverse=True)
        vy, cy = np.unique(b, return_inverse=True)
        table = np.zeros((len(vx), len(vy)))
        np.add.at(table, (cx, cy), 1)
        got = table_statistics(table, vx, vy, "quadratic")
        rho, tau = scipy_stats.spearmanr(a, b).statistic, scipy_stats.kendalltau(a, b).statistic
        if np.isfinite(rho):
            assert got["spearman"] == pytest.approx(rho) and spearman(a, b) == pytest.approx(rho)
            assert got["kendall_tau_b"] == pytest.approx(tau) and kendall_tau_b(a, b) == pytest.approx(tau)
        assert got["weighted_kappa"] == pytest.approx(weighted_kappa(a, b)) if got["weighted_kappa"] else True
        assert got["exact"] == pytest.approx(np.mean(a == b))
        assert got["within_1"] == pytest.approx(np.mean(np.abs(a - b) <= 1))
        assert got["mean_diff"] == pytest.approx(np.mean(b - a))


def test_bootstrap_resamples_items_reproducibly():
    items = [str(i // 3) for i in range(30)]  # 10 items, 3 rows each
    values = np.arange(30, dtype=float)
    fn = lambda idx: {"mean": float(values[idx].mean())}
    one = bootstrap(items, fn, 200, seed=7)["mean"]
    two = bootstrap(items, fn, 200, seed=7)["mean"]
    assert one == two and one.value == pytest.approx(14.5)
    assert one.low is not None and one.high is not None and one.low < 14.5 < one.high
    assert bootstrap(items, fn, 0, seed=7)["mean"].low is None
    assert sign_test_p(3, 4) == pytest.approx(10 / 16)  # P(X>=3) = 5/16, two-sided
    assert sign_test_p(0, 0) is None


# ---------------------------------------------------------------------------------------------
# Fixtures in each format

ELYZA_QUESTIONS = ["質問0", "質問1", "質問2", "質問3"]


def shaberi_file(folder: Path, model: str, scores: list, answers: list[str] | None = None) -> Path:
    answers = answers or [f"{model} の答え {i}" for i in range(len(scores))]
    rows = [{"Question": q, "output": "模範解答", "eval_aspect": "観点", "ModelAnswer": a, "score": s}
            for q, a, s in zip(ELYZA_QUESTIONS, answers, scores)]
    return write_jsonl(folder / f"{model}.json", rows)  # JSON Lines under a .json name, as shaberi does


def bench_elyza_file(folder: Path, model: str, scores: list, answers: list[str] | None = None) -> Path:
    answers = answers or [f"{model} の答え {i}" for i in range(len(scores))]
    rows = [{"input": q, "sample_output": "模範解答", "model_output": a, "eval_aspect": "観点", "score": s}
            for q, a, s in zip(ELYZA_QUESTIONS, answers, scores)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def nss_folder(root: Path, name: str, takes: list[list[int | None]], preds: list[str] | None = None) -> Path:
    folder = root / name
    preds = preds or [f"{name} pred {i}" for i in range(len(takes[0]))]
    write_jsonl(folder / "preds.jsonl", [{"pred": p} for p in preds])
    for n, grades in enumerate(takes, 1):
        write_jsonl(folder / f"result_take{n}.jsonl", [{"reason": "理由", "grade": g} for g in grades])
    return folder


def jeval_run(folder: Path, mode: str, records: list[dict], judge: str = "judge-x") -> Path:
    write_jsonl(folder / "judgments.jsonl", records)
    (folder / "results.json").write_text(json.dumps({"mode": mode, "judge": {"model": judge},
                                                     "prompt_set": {"name": "jeval-ja-v1"}}), encoding="utf-8")
    return folder


def single_rec(qid, model, score, turn=1, repeat=0, judge="judge-x"):
    return {"question_id": qid, "model": model, "judge": [judge, "single-v1"], "user_prompt": "…", "judgment": "…",
            "score": score, "turn": turn, "tstamp": 0.0, "repeat": repeat,
            "failure": None if score != -1 else "no_verdict"}


def pair_rec(qid, m1, m2, g1, g2, **extra):
    return {"question_id": qid, "model_1": m1, "model_2": m2, "g1_winner": g1, "g2_winner": g2,
            "judge": ["judge-x", "pair-v2"], "turn": 1, **extra}


# ---------------------------------------------------------------------------------------------
# Readers


def test_jeval_single_run_folder_with_repeats(tmp_path):
    records = [single_rec(q, m, s, repeat=r) for r, scores in enumerate([[8, 6, 4, 2], [8, 7, 4, 2]])
               for (q, m), s in zip([(81, "a"), (82, "a"), (81, "b"), (82, "b")], scores)]
    records.append(single_rec(83, "a", -1))
    run = jeval_run(tmp_path / "single-judge-x-jeval-ja-v1" / "run1", "single", records)
    s = read_set(str(run))
    assert (s.kind, s.format, s.judge, s.scale, s.repeats) == ("single", "jeval-single", "judge-x", (1, 10), [0, 1])
    assert len(s.singles) == 8 and s.singles[0].item == "81"
    assert any("1 without a verdict" in n for n in s.notes)
    assert read_set(str(run / "results.json")).singles == s.singles
    with pytest.raises(JevalError, match="holds 1 judge run folders"):
        read_set(str(run.parent))


def test_jeval_elyza_run_reads_rows_scale_and_answer_texts(tmp_path):
    answers_run = tmp_path / "answers-run"
    answers = [f"m の答え {i}" for i in range(4)]
    write_jsonl(answers_run / "answers" / "elyza_tasks_100.jsonl", [
        {"question_id": i + 1, "answer_id": "x", "model_id": "m", "choices": [{"index": 0, "turns": [a]}]}
        for i, a in enumerate(answers)])
    run = jeval_run(tmp_path / "judge-run", "single", [single_rec(i + 1, "m", s) for i, s in enumerate([5, 4, 3, 2])])
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    results.update(benchmark={"task": "elyza_tasks_100", "title": "ELYZA-tasks-100", "scale": [1.0, 5.0]},
                   answers=[str(answers_run)])
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    s = read_set(str(run))
    assert s.scale == (1, 5) and [j.item for j in s.singles] == ["0", "1", "2", "3"]
    assert s.singles[0].answer_hash == text_hash(answers[0])
    shaberi = read_set(str(shaberi_file(tmp_path / "judge_gpt-4", "m", [5, 4, 2, 2], [*answers[:2], "x", "y"])))
    c = agreement(s, shaberi, Options(bootstrap=0, same_answers=True))["comparison"]
    assert c["n"] == 2 and c["answers"]["dropped"] == 2 and stat(c, "exact") == 1.0
    results["answers"] = [str(tmp_path / "gone")]
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    assert any("the answer texts are unknown" in n for n in read_set(str(run)).notes)


def test_jeval_pairwise_run_folder(tmp_path):
    run = jeval_run(tmp_path / "run", "pairwise", [pair_rec(81, "a", "b", "model_1", "model_2")])
    s = read_set(str(run))
    assert s.format == "jeval-pairwise"
    assert [(p.winner, p.order, p.first_shown) for p in s.pairs] == [("a", "original", "a"), ("b", "swapped", "b")]


def test_fastchat_single_with_stored_strings(tmp_path):
    # FastChat copies sometimes store judge, score and turn as strings (jmtbench's gpt-4_single.jsonl).
    rows = [{"question_id": "81", "model": "m", "judge": "['gpt-4', 'single-v1']", "user_prompt": "…",
             "judgment": "…", "score": "7", "turn": "2", "tstamp": "1.0"}]
    s = read_set(str(write_jsonl(tmp_path / "gpt-4_single.jsonl", rows)))
    assert s.judge == "gpt-4" and s.singles[0].score == 7.0 and s.singles[0].turn == 2


def vicuna_rec(qid, m1, m2, g1, g2, a1="", a2=""):
    """ku-nlp's Japanese Vicuna QA judgment record (no `judge` list, no turn)."""
    return {"model_1": m1, "model_2": m2, "question_id": qid, "question": "質問", "answer_1": a1, "answer_2": a2,
            "g1_judgment": "…", "g2_judgment": "…", "g1_winner": g1, "g2_winner": g2, "judge_model": "gpt-4",
            "judge_prompt": "pair", "tstamp": "1702887286.9"}


def test_vicuna_pairwise_both_games_with_answer_hashes(tmp_path):
    rows = [vicuna_rec("1", "x", "y", "model_1", "model_1", "答えX", "答えY"),
            vicuna_rec("2", "x", "y", "tie", "error", "X2", "Y2")]
    s = read_set(str(write_jsonl(tmp_path / "pairwise__x_y.jsonl", rows)))
    assert (s.judge, s.format) == ("gpt-4", "fastchat-pair")
    assert len(s.pairs) == 3 and any("1 games without a verdict (error)" in n for n in s.notes)
    first = s.pairs[0]
    assert (first.winner, first.order, first.hash_a, first.turn) == ("a", "original", text_hash("答えX"), 1)
    assert s.pairs[1].order == "swapped" and s.pairs[1].first_shown == "y" and s.pairs[1].winner == "a"


def test_vicuna_folder_is_one_set(tmp_path):
    folder = tmp_path / "gpt-4"
    write_jsonl(folder / "pairwise__a_c.jsonl", [pair_rec("1", "a", "c", "model_1", "model_1")])
    write_jsonl(folder / "pairwise__b_c.jsonl", [pair_rec("1", "b", "c", "model_2", "model_1")])
    s = read_set(str(folder))
    assert s.models == ["a", "b", "c"] and len(s.pairs) == 4


def test_shaberi_folder_names_judge_and_models(tmp_path):
    folder = tmp_path / "judge_gpt-4-turbo-preview"
    shaberi_file(folder, "model-a", [5, 4, None, 3])
    shaberi_file(folder, "model-b", [1, 2, 3, 4])
    (folder / "LICENSE").write_text("license", encoding="utf-8")
    s = read_set(str(folder))
    assert (s.judge, s.format, s.scale) == ("gpt-4-turbo-preview", "shaberi", (1, 5))
    assert len(s.singles) == 7 and any("1 without a score (null)" in n for n in s.notes)
    first = s.singles[0]
    assert (first.model, first.item, first.answer_hash) == ("model-a", "0", text_hash("model-a の答え 0"))
    assert first.question_hash == text_hash("質問0")


def test_bench_elyza_array_and_its_results_layout(tmp_path):
    path = bench_elyza_file(tmp_path / "be", "gpt-4o", [5, 4, 3, 2])
    s = read_set(str(path))
    assert (s.format, s.models, s.scale) == ("bench_elyza", ["gpt-4o"], (1, 5))
    nested = tmp_path / "results" / "Llama-3-ELYZA-JP-8B" / "results.json"
    nested.parent.mkdir(parents=True)
    nested.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    assert read_set(str(nested)).models == ["Llama-3-ELYZA-JP-8B"]


def test_nss_take_file_model_folder_and_parent_folder(tmp_path):
    root = tmp_path / "nss"
    folder = nss_folder(root, "org_model-x_cmdrplus", [[4, 5, 3], [4, 4, 3], [None, 5, 3]])
    nss_folder(root, "org_model-y_cmdrplus", [[1, 2, 3], [1, 2, 3], [1, 2, 2]])
    one = read_set(str(folder / "result_take2.jsonl"))
    assert (one.judge, one.models, one.repeats) == ("cmdrplus", ["org_model-x"], [1])
    assert one.singles[0].answer_hash == text_hash("org_model-x_cmdrplus pred 0")
    s = read_set(str(folder))
    assert s.repeats == [0, 1, 2] and len(s.singles) == 8
    assert any("1 without a grade" in n for n in s.notes)
    both = read_set(str(root))
    assert both.models == ["org_model-x", "org_model-y"] and len(both.singles) == 17


def score_table(path: Path, rows: list[tuple], item_column: str = "item_index") -> Path:
    text = f"judge,model_file,row,{item_column},score,answer_sha1_10\n" + "".join(
        ",".join(map(str, r)) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path


def test_score_table_needs_a_judge_and_drops_identical_duplicates(tmp_path):
    rows = [("j1", "m", 0, 0, "5", "aaa"), ("j1", "m", 1, 0, "5", "aaa"), ("j1", "m", 2, 1, "4.0", "bbb"),
            ("j1", "m", 3, 2, "", "ccc"), ("j2", "m", 0, 0, "5", "aaa"), ("j2", "m", 1, 1, "3", "bbx")]
    path = score_table(tmp_path / "scores.csv.gz", rows)
    with pytest.raises(JevalError, match=r"holds the judgments of 2 judges \(j1, j2\); pick one as .*#JUDGE"):
        read_set(str(path))
    s = read_set(f"{path}#j1")
    assert s.judge == "j1" and s.scale == (1, 5) and [x.score for x in s.singles] == [5.0, 4.0]
    assert any("1 identical duplicate" in n for n in s.notes) and any("1 without a score" in n for n in s.notes)
    with pytest.raises(JevalError, match="no judgments by 'j3'; the judges in it: j1, j2"):
        read_set(f"{path}#j3")
    rakuda_table = score_table(tmp_path / "rakuda.csv.gz", [("j1", "m", 0, "qA", 9, "h")], "question_id")
    assert read_set(str(rakuda_table)).scale == (1, 10)


def test_rakuda_reviews_both_orders_and_repeats(tmp_path):
    base = {"question_text": "質問", "reviewer_id": "gpt-4", "text": "…評価: 1", "metadata": "{}"}
    rows = [
        {**base, "review_id": "r1", "question_id": "q1", "model1_id": "a", "model2_id": "b", "answer1": "A",
         "answer2": "B", "score": "1"},
        {**base, "review_id": "r2", "question_id": "q1", "model1_id": "b", "model2_id": "a", "answer1": "B",
         "answer2": "A", "score": "1"},
        {**base, "review_id": "r3", "question_id": "q2", "model1_id": "a", "model2_id": "b", "answer1": "A2",
         "answer2": "B2", "score": 3},
        {**base, "review_id": "r4", "question_id": "q2", "model1_id": "a", "model2_id": "b", "answer1": "A2",
         "answer2": "B2", "score": 2},
    ]
    s = read_set(str(write_jsonl(tmp_path / "reviews_rakuda_v1_gpt4.jsonl", rows)))
    assert (s.format, s.judge) == ("rakuda", "gpt-4")
    assert [(p.winner, p.first_shown, p.repeat) for p in s.pairs] == [("a", "a", 0), ("a", "b", 0), ("tie", "a", 0),
                                                                      ("b", "a", 1)]
    assert s.pairs[1].hash_a == text_hash("B")
    v3 = [{"question_id": "q1", "model1_id": "a", "model2_id": "b", "winner": 2, "judge": ["gpt-4", "pair-ja"]}]
    assert read_set(str(write_jsonl(tmp_path / "gpt-4_pair.jsonl", v3))).pairs[0].winner == "b"


def test_battles_arena_votes_are_the_human_set(tmp_path):
    rows = [{"model_a": "x", "model_b": "y", "winner": "model_a", "question_id": "b1", "judge": "arena_user_1",
             "source": "arena"},
            {"model_a": "y", "model_b": "x", "winner": "tie (bothbad)", "question_id": "b2", "source": "arena"},
            {"model_a": "x", "model_b": "y", "winner": "model_b", "question_id": "b3", "source": "arena",
             "flags": ["named"]}]
    s = read_set(str(write_jsonl(tmp_path / "battles.jsonl", rows)))
    assert (s.judge, s.label, len(s.pairs)) == (HUMAN, HUMAN, 2)
    assert s.pairs[1].winner == "tie" and s.pairs[0].order is None
    assert any("1 flagged or named" in n for n in s.notes)
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [*rows[:2], {"model_a": "x", "model_b": "y", "winner": "tie",
                                                              "question_id": 81, "source": "judge", "judge": "j|p"}])
    with pytest.raises(JevalError, match="2 judges"):
        read_set(str(mixed))
    assert read_set(f"{mixed}#j|p").pairs[0].item == "81"


def test_vote_store_url_is_read_like_its_export(tmp_path):
    from jeval.arena.store import Turn, VoteStore

    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    store = VoteStore(url)
    for i, (a, b, w) in enumerate([("x", "y", "model_a"), ("y", "x", "model_b")]):
        store.create_battle(f"b{i}", "anony", a, b, "s")
        store.add_turn(f"b{i}", 0, Turn("質問", "答え", "答え"), 0.0, [])
        store.record_vote(f"b{i}", "s", w, [])
    store.close()
    s = read_set(url)
    assert s.judge == HUMAN and [p.winner for p in s.pairs] == ["a", "b"]


def test_rename_models(tmp_path):
    s = read_set(str(bench_elyza_file(tmp_path, "gpt-4o", [5, 4, 3, 2])))
    assert rename_models(s, {"gpt-4o": "gpt-4o-2024-05-13"}).models == ["gpt-4o-2024-05-13"]


# ---------------------------------------------------------------------------------------------
# Comparisons


def test_single_sets_in_perfect_agreement(tmp_path):
    a, b = tmp_path / "judge_a", tmp_path / "judge_b"
    for m, scores in (("m1", [5, 4, 3, 2]), ("m2", [4, 4, 2, 1]), ("m3", [1, 2, 3, 3])):
        shaberi_file(a, m, scores)
        bench_elyza_file(b, m, scores)
    report = agreement(read_set(str(a)), read_set(str(b)), Options(bootstrap=50))
    c = report["comparison"]
    assert c["kind"] == "single" and c["n"] == 12 and c["models"] == 3
    for name in ("spearman", "kendall_tau_b", "weighted_kappa", "exact", "within_1", "model_spearman"):
        assert stat(c, name) == pytest.approx(1.0)
    assert stat(c, "mean_diff") == 0.0
    assert c["statistics"]["weighted_kappa"]["ci95"] == [1.0, 1.0]
    assert c["answers"] == {"same": 12, "different": 0, "unknown": 0}
    assert c["per_model"][0] == {"model": "m1", "n": 4, "mean_a": 3.5, "mean_b": 3.5, "diff": 0.0}
    assert "per-model Spearman" in format_report(report)


def test_single_sets_statistics_match_the_hand_values(tmp_path):
    a, b = tmp_path / "judge_a", tmp_path / "judge_b"
    shaberi_file(a, "m", [1, 2, 3, 4])
    shaberi_file(b, "m", [1, 2, 4, 4])
    c = agreement(read_set(str(a)), read_set(str(b)), FAST)["comparison"]
    assert stat(c, "weighted_kappa") == pytest.approx(1 - 0.25 / 3)
    assert stat(c, "exact") == 0.75 and stat(c, "within_1") == 1.0 and stat(c, "mean_diff") == 0.25
    c = agreement(read_set(str(a)), read_set(str(b)), Options(bootstrap=0, weights="linear"))["comparison"]
    assert stat(c, "weighted_kappa") == pytest.approx(1 - 0.25 / 1.375)
    assert stat(c, "model_spearman") is None and any("at least 3" in n for n in c["notes"])


def test_same_answers_keeps_only_identical_texts(tmp_path):
    a, b = tmp_path / "judge_a", tmp_path / "judge_b"
    shaberi_file(a, "m", [5, 4, 3, 2], ["同じ", "同じ2", "違うA", "違うA2"])
    shaberi_file(b, "m", [5, 3, 1, 1], ["同じ", "同じ2", "違うB", "違うB2"])
    loose = agreement(read_set(str(a)), read_set(str(b)), FAST)["comparison"]
    assert loose["n"] == 4 and loose["answers"] == {"same": 2, "different": 2, "unknown": 0}
    strict = agreement(read_set(str(a)), read_set(str(b)), Options(bootstrap=0, same_answers=True))["comparison"]
    assert strict["n"] == 2 and strict["answers"]["dropped"] == 2
    assert stat(strict, "mean_diff") == -0.5


def test_repeats_self_consistency_by_hand(tmp_path):
    folder = nss_folder(tmp_path, "org_model-x_cmdrplus", [[4, 5, 3, 1], [4, 4, 3, 1], [4, 3, 3, 2]])
    report = agreement(read_set(str(folder)), None, Options(bootstrap=20))
    c = report["self_consistency"]["A"]
    assert c["repeats"] == [0, 1, 2] and c["answers"] == 4
    sds = [0.0, 1.0, 0.0, float(np.std([1, 1, 2], ddof=1))]
    assert stat({"statistics": c["spread"]}, "mean_sd") == pytest.approx(np.mean(sds), abs=1e-6)
    assert stat({"statistics": c["spread"]}, "all_equal") == 0.5
    pairs = {tuple(p["repeats"]): p for p in c["pairs"]}
    assert stat(pairs[(0, 1)], "exact") == 0.75 and stat(pairs[(0, 2)], "exact") == 0.5
    row = c["per_model"][0]
    assert row["model"] == "org_model-x" and row["exact"] == pytest.approx((3 + 2 + 2) / 12, abs=1e-4)
    assert row["mean_by_repeat"] == [3.25, 3.0, 3.0]
    assert "self-consistency of A" in format_report(report)


def test_two_runs_of_one_judge_are_also_read_as_repeats(tmp_path):
    folder = nss_folder(tmp_path, "org_m_cmdrplus", [[4, 5, 3], [4, 4, 3]])
    report = agreement(read_set(str(folder / "result_take1.jsonl")), read_set(str(folder / "result_take2.jsonl")),
                       FAST)
    assert stat(report["comparison"], "exact") == pytest.approx(2 / 3)
    merged = report["self_consistency"]["A+B"]
    assert merged["repeats"] == [0, 1] and merged["answers"] == 3


def test_single_set_with_repeats_against_one_without(tmp_path):
    records = [single_rec(q, m, s, repeat=r) for r, scores in enumerate([[8, 6, 4], [9, 6, 4]])
               for (q, m), s in zip([(81, "a"), (82, "a"), (81, "b")], scores)]
    run = jeval_run(tmp_path / "run", "single", records)
    other = write_jsonl(tmp_path / "o_single.jsonl", [single_rec(q, m, s, judge="other")
                                                      for q, m, s in [(81, "a", 8), (82, "a", 6), (81, "b", 5)]])
    report = agreement(read_set(str(run)), read_set(str(other)), FAST)
    c = report["comparison"]
    assert c["n"] == 3 and stat(c, "exact") == pytest.approx(2 / 3)
    assert any("A holds 2 repeats; its first" in n for n in c["notes"])
    assert "A" in report["self_consistency"]


def both_orders(tmp_path: Path) -> Path:
    """Ten both-order comparisons: 6 consistent, 3 where the first shown won both games, 1 where
    the second shown won one game and the other was a tie."""
    rows = [pair_rec(str(q), "x", "y", "model_1", "model_1") for q in range(3)]
    rows += [pair_rec(str(q), "x", "y", "model_2", "model_2") for q in range(3, 5)]
    rows += [pair_rec("5", "x", "y", "tie", "tie")]
    rows += [pair_rec(str(q), "x", "y", "model_1", "model_2") for q in range(6, 9)]  # game 1: x first, game 2: y
    rows += [pair_rec("9", "x", "y", "tie", "model_1")]  # game 2 shows y first and x won: second position
    return write_jsonl(tmp_path / "gpt-4_pair.jsonl", rows)


def test_position_bias_on_a_constructed_set(tmp_path):
    report = agreement(read_set(str(both_orders(tmp_path))), None, Options(bootstrap=100))
    b = report["position_bias"]["A"]
    assert b["both_order_pairs"] == 10 and b["inconsistent"] == 4 and b["leaning_first"] == 3
    assert b["counts"] == {"consistent": 6, "both_first": 3, "both_second": 0, "lean_first": 0, "lean_second": 1}
    assert stat(b, "consistency") == 0.6 and stat(b, "first_preference") == 0.75
    assert b["sign_test_p"] == pytest.approx(10 / 16)
    # games with a winner: 3+3 (x won, x first in g1 / y first in g2), 2+2, 3+3 first-shown wins, 1 (second)
    assert b["games_with_a_winner"] == 17 and b["games_won_by_first"] == 3 + 2 + 6
    lo, hi = b["statistics"]["consistency"]["ci95"]
    assert lo <= 0.6 <= hi
    text = format_report(report)
    assert "position bias of A: 10 both-order pairs" in text and "sign test p = 0.6250" in text


def test_same_order_repeats_are_counted_apart(tmp_path):
    rows = [{"question_id": "q", "model1_id": "a", "model2_id": "b", "score": s} for s in (1, 1, 2)]
    rows.append({"question_id": "q", "model1_id": "b", "model2_id": "a", "score": 2})
    b = agreement(read_set(str(write_jsonl(tmp_path / "r.jsonl", rows))), None, FAST)["position_bias"]["A"]
    assert b["both_order_pairs"] == 1 and b["counts"]["consistent"] == 1
    assert b["same_order_repeats"] == {"n": 2, "consistent": 0.5}


def test_pairwise_sets_agreement_and_game_by_game(tmp_path):
    a = write_jsonl(tmp_path / "a_pair.jsonl", [
        pair_rec("1", "x", "y", "model_1", "model_1"), pair_rec("2", "x", "y", "model_2", "model_2"),
        pair_rec("3", "x", "y", "model_1", "tie"), pair_rec("4", "x", "y", "model_1", "model_1")])
    b_rows = [pair_rec("1", "y", "x", "model_2", "model_2"), pair_rec("2", "x", "y", "model_2", "model_2"),
              pair_rec("3", "x", "y", "tie", "tie"), pair_rec("4", "x", "y", "model_2", "model_2")]
    for r in b_rows:
        r["judge"] = ["other", "pair-v2"]
    b = write_jsonl(tmp_path / "b_pair.jsonl", b_rows)
    c = agreement(read_set(str(a)), read_set(str(b)), FAST)["comparison"]
    # combined verdicts A: x, y, tie, x; B: x (frame flipped), y, tie, y
    assert c["kind"] == "pairwise" and c["n"] == 4 and stat(c, "agreement") == 0.75
    assert stat(c, "agreement_without_ties") == pytest.approx(2 / 3)
    assert c["table"]["counts"] == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    # kappa: po = 3/4; marginals A (2,1,1)/4, B (1,2,1)/4 -> pe = (2+2+1)/16
    assert stat(c, "kappa") == pytest.approx((0.75 - 5 / 16) / (1 - 5 / 16))
    assert c["games"]["n"] == 8


def test_scores_against_votes_derive_verdicts(tmp_path):
    folder = tmp_path / "judge_j"
    shaberi_file(folder, "x", [5, 3, 3, 1])
    shaberi_file(folder, "y", [4, 4, 3, 2])
    votes = write_jsonl(tmp_path / "v_pair.jsonl", [
        pair_rec(str(q), "x", "y", w, w, answer_1=f"x の答え {q}", answer_2=f"y の答え {q}")
        for q, w in enumerate(["model_1", "model_2", "tie", "model_1"])])
    c = agreement(read_set(str(folder)), read_set(str(votes)), FAST)["comparison"]
    assert c["kind"] == "single-vs-pairwise" and c["n"] == 4 and stat(c, "agreement") == 0.75
    assert c["answers"] == {"same": 4, "different": 0, "unknown": 0}
    assert any("A's scores are turned into verdicts" in n for n in c["notes"])


def test_by_pair_compares_a_judge_with_arena_votes(tmp_path):
    judge = write_jsonl(tmp_path / "j_pair.jsonl", [
        pair_rec(str(q), m1, m2, w, w) for q, (m1, m2, w) in enumerate(
            [("x", "y", "model_1"), ("x", "y", "model_1"), ("x", "z", "model_1"), ("y", "z", "model_2"),
             ("y", "z", "tie")])])
    arena = write_jsonl(tmp_path / "battles.jsonl", [
        {"model_a": a, "model_b": b, "winner": w, "question_id": f"b{i}", "source": "arena"}
        for i, (a, b, w) in enumerate([("x", "y", "model_a"), ("y", "x", "model_a"), ("x", "y", "model_a"),
                                       ("z", "x", "model_b"), ("y", "z", "tie")])])
    with pytest.raises(JevalError, match=r"share no \(model, item\).*--by-pair"):
        agreement(read_set(str(judge)), read_set(str(arena)), FAST)
    report = agreement(read_set(str(judge)), read_set(str(arena)), Options(bootstrap=0, by_pair=True))
    c = report["comparison"]
    assert c["kind"] == "by-pair" and c["pairs"] == 3
    shares = {(r["model_1"], r["model_2"]): (r["share_a"], r["share_b"]) for r in c["per_pair"]}
    assert shares == {("x", "y"): (1.0, pytest.approx(2 / 3, abs=1e-4)), ("x", "z"): (1.0, 1.0),
                      ("y", "z"): (0.25, 0.5)}
    assert stat(c, "preferred_agreement") == pytest.approx(2 / 3)
    assert "model pair by pair" in format_report(report)


# ---------------------------------------------------------------------------------------------
# Errors


def test_nothing_joinable(tmp_path):
    a, b = tmp_path / "judge_a", tmp_path / "judge_b"
    shaberi_file(a, "m1", [5, 4, 3, 2])
    shaberi_file(b, "m2", [5, 4, 3, 2])
    with pytest.raises(JevalError, match=r"A and B share no \(model, item\) — are they judgments of the same "
                                         r"answers\?.*--rename OLD=NEW"):
        agreement(read_set(str(a)), read_set(str(b)), FAST)


def test_mixed_scales(tmp_path):
    elyza = read_set(str(shaberi_file(tmp_path / "judge_a", "m", [5, 4, 3, 2])))
    mt = read_set(str(write_jsonl(tmp_path / "x_single.jsonl", [single_rec(0, "m", 9)])))
    with pytest.raises(JevalError, match=r"mixed scales: A .* on 1-5 and B .* on 1-10"):
        agreement(elyza, mt, FAST)


def test_unreadable_lines_name_file_and_line(tmp_path):
    path = tmp_path / "bad_single.jsonl"
    path.write_text(json.dumps(single_rec(1, "m", 5)) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(JevalError, match=r"bad_single.jsonl:2: not valid JSON"):
        read_set(str(path))
    path.write_text(json.dumps(single_rec(1, "m", "great")) + "\n", encoding="utf-8")
    with pytest.raises(JevalError, match=r"bad_single.jsonl:1: score must be a number, got 'great'"):
        read_set(str(path))
    path.write_text(json.dumps(pair_rec(1, "a", "b", "model_3", "tie")) + "\n", encoding="utf-8")
    with pytest.raises(JevalError, match=r":1: g1_winner 'model_3' is not model_1, model_2, tie or error"):
        read_set(str(path))
    path.write_text(json.dumps({"question_id": 1, "model1_id": "a", "model2_id": "b", "score": 7}) + "\n",
                    encoding="utf-8")
    with pytest.raises(JevalError, match=r":1: score 7 is not 1 \(first better\)"):
        read_set(str(path))
    path.write_text(json.dumps({"model_a": "a", "model_b": "a", "winner": "tie"}) + "\n", encoding="utf-8")
    with pytest.raises(JevalError, match=r"bad_single.jsonl:1: model_a and model_b are the same model"):
        read_set(str(path))
    bad_csv = tmp_path / "t.csv"
    bad_csv.write_text("judge,model_file,row,item_index,score,answer_sha1_10\nj,m,0,0\n", encoding="utf-8")
    with pytest.raises(JevalError, match=r"t.csv:2: expected 6 columns"):
        read_set(str(bad_csv))


def test_files_that_are_not_judgment_sets(tmp_path):
    with pytest.raises(JevalError, match="no such file or folder"):
        read_set(str(tmp_path / "missing.jsonl"))
    odd = write_jsonl(tmp_path / "odd.jsonl", [{"hello": 1}])
    with pytest.raises(JevalError, match=r"not a judgment set jeval reads \(first record: hello\); expected"):
        read_set(str(odd))
    preds = write_jsonl(tmp_path / "preds.jsonl", [{"pred": "答え"}])
    with pytest.raises(JevalError, match=r"model answers \(NSS preds.jsonl\), not judgments"):
        read_set(str(preds))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(JevalError, match="no judgments in the file"):
        read_set(str(empty))
    csv_path = tmp_path / "other.csv"
    csv_path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(JevalError, match="a CSV file, but not a score table"):
        read_set(str(csv_path))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(JevalError, match="no judgment files in the folder"):
        read_set(str(tmp_path / "nothing"))
    mixed = tmp_path / "mixed"
    shaberi_file(mixed, "m", [5, 4, 3, 2])
    write_jsonl(mixed / "x_single.jsonl", [single_rec(0, "m", 9)])
    with pytest.raises(JevalError, match="files of different formats in one folder"):
        read_set(str(mixed))
    unscored = write_jsonl(tmp_path / "u_single.jsonl", [single_rec(1, "m", -1)])
    with pytest.raises(JevalError, match=r"no usable judgments \(1 without a verdict"):
        read_set(str(unscored))


def test_a_different_second_judgment_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "d_single.jsonl", [single_rec(1, "m", 5), single_rec(1, "m", 6)])
    with pytest.raises(JevalError, match=r"d_single.jsonl:2: a second, different judgment of the same answer .*"
                                         r"first at .*d_single.jsonl:1"):
        read_set(str(path))


def test_nss_preds_must_line_up(tmp_path):
    folder = nss_folder(tmp_path, "org_m_cmdrplus", [[4, 5, 3]])
    write_jsonl(folder / "preds.jsonl", [{"pred": "x"}])
    with pytest.raises(JevalError, match=r"3 judgments, but .*preds.jsonl holds 1 answers"):
        read_set(str(folder))


def test_elyza_files_in_a_different_row_order(tmp_path):
    a = read_set(str(shaberi_file(tmp_path / "judge_a", "m", [5, 4, 3, 2])))
    path = bench_elyza_file(tmp_path / "b", "m", [5, 4, 3, 2])
    rows = json.loads(path.read_text(encoding="utf-8"))
    rows[0]["input"], rows[1]["input"] = rows[1]["input"], rows[0]["input"]
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(JevalError, match=r"name different questions .*same \(test.csv\) order"):
        agreement(a, read_set(str(path)), FAST)


def test_same_answers_errors(tmp_path):
    a = read_set(str(shaberi_file(tmp_path / "judge_a", "m", [5, 4, 3, 2], ["1", "2", "3", "4"])))
    b = read_set(str(shaberi_file(tmp_path / "judge_b", "m", [5, 4, 3, 2], ["5", "6", "7", "8"])))
    with pytest.raises(JevalError, match="--same-answers: none of the 4 joined judgments was made on identical"):
        agreement(a, b, Options(bootstrap=0, same_answers=True))
    no_text = read_set(str(write_jsonl(tmp_path / "n_single.jsonl", [single_rec(0, "m", 9)])))
    with pytest.raises(JevalError, match=r"--same-answers needs the answer texts, and .* holds none"):
        agreement(no_text, no_text, Options(bootstrap=0, same_answers=True))


def test_one_set_without_repeats_or_orders(tmp_path):
    s = read_set(str(shaberi_file(tmp_path / "judge_a", "m", [5, 4, 3, 2])))
    with pytest.raises(JevalError, match="holds neither repeats nor both orders"):
        agreement(s, None, FAST)


def test_by_pair_without_shared_pairs(tmp_path):
    a = read_set(str(write_jsonl(tmp_path / "a_pair.jsonl", [pair_rec("1", "x", "y", "tie", "tie")])))
    b = read_set(str(write_jsonl(tmp_path / "b_pair.jsonl", [pair_rec("1", "u", "v", "tie", "tie")])))
    with pytest.raises(JevalError, match="A and B share no model pair"):
        agreement(a, b, Options(bootstrap=0, by_pair=True))


def test_options_are_checked():
    with pytest.raises(JevalError, match="--bootstrap must be 0"):
        Options(bootstrap=-1)


# ---------------------------------------------------------------------------------------------
# The command


def test_cli_text_json_and_errors(tmp_path, capsys):
    a, b = tmp_path / "judge_a", tmp_path / "judge_b"
    for m, scores in (("m1", [5, 4, 3, 2]), ("m2", [4, 4, 2, 1]), ("m3", [1, 2, 3, 3])):
        shaberi_file(a, m, scores)
        bench_elyza_file(b, f"{m}-renamed", [min(5, s + 1) for s in scores])
    args = [a, b, "--rename", "m1-renamed=m1", "--rename", "m2-renamed=m2", "--rename", "m3-renamed=m3",
            "--bootstrap", "30", "--seed", "3"]
    code, out, _ = run_cli(capsys, *args, "--json")
    report = json.loads(out)
    assert code == 0 and report["comparison"]["n"] == 12 and report["options"]["seed"] == 3
    assert stat(report["comparison"], "mean_diff") == pytest.approx(11 / 12)  # +1 each, 5 stays 5
    code, out, _ = run_cli(capsys, *args, "--weights", "linear")
    assert code == 0 and "kappa weights: linear" in out and "Spearman rho" in out
    code, _, err = run_cli(capsys, a, b)
    assert code == 2 and err.startswith("jeval: error: A and B share no (model, item)")
    code, _, err = run_cli(capsys, a, b, "--rename", "m1")
    assert code == 2 and "--rename 'm1': expected OLD=NEW" in err


def test_cli_in_a_child_process(tmp_path):
    proc = jeval("judge", "agreement", both_orders(tmp_path), "--bootstrap", "20", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["position_bias"]["A"]["both_order_pairs"] == 10


def test_hash_is_shaberis_answer_sha1_10():
    assert text_hash("答え") == hashlib.sha1("答え".encode()).hexdigest()[:10]
