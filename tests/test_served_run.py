"""The served path for real: `jeval serve` starts `transformers serve`; `jeval run` talks to it."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

from conftest import JEVAL, jeval, run_files


def read_samples(run_dir):
    path = run_dir / "samples" / "jcommonsenseqa.jsonl"
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def run_dir_of(output):
    [results] = list(run_files(output, "results.json"))
    return results.parent


def test_run_against_served_checkpoint(served, prepared, tmp_path, tiny_checkpoint):
    out = tmp_path / "results"
    proc = jeval("run", "--base-url", served.base_url, "--model-id", served.model_id, "--tasks", "jcommonsenseqa",
                 "--data-dir", prepared, "--cache", tmp_path / "cache.sqlite", "--output", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_dir = run_dir_of(out)
    results = json.loads((run_dir / "results.json").read_text())
    samples = read_samples(run_dir)
    task = results["tasks"]["jcommonsenseqa"]
    test_items = json.loads((prepared / "jcommonsenseqa" / "test.json").read_text())["samples"]
    assert task["n_samples"] == len(samples) == len(test_items)
    assert task["metrics"]["exact_match"] == sum(s["exact_match"] for s in samples) / len(samples)
    assert all(s["exact_match"] == float(s["prediction"] == s["target"]) for s in samples)
    assert task["shots"] == 4 and task["protocol"] == "jeval-jaster-1+standin-data"  # the project's samples
    assert samples[0]["prompt"].count("### 入力:") == 5
    assert results["model"]["fingerprint"].startswith("sha256:")
    assert results["model"]["id"] == str(tiny_checkpoint.resolve())
    assert len(task["data_fingerprint"]) == 64 and len(task["prompt_fingerprint"]) == 64
    assert results["requests"] == {"total": len(samples), "from_cache": 0, "sent": len(samples), "retries": 0}
    assert results["tokens"]["prompt"] > 0 and results["tokens"]["completion"] > 0
    assert results["versions"]["transformers"]
    assert "jcommonsenseqa" in proc.stdout and "exact_match" in proc.stdout


def cached_rows(path) -> int:
    try:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_run_resumes_without_sending_any_request_twice(served, prepared, tmp_path, make_proxy):
    args = ["run", "--model-id", served.model_id, "--tasks", "jcommonsenseqa", "--data-dir", str(prepared),
            "--concurrency", "2"]
    reference = jeval(*args, "--base-url", served.base_url, "--cache", tmp_path / "ref.sqlite",
                      "--output", tmp_path / "ref")
    assert reference.returncode == 0, reference.stderr[-2000:]

    proxy = make_proxy(served.base_url, delay_s=0.3)
    cache = tmp_path / "resume.sqlite"
    cmd = [*JEVAL, *args, "--base-url", proxy.url, "--cache", str(cache), "--output", str(tmp_path / "resumed")]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while cached_rows(cache) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    done_before_kill = cached_rows(cache)
    total = len(json.loads((prepared / "jcommonsenseqa" / "test.json").read_text())["samples"])
    assert 6 <= done_before_kill < total
    with sqlite3.connect(cache) as db:
        completed_prompts = {json.loads(r[0])["prompt"] for r in db.execute("SELECT request FROM generations")}
    sent_in_first = len(proxy.completions())

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    resent = [r["prompt"] for r in proxy.completions()[sent_in_first:]]
    assert not completed_prompts & set(resent)
    assert len(resent) == total - done_before_kill
    resumed = json.loads((run_dir_of(tmp_path / "resumed") / "results.json").read_text())
    assert resumed["requests"]["from_cache"] == done_before_kill

    ref_dir = run_dir_of(tmp_path / "ref")
    ref_results = json.loads((ref_dir / "results.json").read_text())
    assert resumed["tasks"]["jcommonsenseqa"]["metrics"] == ref_results["tasks"]["jcommonsenseqa"]["metrics"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "cached"} for r in rows]
    assert strip(read_samples(run_dir_of(tmp_path / "resumed"))) == strip(read_samples(ref_dir))


def test_same_run_twice_is_answered_from_the_cache(served, prepared, tmp_path, make_proxy):
    proxy = make_proxy(served.base_url)
    args = ["run", "--base-url", proxy.url, "--model-id", served.model_id, "--tasks", "jcommonsenseqa",
            "--data-dir", prepared, "--cache", tmp_path / "c.sqlite", "--limit", "5"]
    assert jeval(*args, "--output", tmp_path / "a").returncode == 0
    n = len(proxy.completions())
    assert n == 5
    again = jeval(*args, "--output", tmp_path / "b")
    assert again.returncode == 0
    assert len(proxy.completions()) == n
    results = json.loads((run_dir_of(tmp_path / "b") / "results.json").read_text())
    assert results["requests"]["from_cache"] == 5 and results["requests"]["sent"] == 0


def test_run_with_checkpoint_starts_and_stops_its_own_server(tiny_checkpoint, prepared, tmp_path):
    out = tmp_path / "results"
    proc = jeval("run", "--model", tiny_checkpoint, "--tasks", "jcommonsenseqa", "--limit", "4",
                 "--data-dir", prepared, "--cache", tmp_path / "c.sqlite", "--output", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((run_dir_of(out) / "results.json").read_text())
    assert results["backend"]["engine"] == "transformers-serve" and results["backend"]["server_started"] is True
    assert results["backend"]["command"][1] == "serve"
    log = out / "logs"
    [log_file] = list(log.glob("serve-transformers-*.log"))
    assert "POST /v1/completions" in log_file.read_text()
    port = results["backend"]["base_urls"][0].split(":")[-1].split("/")[0]
    import socket

    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(port))) != 0, "the server outlived the run"
