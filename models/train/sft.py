"""Instruction tuning with TRL: SFT with loss on assistant tokens only, and DPO.

SFT turns every assistant turn of a conversation into one conversational prompt-completion
example (the turns before it as the prompt, the turn as the completion). TRL's SFTTrainer renders
both with the tokenizer's chat template and, with `completion_only_loss`, masks everything but
the completion from the loss: the model learns to answer, not to write user turns. This works
with any chat template (assistant-only loss over whole conversations needs `{% generation %}`
markers that most templates lack). DPO uses TRL's DPOTrainer on `{prompt, chosen, rejected}`
pairs made conversational the same way. LoRA (peft) applies to both.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sized
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

from datasets import Dataset
from transformers import Trainer, TrainerCallback

from jeval.errors import JevalError
from jeval.models.train import sources as corpora
from jeval.models.train.checkpoints import AtomicCheckpoints
from jeval.models.train.config import TrainConfig
from jeval.models.train.curves import plot_curves
from jeval.models.train.evalhook import EvalHook
from jeval.models.train.logs import JsonlLogger
from jeval.models.train.lora import peft_config
from jeval.models.train.pretrain import _jsonable, build_model, build_tokenizer
from jeval.models.train.runtime import (
    StopAtStep,
    prepare_output,
    remove_empty_checkpoints_folder,
    resolve_resume,
    save_servable,
    training_arguments,
)

log = logging.getLogger(__name__)


def completion_examples(conversations: list[list[dict[str, str]]]) -> list[dict]:
    """One `{prompt: [...], completion: [assistant turn]}` per assistant turn."""
    examples = []
    for messages in conversations:
        for i, m in enumerate(messages):
            if m["role"] == "assistant" and i > 0:
                examples.append({"prompt": messages[:i], "completion": [m]})
    return examples


def preference_examples(pairs: list[dict[str, str]]) -> list[dict]:
    return [{"prompt": [{"role": "user", "content": p["prompt"]}],
             "chosen": [{"role": "assistant", "content": p["chosen"]}],
             "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs]


def _schedule(config: TrainConfig) -> dict[str, Any]:
    return {"lr_scheduler_type": "cosine_with_min_lr",
            "lr_scheduler_kwargs": {"min_lr_rate": config.optim.min_lr_ratio},
            "warmup_steps": config.optim.warmup_steps}


def finetune(config: TrainConfig, out: Path, resume: str | None = None, stop_at_step: int | None = None,
             name: str = "custom") -> dict:
    started = time.monotonic()
    checkpoint = resolve_resume(out, resume)
    prepare_output(out, checkpoint)
    tokenizer = build_tokenizer(config)
    model = build_model(config, tokenizer)
    callbacks: list[TrainerCallback] = [JsonlLogger(out / "train_log.jsonl", [], 0)]
    hook = EvalHook(config.eval, out) if config.eval.tasks else None
    if hook:
        callbacks.append(hook)
    if stop_at_step:
        callbacks.append(StopAtStep(stop_at_step))
    common = {**training_arguments(config, out), **_schedule(config)}
    trainer: Trainer
    if config.mode == "sft":
        from trl import SFTConfig, SFTTrainer

        class JevalSFTTrainer(AtomicCheckpoints, SFTTrainer):
            """TRL's SFTTrainer with atomic checkpoints."""

        conversations = [c for s in config.sources for c in corpora.chats(s)]
        examples = completion_examples(conversations)
        if not examples:
            raise JevalError("sft: the sources hold no assistant turn to learn from")
        sft_args = SFTConfig(**common, max_length=config.optim.seq_len, completion_only_loss=True, packing=False)
        trainer = JevalSFTTrainer(model=model, args=sft_args, train_dataset=Dataset.from_list(examples),
                                  processing_class=tokenizer, peft_config=peft_config(config.lora), callbacks=callbacks)
    else:
        from trl import DPOConfig, DPOTrainer

        class JevalDPOTrainer(AtomicCheckpoints, DPOTrainer):
            """TRL's DPOTrainer with atomic checkpoints."""

        pairs = [p for s in config.sources if s.format == "preference" for p in corpora.preferences(s)]
        dpo_args = DPOConfig(**common, max_length=config.optim.seq_len, beta=config.dpo_beta)
        trainer = JevalDPOTrainer(model=model, args=dpo_args,
                                  train_dataset=Dataset.from_list(preference_examples(pairs)),
                                  processing_class=tokenizer, peft_config=peft_config(config.lora), callbacks=callbacks)
    result = trainer.train(resume_from_checkpoint=checkpoint)
    stopped = bool(stop_at_step) and trainer.state.global_step < config.total_steps
    if not stopped:
        save_servable(trainer, tokenizer, out, config.lora)
    if hook:
        hook.finish()
    remove_empty_checkpoints_folder(out)
    plot = plot_curves(out, config, name)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    summary = {
        "preset": name,
        "mode": config.mode,
        "parameters": model.num_parameters(),
        "steps": trainer.state.global_step,
        "stopped_early": stopped,
        "examples": len(cast(Sized, trainer.train_dataset)),
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_loss": result.training_loss,
        "final_perplexity": math.exp(losses[-1]) if losses and config.mode == "sft" else None,
        "plot": str(plot) if plot else None,
        "seconds": round(time.monotonic() - started, 1),
        "config": _jsonable(asdict(config)),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "jeval_train.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return summary
