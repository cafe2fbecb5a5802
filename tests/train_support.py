"""Micro-sized training configs for the trainer's tests (hidden 64, 2 layers, sequences of 64)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from jeval.models.train.config import from_dict

EXAMPLES = Path(str(files("jeval.models.train") / "examples"))


def micro(sources: dict, stages: list | None = None, **sections) -> object:
    raw = {
        "seed": 0,
        "sources": sources,
        "stages": stages if stages is not None else [{"name": "main", "steps": 6,
                                                      "mixture": {next(iter(sources)): 1.0}}],
        "tokenizer": {"source": "train", "vocab_size": 800},
        "model": {"hidden_size": 64, "intermediate_size": 128, "num_layers": 2, "num_heads": 1},
        "optim": {"seq_len": 64, "batch_size": 4, "lr": 3.0e-3},
        "log_every": 1,
        **sections,
    }
    return from_dict(raw)
