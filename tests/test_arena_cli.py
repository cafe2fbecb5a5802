"""`jeval arena export` and `jeval arena ratings` through the real command line."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import error_lines, jeval

from jeval.arena.store import Turn, VoteStore


def write_battles(path, rows) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return str(path)


ROWS = ([{"model_a": "x", "model_b": "y", "winner": "model_a", "tstamp": i} for i in range(6)]
        + [{"model_a": "y", "model_b": "z", "winner": "model_a", "tstamp": 10 + i} for i in range(4)]
        + [{"model_a": "z", "model_b": "x", "winner": "tie", "tstamp": 20}]
        + [{"model_a": "x", "model_b": "z", "winner": "model_b", "tstamp": 21, "flags": ["names_model"]}])


def test_ratings_as_markdown_csv_and_json(tmp_path):
    path = write_battles(tmp_path / "b.jsonl", ROWS)
    md = jeval("arena", "ratings", "--battles", path, "--bootstrap", "30")
    assert md.returncode == 0, md.stderr
    assert md.stdout.splitlines()[0].startswith("| rank | model | rating |")
    assert "11 battles" in md.stdout
    table = list(csv.DictReader(io.StringIO(jeval("arena", "ratings", "--battles", path, "--format", "csv").stdout)))
    assert [r["model"] for r in table] == ["x", "y", "z"]
    assert [r["battles"] for r in table] == ["7", "10", "5"]
    report = json.loads(jeval("arena", "ratings", "--battles", path, "--format", "json", "--bootstrap", "10").stdout)
    assert report["battles"] == 11 and report["options"]["bootstrap"] == 10
    assert report["win_rates"]["x"]["y"] == 1.0
    assert report["battle_counts"]["x"]["z"] == 1
    flagged = json.loads(jeval("arena", "ratings", "--battles", path, "--format", "json", "--include-flagged").stdout)
    assert flagged["battles"] == 12


def test_ratings_png_needs_an_output_file(tmp_path):
    path = write_battles(tmp_path / "b.jsonl", ROWS)
    out = tmp_path / "figs" / "ratings.png"
    proc = jeval("arena", "ratings", "--battles", path, "--format", "png", "--output", out, "--bootstrap", "10")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    proc = jeval("arena", "ratings", "--battles", path, "--format", "png")
    assert proc.returncode == 2 and error_lines(proc) == ["jeval: error: --format png needs --output FILE.png"]


def test_judge_battles_and_arena_battles_rate_together_or_apart(tmp_path):
    judge = write_battles(tmp_path / "judge.jsonl", [
        {"model_a": "x", "model_b": "y", "winner": "model_b", "tstamp": 1, "weight": 3, "judge": "gpt-4",
         "question_id": 81, "turn": 1, "source": "judge", "extra": "ignored"}])
    arena = write_battles(tmp_path / "arena.jsonl", ROWS)
    both = json.loads(jeval("arena", "ratings", "--battles", judge, "--battles", arena, "--format", "json").stdout)
    assert both["battles"] == 12
    rows = {r["model"]: r for r in both["models"]}
    assert rows["y"]["battles"] == 13 and rows["y"]["wins"] == 7
    only = json.loads(jeval("arena", "ratings", "--battles", judge, "--battles", arena, "--source", "judge",
                            "--format", "json").stdout)
    assert only["battles"] == 1
    assert {r["model"]: r["wins"] for r in only["models"]} == {"y": 3, "x": 0}


@pytest.mark.parametrize("line, message", [
    ('{"model_a": "x", "winner": "model_a"}', "b.jsonl:2: battle has no model_b"),
    ('{"model_a": "x", "model_b": "y", "winner": "A"}', "b.jsonl:2: winner 'A' is not one of"),
    ("not json", "b.jsonl:2: not valid JSON"),
])
def test_a_bad_battle_line_is_one_error_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + line + "\n")
    proc = jeval("arena", "ratings", "--battles", path)
    assert proc.returncode == 2
    [error] = error_lines(proc)
    assert message in error


def test_other_ratings_mistakes(tmp_path):
    flagged = write_battles(tmp_path / "f.jsonl", [ROWS[-1]])
    proc = jeval("arena", "ratings", "--battles", flagged)
    assert proc.returncode == 2 and "none of the 1 battles is counted" in proc.stderr
    path = write_battles(tmp_path / "b.jsonl", ROWS)
    proc = jeval("arena", "ratings", "--battles", path, "--anchor", "x1000")
    assert proc.returncode == 2 and "expected MODEL=RATING" in proc.stderr
    proc = jeval("arena", "ratings", "--battles", path, "--anchor", "w=1000")
    assert proc.returncode == 2 and "anchor model 'w'" in proc.stderr
    proc = jeval("arena", "ratings", "--battles", path, "--style")
    assert proc.returncode == 2 and "conv_metadata" in proc.stderr


def test_export_from_the_store_and_rate_the_file_or_the_store_alike(tmp_path):
    url = f"sqlite:///{tmp_path / 'votes.sqlite'}"
    store = VoteStore(url)
    answers = {"x": "# 見出し\n- 長い答え\n- **とても**長い答え", "y": "短い", "z": "1. 普通の答え"}
    outcomes = [("x", "y", "model_a"), ("y", "z", "model_b"), ("z", "x", "tie"), ("x", "z", "model_a"),
                ("y", "x", "model_b"), ("z", "y", "model_a"), ("x", "y", "tie (bothbad)")]
    for i, (a, b, winner) in enumerate(outcomes):
        store.create_battle(f"b{i}", "anony", a, b, "s")
        store.add_turn(f"b{i}", 0, Turn("質問", answers[a], answers[b]), 0.0, [])
        store.record_vote(f"b{i}", "s", winner, [])
    store.close()

    out = tmp_path / "battles.jsonl"
    proc = jeval("arena", "export", "--store", url, "--output", out, "--with-conversations")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["model_a"], r["model_b"], r["winner"]) for r in rows] == outcomes
    assert rows[0]["conversation_a"][1]["content"] == answers["x"]
    stdout = jeval("arena", "export", "--store", url).stdout
    assert len(stdout.splitlines()) == 7 and "conversation_a" not in stdout

    from_file = jeval("arena", "ratings", "--battles", out, "--format", "csv").stdout
    from_store = jeval("arena", "ratings", "--battles", url, "--format", "csv").stdout
    assert from_file == from_store
    styled = jeval("arena", "ratings", "--battles", out, "--style", "--bootstrap", "5", "--prior", "0.1")
    assert styled.returncode == 0, styled.stderr
    assert "Style coefficients: length" in styled.stdout


def test_export_needs_a_store(tmp_path):
    proc = jeval("arena", "export")
    assert proc.returncode == 2 and "--store URL or --config" in proc.stderr
    proc = jeval("arena", "export", "--config", tmp_path / "missing.yaml")
    assert proc.returncode == 2 and "arena config not found" in proc.stderr


def test_audit_takes_the_vote_store_from_the_arena_config(tmp_path):
    config = tmp_path / "arena.yaml"
    config.write_text("store: sqlite:///votes.sqlite\nmodels:\n- {name: x, base_url: u, model: m}\n"
                      "- {name: y, base_url: u, model: m}\n")
    store = VoteStore(f"sqlite:///{tmp_path / 'votes.sqlite'}")
    store.create_battle("b1", "anony", "x", "y", "s")
    store.add_turn("b1", 0, Turn("あなたはGPT-4oですか", "はい", "いいえ"), 0.0, ["names_model"])
    store.record_vote("b1", "s", "model_a", ["names_model"], leaks=["gpt-4o"])
    store.close()
    proc = jeval("arena", "audit", "--config", config, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["votes"] == 1
    fast, named = report["flagged"][0]["findings"]
    assert fast["rule"] == "fast" and fast["reason"].endswith("s after the answers finished (at least 2 s)")
    assert named == {"rule": "names_model", "reason": "names a model (gpt-4o); left out of the rankings by its flag"}
