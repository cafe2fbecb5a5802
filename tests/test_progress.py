"""What a run shows while it works: a bar per task starting at what the cache held, a summary of
where answers came from; nothing but warnings with -q, and results.json alone with --json."""

from __future__ import annotations

import json

from conftest import jeval

from jeval.progress import MAX_BARS, TaskBars


def test_each_task_gets_a_bar_that_starts_at_its_cached_answers():
    bars = TaskBars({"jnli": 10, "jsquad": 4, "done": 3}, {"jnli": 6, "done": 3}, "generating")
    assert set(bars._bars) == {"jnli", "jsquad"}  # a task the cache answered whole needs no bar
    assert (bars._bars["jnli"].n, bars._bars["jnli"].total) == (6, 10)
    bars.advance("jnli")
    bars.advance("jsquad", 2)
    assert bars._bars["jnli"].n == 7 and bars._bars["jsquad"].n == 2
    bars.close()


def test_more_tasks_than_fit_share_one_bar_that_names_the_task_that_moved():
    totals = {f"task{i}": 5 for i in range(MAX_BARS + 3)}
    bars = TaskBars(totals, {"task0": 5}, "generating")
    assert not bars._bars and bars._all is not None
    assert (bars._all.n, bars._all.total) == (5, 5 * len(totals))
    bars.advance("task3")
    assert bars._all.n == 6 and bars._all.postfix == "task3"
    bars.close()


def test_bars_are_off_when_asked(capsys):
    bars = TaskBars({"jnli": 10}, {}, "generating", enabled=False)
    bars.advance("jnli")
    bars.close()
    assert not bars._bars and bars._all is None and capsys.readouterr().err == ""


def run(tmp_path, prepared, tiny_checkpoint, *extra):
    return jeval("-q" if "-q" in extra else "-v", "run", "--model", str(tiny_checkpoint), "--backend", "local",
                 "--tasks", "jcommonsenseqa", "--limit", "3", "--data-dir", str(prepared), "--cache",
                 str(tmp_path / "cache.sqlite"), "--output", str(tmp_path / "out"),
                 *[x for x in extra if x != "-q"], env={"COLUMNS": "100"})


def test_quiet_runs_print_scores_and_warnings_only_and_json_prints_results(tiny_checkpoint, prepared, tmp_path):
    quiet = run(tmp_path, prepared, tiny_checkpoint, "-q")
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "requests:" not in quiet.stderr and "it/s" not in quiet.stderr and "req/s" not in quiet.stderr
    assert "results: " in quiet.stdout
    answered = run(tmp_path, prepared, tiny_checkpoint, "--json")
    assert answered.returncode == 0, answered.stderr[-2000:]
    results = json.loads(answered.stdout)
    assert results["tasks"]["jcommonsenseqa"]["n_samples"] == 3
    assert results["requests"]["from_cache"] == results["requests"]["total"] == 3
    assert "requests: 3, 3 from the cache, 0 sent" in answered.stderr


def test_a_starting_server_is_shown_by_its_logs_last_line(tmp_path):
    """While `/health` is awaited, the status line quotes the log's last line of the server's own
    (the watchdog's lines are left out); only the log's tail is read, however long it is."""
    from pathlib import Path

    from jeval.models.server import ModelServer, ServeConfig
    from jeval.models.watchdog import SAY_PREFIX

    server = ModelServer(ServeConfig(Path("unused")))
    server.log_path = tmp_path / "serve.log"
    server.log_path.write_text("INFO: warming up\n" * 20000 + "INFO: Loading weights 3/7\n"
                               + f"{SAY_PREFIX} watching pid 12\n\n", encoding="utf-8")
    assert server._last_log_line() == "INFO: Loading weights 3/7"
    server.log_path.unlink()
    assert server._last_log_line() == ""
