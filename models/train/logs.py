"""Training metrics on disk: `train_log.jsonl`, one line per logging step (the figure drawn from it
and `eval_curve.jsonl` is `curves.py`'s)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from transformers import TrainerCallback


def append_jsonl(path: Path, record: dict) -> None:
    """One line, appended and flushed: a reader never sees half a record after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class JsonlLogger(TrainerCallback):
    """Every trainer log (loss, learning rate, grad norm) with the step, curriculum stage and
    tokens seen so far (pre-training; SFT and DPO batches vary in length, and TRL logs their
    `num_tokens` itself)."""

    path: Path
    stage_of_step: list[str]
    tokens_per_step: int

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return control
        step = state.global_step
        stage = self.stage_of_step[min(step, len(self.stage_of_step)) - 1] if self.stage_of_step and step else None
        tokens = {"tokens": step * self.tokens_per_step} if self.tokens_per_step else {}
        record = {"step": step, **tokens, **({"stage": stage} if stage else {}), **logs}
        append_jsonl(self.path, record)
        return control
