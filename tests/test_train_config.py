"""A bad training config is one `jeval: error:` line and exit 2, before any training starts."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import error_lines, jeval
from train_support import EXAMPLES

from jeval.errors import JevalError
from jeval.models.train.config import from_dict, load_config
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


def _set(path: str, value):
    """A change to the example config: `value` at the dotted `path` (`stages.0.steps`)."""
    def change(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    return change


@pytest.mark.parametrize("path, value, message", [
    ("optim.lr", "fast", "optim.lr: expected a number > 0, got the string 'fast'"),
    ("optim.batch_size", "16", "optim.batch_size: expected an integer >= 1, got the string '16'"),
    ("optim", [256, 16], "optim: expected a mapping (key: value lines), got a list"),
    ("stages.0.mixture", ["ja_web", "en_web"],
     "stages[0].mixture: expected a mapping of strings to numbers >= 0, got a list"),
    ("stages.0.steps", 0, "stages[0].steps: expected an integer >= 1, got 0"),
    ("stages.1.steps", -20, "stages[1].steps: expected an integer >= 1, got -20"),
    ("save_every", -1, "save_every: expected an integer >= 0, got -1"),
    ("model.init", True, "model.init: expected a path (a string), got true"),
    ("sources.en_web.path", False, "sources.en_web.path: expected a path (a string) or a list of paths, got false"),
    ("tokenizer.mecab", "yes", "tokenizer.mecab: expected true or false, got the string 'yes'"),
    ("optim.beta2", 1.5, "optim.beta2: expected a number from 0 up to, not including, 1, got 1.5"),
    ("seed", 2.5, "seed: expected an integer from 0 to 4294967295, got 2.5"),
])
def test_a_value_of_the_wrong_type_or_range_is_one_error_naming_the_key_before_anything_is_created(
        tmp_path, path, value, message):
    config = absolute(base())
    _set(path, value)(config)
    out = tmp_path / "out"
    proc = jeval("train", "--config", write(tmp_path, config), "--out", out, timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert error_lines(proc) == [f"jeval: error: {message}"]
    assert not out.exists()


def test_wrong_types_are_refused_in_process_too_and_yaml_exponents_are_numbers(tmp_path):
    config = absolute(base())
    config["optim"]["lr"] = 1  # an integer where a number is expected is that number
    assert from_dict(config).optim.lr == 1.0
    path = write(tmp_path, config)
    path.write_text(path.read_text().replace("lr: 1", "lr: 3e-3"))  # a string to PyYAML (YAML 1.1)
    assert load_config(path).optim.lr == 0.003
    path.write_text(path.read_text().replace("lr: 3e-3", "lr: '3e-3'"))  # quoted: a string
    with pytest.raises(JevalError, match=r"optim.lr: expected a number > 0, got the string '3e-3'"):
        load_config(path)
    with pytest.raises(JevalError, match=r"optim.lr: expected a number > 0, got nan"):
        from_dict({**config, "optim": {"lr": float("nan")}})
    with pytest.raises(JevalError, match=r"stages\[0\] \(general\): needs steps"):
        from_dict({**config, "stages": [{"name": "general", "mixture": {"ja_web": 1.0}}]})


def test_presets_and_command_line_overrides_meet_the_same_bounds():
    from jeval.models.train.config import with_overrides

    with pytest.raises(JevalError, match=r"^seed: expected an integer from 0 to 4294967295, got -1$"):
        with_overrides(preset("tiny"), seed=-1)
    with pytest.raises(JevalError, match=r"^save_every: expected an integer >= 0, got -3$"):
        with_overrides(preset("tiny"), save_every=-3)


def test_an_unknown_preset_is_a_clear_error(tmp_path):
    proc = jeval("train", "--preset", "huge", "--out", tmp_path / "out", timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc) == ["jeval: error: unknown preset 'huge'; available: tiny (or --config FILE)"]


def test_the_shipped_examples_load_and_relative_paths_follow_the_file():
    config = load_config(EXAMPLES / "pretrain.yaml")
    assert [s.name for s in config.stages] == ["general", "quality"]
    assert config.sources[0].paths == (EXAMPLES / "data" / "ja_web.jsonl",)
    assert config.total_steps == 60 and config.optim.beta2 == 0.95
    assert load_config(EXAMPLES / "sft.yaml").model.init == str(EXAMPLES / "pretrain.yaml")
    assert load_config(EXAMPLES / "dpo.yaml").model.init == str(EXAMPLES / "sft.yaml")


def test_model_init_is_a_checkpoint_folder_or_a_config_and_a_chain_never_comes_back(tmp_path):
    sft = yaml.safe_load((EXAMPLES / "sft.yaml").read_text())
    sft["sources"]["chat"]["path"] = str(EXAMPLES / "data" / "chat.jsonl")
    with pytest.raises(JevalError, match=r"^model.init: .*/nowhere is not a Hugging Face checkpoint folder "
                                         r"\(no config.json\) or a training config \(.yaml\)$"):
        from_dict({**sft, "model": {"init": str(tmp_path / "nowhere")}})
    with pytest.raises(JevalError, match=r"^model.init: training config .*/missing.yaml does not exist$"):
        from_dict({**sft, "model": {"init": str(tmp_path / "missing.yaml")}})

    (tmp_path / "a.yaml").write_text(yaml.safe_dump({**sft, "model": {"init": "b.yaml"}}))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**sft, "model": {"init": "a.yaml"}}))
    with pytest.raises(JevalError, match=r"^model.init: a.yaml -> b.yaml -> a.yaml comes back to a config already "
                                         r"in the chain$"):
        load_config(tmp_path / "a.yaml")

    broken = absolute(base())
    broken["optim"]["lr"] = "fast"
    (tmp_path / "pre.yaml").write_text(yaml.safe_dump(broken))
    (tmp_path / "sft.yaml").write_text(yaml.safe_dump({**sft, "model": {"init": "pre.yaml"}}))
    proc = jeval("train", "--config", tmp_path / "sft.yaml", "--out", tmp_path / "out", timeout=120)
    assert proc.returncode == 2
    assert error_lines(proc) == ["jeval: error: model.init (pre.yaml): optim.lr: expected a number > 0, "
                                 "got the string 'fast'"]
    assert not (tmp_path / "out").exists()


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
