"""`--tensorboard DIR` and `--wandb PROJECT`: a real run's scores, table and radar chart written as
TensorBoard events (read back with TensorBoard's own EventAccumulator) and as an offline W&B run;
judge results and arena ratings logged the same way; a library that is not installed is one line
before any work."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import JEVAL, SAMPLES, error_lines, jeval
from test_jaster_run import write_llm_jp_eval_files

from jeval.judges.aggregate import summarize_single
from jeval.tracking import judge_board, write_tensorboard

pytest.importorskip("tensorboard", reason="the test extra installs tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TASKS = "jnli,niilc,jsquad"


def events(folder: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def scalar(accumulator: EventAccumulator, tag: str) -> float:
    [event] = accumulator.Scalars(tag)
    return event.value


def text(accumulator: EventAccumulator, tag: str) -> str:
    from tensorboard.util.tensor_util import make_ndarray

    [event] = accumulator.Tensors(f"{tag}/text_summary")
    return make_ndarray(event.tensor_proto).item().decode("utf-8")


def png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


@pytest.fixture(scope="module")
def jaster_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tracking-data")
    source = write_llm_jp_eval_files(root / "llm-jp-eval")
    proc = jeval("data", "prepare", *TASKS.split(","), "--jaster-dir", source, "--mirror", SAMPLES,
                 "--data-dir", root / "data")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "data"


@pytest.fixture(scope="module")
def tracked(tiny_checkpoint, jaster_data, tmp_path_factory):
    """A Jaster run of three categories, in process, logged to TensorBoard and (W&B installed) to
    an offline W&B run."""
    out = tmp_path_factory.mktemp("tracked")
    wandb = ["--wandb", "jeval-tests"] if importlib.util.find_spec("wandb") is not None else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(WANDB_MODE="offline", WANDB_SILENT="true")
    args = ["run", "--model", tiny_checkpoint, "--backend", "local", "--tasks", TASKS, "--limit", "3",
            "--data-dir", jaster_data, "--cache", out / "cache.sqlite", "--output", out / "results", "--name", "tiny",
            "--run-id", "tracked", "--tensorboard", out / "tb", *wandb]
    proc = subprocess.run([*JEVAL, *map(str, args)], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [path] = (out / "results").glob("*/tracked/results.json")
    return out, proc, json.loads(path.read_text()), path.parent


def test_run_scores_are_tensorboard_scalars(tracked):
    out, proc, results, _ = tracked
    assert f"tensorboard: {out / 'tb' / 'tiny-tracked'}" in proc.stderr
    found = events(out / "tb" / "tiny-tracked")
    for name, task in results["tasks"].items():
        for key, value in task["metrics"].items():
            if isinstance(value, float):
                assert scalar(found, f"{name}/{key}") == pytest.approx(value, rel=1e-6), (name, key)
    summary = results["summaries"]["jaster"]
    assert scalar(found, "jaster/AVG") == pytest.approx(summary["AVG"], rel=1e-6)
    assert scalar(found, "jaster/AVG_stderr") == pytest.approx(summary["AVG_stderr"], rel=1e-6)
    assert scalar(found, "jaster/QA") == pytest.approx(summary["categories"]["QA"], rel=1e-6)
    assert "jaster/MC" not in found.Tags()["scalars"]


def test_run_table_and_radar_are_in_the_events(tracked):
    out, _, results, _ = tracked
    found = events(out / "tb" / "tiny-tracked")
    table = text(found, "scores")
    assert table.startswith("| task | metric | score | stderr | protocol | shots | n |")
    jnli = results["tasks"]["jnli"]["metrics"]
    assert f"| jnli | exact_match | {jnli['exact_match']:.4f} |" in table
    assert "| [jaster] | AVG |" in table
    [radar] = found.Images("radar/jaster categories")
    assert (radar.width, radar.height) == png_size(radar.encoded_image_string) == (480, 480)


def test_run_is_an_offline_wandb_run_beside_the_results(tracked):
    pytest.importorskip("wandb")
    _, proc, results, run_dir = tracked
    [offline] = (run_dir / "wandb").glob("offline-run-*")
    assert f"wandb: project jeval-tests, run tiny-tracked ({offline})" in proc.stderr
    [store] = offline.glob("run-*.wandb")
    assert store.stat().st_size > 0
    [table_file] = (offline / "files" / "media" / "table").glob("scores_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"] == ["task", "metric", "score", "stderr", "protocol", "shots", "n"]
    jnli = results["tasks"]["jnli"]["metrics"]
    assert ["jnli", "exact_match", jnli["exact_match"], jnli["exact_match_stderr"]] in [r[:4] for r in table["data"]]
    [image] = (offline / "files" / "media" / "images" / "radar").glob("jaster categories_*.png")
    assert png_size(image.read_bytes()) == (480, 480)
    [svg] = (offline / "files" / "media" / "html" / "radar_svg").glob("*.html")
    assert "<svg" in svg.read_text() and 'aria-label="jaster categories"' in svg.read_text()


def test_judge_scores_are_logged_with_a_radar_of_categories(tmp_path):
    records = [{"model": model, "question_id": q, "turn": turn, "category": category, "score": score,
                "failure": None, "repeat": 0}
               for model, bonus in (("a", 0), ("b", 2))
               for q, category in ((1, "writing"), (2, "math"), (3, "coding"), (4, "reasoning"))
               for turn, score in ((1, 5 + bonus), (2, 3 + bonus))]
    results = {"mode": "single", "benchmark": {"task": "jmt_bench", "title": "Japanese MT-Bench", "scale": [1, 10]},
               "scores": summarize_single(records, 1)}
    board = judge_board(results, tmp_path / "judged" / "first")
    found = events(write_tensorboard(board, tmp_path / "tb"))
    assert scalar(found, "a/overall") == pytest.approx(4.0) and scalar(found, "b/overall") == pytest.approx(6.0)
    assert scalar(found, "b/turn 2") == pytest.approx(5.0) and scalar(found, "a/math") == pytest.approx(4.0)
    [radar] = found.Images("radar/Japanese MT-Bench categories")
    assert radar.width == 480
    assert "| b | overall | 6.0000 |" in text(found, "scores")


def test_arena_ratings_are_logged_with_their_figure(tmp_path):
    rows = ([{"model_a": "x", "model_b": "y", "winner": "model_a", "tstamp": i} for i in range(6)]
            + [{"model_a": "y", "model_b": "z", "winner": "model_a", "tstamp": 10 + i} for i in range(4)]
            + [{"model_a": "z", "model_b": "x", "winner": "tie", "tstamp": 20}])
    battles = tmp_path / "battles.jsonl"
    battles.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = jeval("arena", "ratings", "--battles", battles, "--bootstrap", "20", "--format", "json",
                 "--tensorboard", tmp_path / "tb")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    [line] = [x for x in proc.stderr.splitlines() if x.startswith("tensorboard: ")]
    found = events(Path(line.removeprefix("tensorboard: ")))
    for model in report["models"]:
        assert scalar(found, f"rating/{model['model']}") == pytest.approx(model["rating"], rel=1e-6)
        assert scalar(found, f"battles/{model['model']}") == model["battles"]
    [figure] = found.Images("ratings")
    assert figure.width > 400


@pytest.fixture
def without_libraries(tmp_path) -> dict:
    """An environment in which `import tensorboard` and `import wandb` fail as they do where the
    packages are not installed (a sitecustomize marks both as absent: a stand-in for uninstalling
    them from the shared environment)."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text("import sys\nsys.modules['tensorboard'] = None\n"
                                             "sys.modules['wandb'] = None\n")
    return {"PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


@pytest.mark.parametrize(("option", "value", "install"), [("--tensorboard", "tb", "pip install tensorboard"),
                                                           ("--wandb", "project", "pip install wandb")])
def test_a_missing_library_is_one_line_before_any_work(without_libraries, tmp_path, option, value, install):
    commands = {
        "run": ["run", "--base-url", "http://127.0.0.1:9/v1", "--model-id", "m", "--tasks", "jnli",
                "--output", tmp_path / "results", "--cache", tmp_path / "cache.sqlite", "--data-dir", tmp_path],
        "judge": ["judge", "single", "--answers", tmp_path, "--judge-model", "m", "--judge-base-url",
                  "http://127.0.0.1:9/v1", "--output", tmp_path / "judged", "--cache", tmp_path / "j.sqlite"],
        "arena": ["arena", "ratings", "--battles", tmp_path / "no-such-file.jsonl"],
    }
    for name, args in commands.items():
        proc = jeval(*args, option, tmp_path / value if option == "--tensorboard" else value, env=without_libraries)
        assert proc.returncode == 2, (name, proc.stderr[-2000:])
        [line] = error_lines(proc)
        assert line.startswith(f"jeval: error: {option} needs the ") and line.endswith(install), (name, line)
    assert not (tmp_path / "results").exists() and not (tmp_path / "judged").exists()
    assert not (tmp_path / "tb").exists()
