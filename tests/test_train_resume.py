"""Resuming: a run stopped at step k and resumed ends where an uninterrupted run ends."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from train_support import EXAMPLES, micro

from jeval.errors import JevalError
from jeval.models.train.driver import train


def config():
    data = EXAMPLES / "data"
    return micro(
        {"ja": {"path": str(data / "ja_web.jsonl")}, "en": {"path": str(data / "en_web.txt"), "format": "text"}},
        stages=[{"name": "a", "steps": 4, "warmup_steps": 2, "mixture": {"ja": 0.5, "en": 0.5}},
                {"name": "b", "steps": 4, "warmup_steps": 1, "mixture": {"ja": 1.0}}],
        save_every=3,
        optim={"seq_len": 64, "batch_size": 4, "grad_accum": 2, "lr": 3.0e-3},
    )


def test_stopped_and_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path):
    whole = train(config(), tmp_path / "whole")
    stopped = train(config(), tmp_path / "split", stop_at_step=3)
    assert stopped["stopped_early"] and stopped["steps"] == 3
    assert not (tmp_path / "split" / "model.safetensors").exists()
    with pytest.raises(JevalError, match="already holds checkpoints; continue with --resume"):
        train(config(), tmp_path / "split")
    resumed = train(config(), tmp_path / "split", resume="auto")
    assert whole["steps"] == resumed["steps"] == 8

    a = load_file(tmp_path / "whole" / "model.safetensors")
    b = load_file(tmp_path / "split" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6, msg=name)
    at_stop = load_file(tmp_path / "split" / "checkpoints" / "checkpoint-3" / "model.safetensors")
    assert max((b[n] - at_stop[n]).abs().max().item() for n in b) > 1e-3, "the resumed steps must have trained"

    log = [json.loads(line) for line in (tmp_path / "split" / "train_log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if "loss" in r]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8]
    whole_log = (tmp_path / "whole" / "train_log.jsonl").read_text().splitlines()
    whole_losses = [r["loss"] for r in map(json.loads, whole_log) if "loss" in r]
    split_losses = [r["loss"] for r in log if "loss" in r]
    assert len(whole_losses) == len(split_losses) == 8
    assert all(abs(x - y) < 1e-5 for x, y in zip(whole_losses, split_losses))
