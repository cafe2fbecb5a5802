"""The command line: every subcommand is listed, and each user error is one line and exit 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess

from conftest import JEVAL, error_lines, jeval


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_every_subcommand():
    proc = jeval("--help")
    assert proc.returncode == 0
    for command in ("run", "data", "serve", "train", "judge", "arena", "leaderboard", "demo"):
        assert f"    {command} " in proc.stdout


def test_missing_checkpoint(tmp_path):
    proc = jeval("run", "--model", tmp_path / "nope", "--tasks", "jcommonsenseqa", "--data-dir", tmp_path)
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "does not exist" in line and "jeval train" in line


def test_folder_that_is_not_a_checkpoint(tmp_path):
    proc = jeval("serve", tmp_path)
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "no config.json" in line


def test_unknown_task_suggests_close_names(tmp_path):
    proc = jeval("run", "--base-url", "http://127.0.0.1:9/v1", "--tasks", "jcommonsensqa", "--data-dir", tmp_path)
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "unknown task 'jcommonsensqa'" in line and "jcommonsenseqa" in line


def test_unprepared_task_names_the_prepare_command(tmp_path):
    proc = jeval("run", "--base-url", "http://127.0.0.1:9/v1", "--tasks", "jcommonsenseqa", "--data-dir", tmp_path)
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "jeval data prepare jcommonsenseqa" in line


def test_unreachable_server(prepared, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = jeval("run", "--base-url", url, "--model-id", "m", "--tasks", "jcommonsenseqa",
                 "--data-dir", prepared, "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out")
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "cannot reach" in line and url in line
    assert not (tmp_path / "out").exists()


def test_malformed_prepared_file_names_the_file(prepared, tmp_path):
    test_file = prepared / "jcommonsenseqa" / "test.json"
    test_file.write_text('{"instruction": "x", "samples": [', encoding="utf-8")
    proc = jeval("run", "--base-url", "http://127.0.0.1:9/v1", "--model-id", "m", "--tasks", "jcommonsenseqa",
                 "--data-dir", prepared, "--cache", tmp_path / "c.sqlite")
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert line.startswith(f"jeval: error: {test_file}:1: not valid JSON")
    assert line.endswith("run `jeval data prepare jcommonsenseqa` again (add --mirror DIR_OR_URL when offline)")


def test_both_model_and_base_url_is_an_error(tmp_path):
    proc = jeval("run", "--model", tmp_path, "--base-url", "http://x/v1", "--tasks", "jcommonsenseqa")
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert "not both" in line


def test_train_with_a_missing_config_file_is_one_error_line_naming_it(tmp_path):
    proc = jeval("train", "--config", tmp_path / "t.yaml", "--out", tmp_path / "o")
    assert proc.returncode == 2
    [line] = error_lines(proc)
    assert line.startswith("jeval: error:") and "t.yaml" in line
    assert not (tmp_path / "o").exists()


def test_sources_json_lists_url_checksum_and_mirror_path():
    proc = jeval("data", "sources", "jcommonsenseqa", "--json")
    assert proc.returncode == 0
    rows = json.loads(proc.stdout)
    assert {r["task"] for r in rows} == {"jcommonsenseqa"}
    jglue = [r for r in rows if r["url"].startswith("https://raw.githubusercontent.com/yahoojapan/JGLUE/")]
    data = [r for r in rows if r["variant"] is None]
    assert len(jglue) == 2 and data == jglue, "jeval's own prompt text needs no llm-jp-eval file"
    assert all("llm-jp-eval" in r["url"] for r in rows if r["variant"] == "--upstream-text")
    assert all(len(r["sha256"]) == 64 for r in jglue)
    assert all(r["url"].endswith(r["mirror_path"]) for r in rows)


def test_a_misspelt_option_is_one_line_naming_the_real_one(tmp_path):
    proc = jeval("run", "--modle", tmp_path, "--tasks", "jamp")
    assert proc.returncode == 2 and error_lines(proc) == ["jeval: error: unknown option --modle; did you mean --model?"]
    judge = jeval("judge", "single", "--judge-modle", "x")
    assert error_lines(judge) == ["jeval: error: unknown option --judge-modle; did you mean --judge-model?"]
    unknown = jeval("leaderboard", "--xyzzy")
    assert error_lines(unknown) == ["jeval: error: unknown option --xyzzy; see `jeval leaderboard --help`"]


def test_a_unique_prefix_of_an_option_still_works(tmp_path):
    proc = jeval("run", "--model", tmp_path / "nope", "--tasks", "jamp", "--data-d", tmp_path)
    assert proc.returncode == 2 and "does not exist" in error_lines(proc)[-1]


def test_output_into_a_closed_pipe_ends_quietly():
    """`jeval data sources jaster | head -1`: the reader goes away; no traceback, a shell's SIGPIPE status."""
    read, write = os.pipe()
    os.close(read)
    proc = subprocess.run([*JEVAL, "data", "sources", "jaster"], stdout=write, stderr=subprocess.PIPE, text=True,
                          timeout=120)
    os.close(write)
    assert proc.stderr == "" and proc.returncode == 141
