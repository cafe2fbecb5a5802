"""Checkpoints are whole or absent: a save killed midway leaves nothing that `--resume` takes, and
resuming picks the newest complete checkpoint, naming each incomplete one it skips."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from train_support import EXAMPLES, micro

from jeval.errors import JevalError
from jeval.models.train.checkpoints import MARKER, STAGING, incompleteness, publish, seal
from jeval.models.train.runtime import resolve_resume

TESTS = Path(__file__).parent


def config():
    data = EXAMPLES / "data"
    return micro({"ja": {"path": str(data / "ja_web.jsonl")}},
                 stages=[{"name": "a", "steps": 8, "warmup_steps": 2, "mixture": {"ja": 1.0}}],
                 save_every=3, optim={"seq_len": 64, "batch_size": 4, "lr": 3.0e-3})


# Trains config() and SIGKILLs itself in the middle of saving checkpoint-6: after the weights and
# the optimizer are written, before the RNG state, the trainer state and the marker.
KILLED_DURING_SAVE = f"""
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {str(TESTS)!r})
from transformers import Trainer
from test_train_checkpoints import config
from jeval.models.train.driver import train

save_rng_state = Trainer._save_rng_state

def killed_at_six(self, output_dir):
    if self.state.global_step == 6:
        os.kill(os.getpid(), signal.SIGKILL)
    save_rng_state(self, output_dir)

Trainer._save_rng_state = killed_at_six
train(config(), Path(sys.argv[1]))
"""


def saved(checkpoints):
    """What a checkpoints folder holds apart from the Trainer's TensorBoard logs (`runs/`, written
    where tensorboard is installed)."""
    return sorted(p.name for p in checkpoints.iterdir() if p.name != "runs")


def test_a_save_killed_by_sigkill_leaves_no_checkpoint_and_resume_takes_the_one_before(tmp_path, caplog):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", KILLED_DURING_SAVE, str(out)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == -9, proc.stderr[-3000:]
    checkpoints = out / "checkpoints"
    assert saved(checkpoints) == [STAGING, "checkpoint-3"]
    partial = checkpoints / STAGING / "checkpoint-6"
    assert (partial / "model.safetensors").is_file() and not (partial / MARKER).exists()
    assert incompleteness(checkpoints / "checkpoint-3") is None

    with caplog.at_level(logging.INFO, logger="jeval.models.train"):
        assert resolve_resume(out, "auto") == str(checkpoints / "checkpoint-3")
    assert f"ignoring {partial}: a checkpoint save that was interrupted" in caplog.text

    from jeval.models.train.driver import train

    resumed = train(config(), out, resume="auto")
    assert resumed["steps"] == 8 and not resumed["stopped_early"]
    assert saved(checkpoints) == ["checkpoint-3", "checkpoint-6", "checkpoint-8"]
    assert incompleteness(checkpoints / "checkpoint-6") is None
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5, 6, 7, 8]


def fake_checkpoint(folder: Path, step: int, complete: bool = True) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(b"w" * 100)
    (path / "optimizer.pt").write_bytes(b"o" * 50)
    (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if complete:
        seal(path, step)
    return path


def test_resume_skips_every_kind_of_incomplete_checkpoint_and_names_it(tmp_path, caplog):
    folder = tmp_path / "out" / "checkpoints"
    good = fake_checkpoint(folder, 3)
    no_marker = fake_checkpoint(folder, 6, complete=False)
    truncated = fake_checkpoint(folder, 9)
    (truncated / "model.safetensors").write_bytes(b"w" * 60)
    missing = fake_checkpoint(folder, 12)
    (missing / "optimizer.pt").unlink()
    garbled = fake_checkpoint(folder, 15)
    (garbled / MARKER).write_text('{"step": 15, "fil')
    with caplog.at_level(logging.INFO, logger="jeval.models.train"):
        assert resolve_resume(tmp_path / "out", "auto") == str(good)
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipping")]
    assert skipped == [
        f"skipping incomplete checkpoint {garbled} ({MARKER} is unreadable)",
        f"skipping incomplete checkpoint {missing} (optimizer.pt is missing)",
        f"skipping incomplete checkpoint {truncated} (model.safetensors has 60 bytes, its save wrote 100)",
        f"skipping incomplete checkpoint {no_marker} (no {MARKER}: its save was interrupted)",
    ]
    assert f"resuming from {good}" in caplog.text


def test_only_incomplete_checkpoints_is_an_error_not_a_fresh_start(tmp_path):
    fake_checkpoint(tmp_path / "checkpoints", 6, complete=False)
    with pytest.raises(JevalError, match=r"no complete checkpoint under .*checkpoints \(checkpoint-6 incomplete\)"):
        resolve_resume(tmp_path, "auto")
    assert resolve_resume(tmp_path / "elsewhere", "auto") is None  # nothing there: start from the beginning


def test_an_explicit_checkpoint_must_be_complete(tmp_path, caplog):
    truncated = fake_checkpoint(tmp_path, 9)
    (truncated / "optimizer.pt").write_bytes(b"")
    with pytest.raises(JevalError, match=r"--resume .*checkpoint-9: incomplete checkpoint \(optimizer.pt has 0 bytes"):
        resolve_resume(tmp_path, str(truncated))
    with pytest.raises(JevalError, match="not a complete trainer checkpoint"):
        resolve_resume(tmp_path, str(tmp_path))
    older = fake_checkpoint(tmp_path, 3, complete=False)  # as jeval wrote them before the marker existed
    with caplog.at_level(logging.WARNING, logger="jeval.models.train"):
        assert resolve_resume(tmp_path, str(older)) == str(older)
    assert "resuming from it as asked" in caplog.text


def test_publishing_the_same_step_again_replaces_the_old_folder(tmp_path):
    old = fake_checkpoint(tmp_path, 6)
    staged = fake_checkpoint(tmp_path / STAGING, 6, complete=False)
    (staged / "model.safetensors").write_bytes(b"new")
    seal(staged, 6)
    publish(staged, old)
    assert (old / "model.safetensors").read_bytes() == b"new" and incompleteness(old) is None
    assert not staged.exists() and not any((tmp_path / STAGING).iterdir())
    shutil.rmtree(tmp_path / STAGING)
