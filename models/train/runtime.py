"""What every training mode shares: TrainingArguments from the config, resuming, stopping at a
step, and writing the final servable checkpoint."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainerCallback

from jeval.errors import JevalError
from jeval.models.train.checkpoints import MARKER, checkpoint_folders, incompleteness, newest_complete
from jeval.models.train.config import LoraConfig, TrainConfig
from jeval.models.train.lora import merged

log = logging.getLogger(__name__)


def use_bf16(config: TrainConfig) -> bool:
    if config.optim.bf16 == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(config.optim.bf16)


def trackers() -> list[str]:
    """TensorBoard when it is installed; W&B when installed and configured (a key or a mode)."""
    found = []
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        found.append("tensorboard")
    if importlib.util.find_spec("wandb") and (os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE")):
        found.append("wandb")
    return found


def training_arguments(config: TrainConfig, out: Path, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for TrainingArguments (or TRL's subclasses of it)."""
    o = config.optim
    return dict(
        output_dir=str(out / "checkpoints"),
        max_steps=config.total_steps,
        per_device_train_batch_size=o.batch_size,
        gradient_accumulation_steps=o.grad_accum,
        learning_rate=o.lr,
        weight_decay=o.weight_decay,
        adam_beta1=o.beta1,
        adam_beta2=o.beta2,
        max_grad_norm=o.max_grad_norm,
        bf16=use_bf16(config),
        logging_steps=max(1, min(config.log_every, config.total_steps)),
        logging_first_step=True,
        save_strategy="steps" if config.save_every else "no",
        save_steps=config.save_every or 500,
        save_total_limit=config.save_total_limit,
        report_to=trackers(),
        use_cpu=not torch.cuda.is_available(),
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=0,
        disable_tqdm=False,
        **extra,
    )


def resolve_resume(out: Path, resume: str | None) -> str | None:
    """`auto`: the newest complete checkpoint under OUT/checkpoints (none at all: start fresh;
    only incomplete ones: an error); a path: that one, if it is complete."""
    if resume is None:
        return None
    if resume == "auto":
        return _auto_resume(out / "checkpoints")
    path = Path(resume)
    problem = incompleteness(path)
    if problem is None:
        return str(path)
    if not (path / "trainer_state.json").is_file():
        raise JevalError(f"--resume {resume}: not a complete trainer checkpoint ({problem}; no trainer_state.json); "
                         f"use auto or a checkpoints/checkpoint-N folder")
    if (path / MARKER).exists():
        raise JevalError(f"--resume {resume}: incomplete checkpoint ({problem}); use auto or another checkpoint")
    log.warning("%s has no %s (saved by an older jeval, or its save was interrupted); resuming from it as asked",
                path, MARKER)
    return str(path)


def _auto_resume(folder: Path) -> str | None:
    last = newest_complete(folder)
    if last is not None:
        log.info("resuming from %s", last)
        return str(last)
    incomplete = checkpoint_folders(folder)
    if incomplete:
        raise JevalError(f"no complete checkpoint under {folder} ({', '.join(p.name for p in incomplete)} "
                         "incomplete); resume from one you trust with --resume PATH, or delete them to start over")
    log.info("no checkpoint under %s: starting from the beginning", folder)
    return None


class StopAtStep(TrainerCallback):
    """Save a checkpoint at `step` and stop, as a job that must end at a time limit would."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


def save_servable(trainer: Trainer, tokenizer: PreTrainedTokenizerBase, out: Path, lora: LoraConfig) -> None:
    """A Hugging Face folder that `transformers serve` and vLLM load as they are. Through
    `trainer.save_model`, so that FSDP/DeepSpeed shards are gathered and only the main process
    writes; LoRA adapters are merged first unless `lora.merge` is off."""
    model: Any = trainer.model  # the model trained: a PreTrainedModel or, with LoRA, a peft model
    model.generation_config = generation_config(tokenizer)
    if lora.r > 0 and lora.merge:
        if trainer.is_world_process_zero():
            merged(model, lora).save_pretrained(out, safe_serialization=True)
            tokenizer.save_pretrained(out)
        return
    trainer.save_model(str(out))
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out)


def save_model(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out: Path) -> None:
    """An untrained or converted model as a servable folder (no trainer involved)."""
    model.generation_config = generation_config(tokenizer)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def generation_config(tokenizer: PreTrainedTokenizerBase) -> GenerationConfig:
    return GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        do_sample=True,
        temperature=0.7,
        top_p=0.95,
        max_new_tokens=256,
    )


def remove_empty_checkpoints_folder(out: Path) -> None:
    """The Trainer creates its output folder even when nothing is saved (save_every 0)."""
    folder = out / "checkpoints"
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def prepare_output(out: Path, checkpoint: str | None) -> None:
    """A fresh run refuses a folder that holds checkpoints (say --resume, or another --out) and
    starts its logs empty; a resumed run drops log lines past the checkpoint's step, which the
    resumed run writes again."""
    logs = [out / "train_log.jsonl", out / "eval_curve.jsonl"]
    if checkpoint is None:
        folder = out / "checkpoints"
        if folder.is_dir() and any(folder.glob("checkpoint-*")):
            raise JevalError(f"{out} already holds checkpoints; continue with --resume or choose another --out")
        for log_file in logs:
            log_file.unlink(missing_ok=True)
        return
    step = int(Path(checkpoint).name.rsplit("-", 1)[-1])
    for log_file in logs:
        if log_file.is_file():
            kept = [line for line in log_file.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= step]
            tmp = log_file.with_suffix(".tmp")
            tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            tmp.replace(log_file)
