"""Every file under models/train/examples/ works as shipped, by the command its own header gives.

- A training config (`mode: ...`) trains a few steps (`--max-steps 3`, which also shortens the
  runs its `model.init` chains: sft.yaml trains pretrain.yaml first, dpo.yaml trains sft.yaml and
  pretrain.yaml) into servable checkpoints, each with its curve figure.
- An accelerate config is read by accelerate's own loader, every key of its FSDP/DeepSpeed section
  is an option `accelerate launch` knows, its settings agree with the trainer (the layer class FSDP
  wraps is the model's; ZeRO's accumulation and clipping are pretrain.yaml's), and its launch line
  runs on one CPU process (`--cpu --num_processes 1`). That checks the file and the command, not
  the sharding: FSDP and ZeRO need GPUs.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import jeval
from train_support import EXAMPLES

from jeval.errors import JevalError
from jeval.models.train.config import init_config, is_config_path, load_config
from jeval.models.train.curves import StageMark, curve_figure, stage_marks
from jeval.models.train.driver import INIT_FOLDER, train
from jeval.models.train.logs import read_jsonl
from jeval.models.train.presets import with_max_steps

STEPS = 3
FILES = sorted(EXAMPLES.glob("*.yaml"))
TRAINING = [p for p in FILES if "mode" in yaml.safe_load(p.read_text(encoding="utf-8"))]
ACCELERATE = [p for p in FILES if "compute_environment" in yaml.safe_load(p.read_text(encoding="utf-8"))]
PANELS = {"pretrain": ["Training loss", "Learning rate"],
          "sft": ["Training loss", "Training accuracy", "Learning rate"],
          "dpo": ["Training loss", "Training accuracy", "Learning rate"]}


def documented_command(example: Path) -> list[str]:
    """The command in the file's header comment (`#   jeval train ...`, continued by `\\`)."""
    lines = [line[1:].strip() for line in example.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    start = next(i for i, line in enumerate(lines) if line.startswith(("jeval train", "accelerate launch")))
    command = ""
    for line in lines[start:]:
        command += line.removesuffix("\\") + " "
        if not line.endswith("\\"):
            break
    return shlex.split(command)


def with_value(args: list[str], flag: str, value: str) -> list[str]:
    """`args` with `flag`'s value replaced."""
    i = args.index(flag)
    return [*args[:i + 1], value, *args[i + 2:]]


def chain(example: Path) -> list[tuple[str, Path]]:
    """(mode, folder below OUT) of the run the example asks for and of each run its model.init chains."""
    config, folder, runs = load_config(example), Path("."), []
    while True:
        runs.append((config.mode, folder))
        if not is_config_path(config.model.init):
            return runs
        config, folder = init_config(config), folder / INIT_FOLDER


def stage_lines(figure) -> list[list[tuple[str, float]]]:
    """Per panel, the vertical lines marking a stage: (gid, step)."""
    return [[(line.get_gid(), line.get_xdata()[0]) for line in ax.lines if (line.get_gid() or "").startswith("stage:")]
            for ax in figure.axes]


def test_the_curve_figure_gives_each_kind_of_number_its_panel_and_marks_the_stages():
    train = [{"step": s, "stage": "general" if s <= 6 else "quality", "loss": 7.0 - 0.3 * s,
              "learning_rate": 3e-3 * min(1, s / 3), "grad_norm": 1.0} for s in range(1, 11)]
    evals = [{"step": s, "returncode": 0, "scores": {"jcommonsenseqa/exact_match": 0.2 + s / 100,
                                                     "jsts/pearson": -0.3 + s / 20, "ppl/loss,lang=ja": 6 - s / 5}}
             for s in (5, 10)] + [{"step": 10, "returncode": 1, "error": "failed"}]
    figure = curve_figure(train, evals, [StageMark(0, "general"), StageMark(6, "quality")], total_steps=10)
    assert figure is not None
    assert [ax.get_title(loc="left") for ax in figure.axes] == [
        "Training loss", "Evaluation scores", "Validation loss", "Learning rate"]
    loss, scores, validation, _ = figure.axes
    assert [line.get_label() for line in scores.get_lines() if not line.get_gid()] == [
        "jcommonsenseqa/exact_match", "jsts/pearson"]
    assert [line.get_label() for line in validation.get_lines() if not line.get_gid()] == ["ppl/loss,lang=ja"]
    low, high = scores.get_ylim()
    assert -1.1 < low < -1 and 1 < high < 1.1, "a correlation can go below 0 (to -1), a score never above 1"
    series = [line for ax in figure.axes for line in ax.get_lines() if not line.get_gid()]
    assert len({line.get_color() for line in series}) == len(series) == 5
    assert stage_lines(figure) == [[("stage:quality", 6)]] * 4
    top = loss.child_axes[0]
    assert [t.get_text() for t in top.get_xticklabels()] == ["general ▸", "quality ▸"]
    assert list(top.get_xticks()) == [0, 6]
    assert figure.axes[-1].get_xlim() == (0, 10)

    only_scores = curve_figure([], [{"step": 4, "scores": {"jcommonsenseqa/exact_match": 0.5}}])
    assert only_scores is not None and only_scores.axes[0].get_ylim()[0] > -0.05
    assert curve_figure([], []) is None


def test_every_example_is_a_training_or_an_accelerate_config_with_a_command_to_run_it():
    assert {p.name for p in TRAINING} == {"pretrain.yaml", "sft.yaml", "dpo.yaml"}
    assert {p.name for p in ACCELERATE} == {"accelerate_fsdp.yaml", "accelerate_deepspeed_zero2.yaml"}
    assert set(TRAINING) | set(ACCELERATE) == set(FILES)
    for example in TRAINING:
        assert documented_command(example)[:4] == ["jeval", "train", "--config", example.name]
    for example in ACCELERATE:
        assert documented_command(example)[:4] == ["accelerate", "launch", "--config_file", example.name]


@pytest.mark.parametrize("example", TRAINING, ids=lambda p: p.stem)
def test_each_training_example_trains_by_its_own_command(example, tmp_path):
    out = tmp_path / "out"
    command = documented_command(example)
    proc = jeval(*with_value(command[1:], "--out", str(out)), "--max-steps", str(STEPS), cwd=EXAMPLES, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1].startswith(f"checkpoint: {out} (")

    runs = chain(example)
    assert [mode for mode, _ in runs] == {"pretrain": ["pretrain"], "sft": ["sft", "pretrain"],
                                          "dpo": ["dpo", "sft", "pretrain"]}[example.stem]
    for mode, below in runs:
        run = out / below
        for name in ("model.safetensors", "config.json", "tokenizer.json", "chat_template.jinja", "train_log.jsonl",
                     "training_curves.png"):
            assert (run / name).is_file(), run / name
        assert (run / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        summary = json.loads((run / "jeval_train.json").read_text())
        assert (summary["mode"], summary["steps"], summary["stopped_early"]) == (mode, STEPS, False)
        assert summary["plot"] == str(run / "training_curves.png")
        config = with_max_steps(load_config(EXAMPLES / f"{mode}.yaml"), STEPS)
        figure = curve_figure(read_jsonl(run / "train_log.jsonl"), [], stage_marks(config))
        assert figure is not None
        assert [ax.get_title(loc="left") for ax in figure.axes] == PANELS[mode]
        if mode == "pretrain":
            assert stage_lines(figure) == [[("stage:quality", 2)]] * len(figure.axes)
    continued = json.loads((out / "jeval_train.json").read_text())["config"]["model"]["init"]
    assert continued == ("scratch" if example.stem == "pretrain" else str(out / INIT_FOLDER))


def test_a_second_run_reuses_the_chained_model_and_a_different_one_is_refused(tmp_path):
    out = tmp_path / "out"
    config = with_max_steps(load_config(EXAMPLES / "sft.yaml"), 2)
    train(config, out, init_max_steps=2)
    trained = (out / INIT_FOLDER / "model.safetensors").stat().st_mtime_ns
    again = train(config, out, init_max_steps=2)
    assert again["steps"] == 2
    assert (out / INIT_FOLDER / "model.safetensors").stat().st_mtime_ns == trained
    with pytest.raises(JevalError, match=r"^model.init: .*/out/init holds a model trained from another config than "
                                         r"pretrain.yaml \(or with other --max-steps\); choose another --out"):
        train(with_max_steps(load_config(EXAMPLES / "sft.yaml"), 3), out, init_max_steps=3)
    assert (out / INIT_FOLDER / "model.safetensors").stat().st_mtime_ns == trained


def launch_options_known(section: dict) -> list[str]:
    """The keys of an FSDP/DeepSpeed section that `accelerate launch` has no option for (and
    would silently ignore)."""
    from accelerate.commands.launch import launch_command_parser

    parser = launch_command_parser()
    return [key for key, value in section.items()
            if parser.parse_known_args([f"--{key}", str(value), "train.py"])[1]]


@pytest.mark.parametrize("example", ACCELERATE, ids=lambda p: p.stem)
def test_each_accelerate_config_is_read_by_accelerate_and_its_launch_line_runs(example, tmp_path):
    from accelerate.commands.config.config_args import load_config_from_file
    from transformers import LlamaForCausalLM

    settings = load_config_from_file(str(example))
    trainer = load_config(EXAMPLES / "pretrain.yaml")
    if settings.distributed_type == "FSDP":
        assert launch_options_known(settings.fsdp_config) == []
        assert settings.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] in LlamaForCausalLM._no_split_modules
        assert settings.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    else:
        assert settings.distributed_type == "DEEPSPEED"
        assert launch_options_known(settings.deepspeed_config) == []
        assert settings.deepspeed_config["gradient_accumulation_steps"] == trainer.optim.grad_accum
        assert settings.deepspeed_config["gradient_clipping"] == trainer.optim.max_grad_norm

    out = tmp_path / "out"
    command = documented_command(example)
    one_cpu = ["--cpu", "--num_processes", "1", "--num_machines", "1", "--machine_rank", "0",
               "--mixed_precision", "no"]
    args = [*command[2:4], *one_cpu, *with_value(command[4:], "--out", str(out)), "--max-steps", "2"]
    proc = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", *args], cwd=EXAMPLES,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1].startswith(f"checkpoint: {out} (234,816 parameters")
    assert json.loads((out / "jeval_train.json").read_text())["steps"] == 2
