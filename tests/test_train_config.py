"""A bad training config is one `jeval: error:` line and exit 2, before any training starts."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import error_lines, jeval
from train_support import EXAMPLES

from jeval.errors import JevalError
from jeval.models.train.config import load_config
from jeval.models.train.presets import preset, with_max_steps


def write(tmp_path, config: dict):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def base() -> dict:
    return yaml.safe_load((EXAMPLES / "pretrain.yaml").read_text())


def absolute(config: dict) -> dict:
    for spec in config["sources"].values():
        spec["path"] = str(EXAMPLES / spec["path"])
    return config


@pytest.mark.parametrize("change, message", [
    (lambda c: c["sources"]["en_web"].update(path="/nowhere/en.txt"),
     "sources.en_web: corpus file /nowhere/en.txt does not exist"),
    (lambda c: c["stages"][0]["mixture"].update(ja_web=0.5), "stages (general): mixture ratios sum to 0.8, not 1"),
    (lambda c: c["stages"][1]["mixture"].update(wiki=0.0),
     "stages (quality): mixture names unknown source(s) wiki; sources are en_web, ja_quality, ja_web"),
    (lambda c: c["optim"].update(learning_rate=1), "optim: unknown key(s) learning_rate"),
])
def test_a_bad_config_is_a_clear_error_and_nothing_is_written(tmp_path, change, message):
    config = absolute(base())
    change(config)
    out = tmp_path / "out"
    proc = jeval("train", "--config", write(tmp_path, config), "--out", out, timeout=120)
    assert proc.returncode == 2
    lines = error_lines(proc)
    assert len(lines) == 1 and lines[0].startswith(f"jeval: error: {message}"), lines
    assert not out.exists()


def test_an_unknown_preset_is_a_clear_error(tmp_path):
    proc = jeval("train", "--preset", "huge", "--out", tmp_path / "out", timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc) == ["jeval: error: unknown preset 'huge'; available: tiny (or --config FILE)"]


def test_the_shipped_examples_load_and_relative_paths_follow_the_file():
    config = load_config(EXAMPLES / "pretrain.yaml")
    assert [s.name for s in config.stages] == ["general", "quality"]
    assert config.sources[0].paths == (EXAMPLES / "data" / "ja_web.jsonl",)
    assert config.total_steps == 60 and config.optim.beta2 == 0.95
    with pytest.raises(JevalError, match=r"model.init: .* is not a Hugging Face checkpoint folder"):
        load_config(EXAMPLES / "sft.yaml")


def test_max_steps_scales_the_curriculum_in_proportion():
    config = with_max_steps(load_config(EXAMPLES / "pretrain.yaml"), 30)
    assert [(s.steps, s.warmup_steps) for s in config.stages] == [(20, 4), (10, 2)]
    assert with_max_steps(preset("tiny"), 120).total_steps == 120


def test_the_shipped_pretraining_example_runs_from_the_cli_into_a_servable_folder(tmp_path):
    out = tmp_path / "ckpt"
    proc = jeval("train", "--config", EXAMPLES / "pretrain.yaml", "--out", out, "--max-steps", "6", timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-1].startswith(f"checkpoint: {out} (234,816 parameters, final loss ")
    for name in ("model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja",
                 "train_log.jsonl", "jeval_train.json", "training_curves.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "jeval_train.json").read_text())
    assert summary["steps"] == 6 and summary["mode"] == "pretrain"


def test_cli_flags_set_the_evaluation_hook_and_checkpoints():
    from jeval.cli import build_parser
    from jeval.models.train.cli import resolve_config

    args = build_parser().parse_args(["train", "--preset", "tiny", "--out", "x", "--max-steps", "40", "--eval-tasks",
                                      "jaster,jcommonsenseqa", "--eval-every", "20", "--eval-arg=--limit",
                                      "--eval-arg=50", "--seed", "7"])
    config, name = resolve_config(args)
    assert name == "tiny" and config.seed == 7 and config.total_steps == 40
    assert config.eval.tasks == ("jaster", "jcommonsenseqa") and config.eval.every == 20
    assert config.eval.args == ("--limit", "50") and config.save_every == 20


def test_sft_refuses_pretraining_stages(tmp_path):
    config = {"mode": "sft", "sources": {"chat": {"path": str(EXAMPLES / "data" / "chat.jsonl"), "format": "chat"}},
              "stages": [{"steps": 3, "mixture": {"chat": 1.0}}], "optim": {"max_steps": 3}}
    proc = jeval("train", "--config", write(tmp_path, config), "--out", tmp_path / "out", timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc) == ["jeval: error: sft: stages apply to pre-training; give optim.max_steps instead"]
