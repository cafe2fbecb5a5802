"""Pre-training and continued pre-training with the HF Trainer: mixture by tokens, curriculum
stages, cosine schedule with per-stage warm-up and a floor, spike guard, resume, eval hook."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TrainerCallback,
    TrainingArguments,
    default_data_collator,
)

from jeval.errors import JevalError
from jeval.models.train import sources as corpora
from jeval.models.train.checkpoints import AtomicCheckpoints, newest_complete
from jeval.models.train.config import TrainConfig
from jeval.models.train.curves import plot_curves
from jeval.models.train.evalhook import EvalHook
from jeval.models.train.logs import JsonlLogger
from jeval.models.train.mixture import MixedSequences, Stage, pack
from jeval.models.train.runtime import (
    StopAtStep,
    prepare_output,
    remove_empty_checkpoints_folder,
    resolve_resume,
    save_servable,
    training_arguments,
)
from jeval.models.train.spike import SpikeGuard
from jeval.models.train.tokenizer import CHAT_TEMPLATE, train_tokenizer
from jeval.models.train.vocab import candidate_pieces, embedding_weight, extend_vocabulary

log = logging.getLogger(__name__)

DATA_OFFSET_FILE = "jeval_data_offset.json"


def tokenizer_texts(config: TrainConfig) -> list[str]:
    from jeval.models.train import corpus

    texts: list[str] = []
    for source in config.sources:
        texts.extend(corpus.corpus_text(config.seed) if source.format == "builtin"
                     else corpora.documents(source, None, config.seed))
    return texts


def build_tokenizer(config: TrainConfig) -> PreTrainedTokenizerBase:
    t = config.tokenizer
    source = t.source if t.source != "auto" else ("train" if config.model.init == "scratch" else config.model.init)
    if source == "train":
        return train_tokenizer(tokenizer_texts(config), t.vocab_size, mecab=t.mecab)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(config: TrainConfig, tokenizer: PreTrainedTokenizerBase) -> PreTrainedModel:
    m = config.model
    torch.manual_seed(config.seed)
    model: PreTrainedModel
    if m.init != "scratch":
        model = AutoModelForCausalLM.from_pretrained(m.init, dtype=torch.float32)
    else:
        model = LlamaForCausalLM(LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=m.hidden_size,
            intermediate_size=m.intermediate_size,
            num_hidden_layers=m.num_layers,
            num_attention_heads=m.num_heads,
            num_key_value_heads=m.num_heads,
            max_position_embeddings=m.max_position_embeddings,
            initializer_range=m.init_std,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=False,
        ))
    if config.tokenizer.extend_vocab:
        pieces = candidate_pieces(tokenizer_texts(config), config.tokenizer.extend_vocab, config.tokenizer.mecab)
        extend_vocabulary(model, tokenizer, pieces, config.tokenizer.extend_vocab)
    rows = embedding_weight(model.get_input_embeddings()).shape[0]
    if rows < len(tokenizer):
        raise JevalError(f"the tokenizer has {len(tokenizer)} tokens but the model only {rows} embeddings; "
                         "use its own tokenizer or extend_vocab")
    return model


def build_dataset(config: TrainConfig, tokenizer: PreTrainedTokenizerBase) -> MixedSequences:
    used = {name for stage in config.stages for name, r in stage.mixture.items() if r > 0}
    blocks = {}
    for source in config.sources:
        if source.name not in used:
            continue
        texts = corpora.documents(source, tokenizer, config.seed)
        ids = tokenizer(texts, add_special_tokens=False).input_ids
        blocks[source.name] = pack(ids, tokenizer.eos_token_id, config.optim.seq_len, config.seed)
        log.info("source %s: %d documents, %d sequences of %d tokens", source.name, len(texts),
                 len(blocks[source.name]), config.optim.seq_len)
    stages = [Stage(s.name, s.steps, s.mixture) for s in config.stages]
    return MixedSequences(blocks, stages, config.optim.batch_size * config.optim.grad_accum, config.seed)


def lr_factor(config: TrainConfig) -> Callable[[int], float]:
    """Step -> multiple of the peak learning rate: cosine from 1 down to `min_lr_ratio` over the
    whole run, times a linear ramp over the first `warmup_steps` of each stage."""
    total = max(1, config.total_steps)
    floor = config.optim.min_lr_ratio
    starts = config.stage_starts()
    warmups = [s.warmup_steps for s in config.stages]

    def factor(step: int) -> float:
        cosine = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
        i = max(k for k, start in enumerate(starts) if start <= step) if starts else 0
        if warmups and warmups[i] and step - starts[i] < warmups[i]:
            cosine *= (step - starts[i] + 1) / warmups[i]
        return cosine

    return factor


class Shifted(Dataset):
    """The mixture seen `offset` sequences later: after a rollback the data moves past the spike."""

    def __init__(self, base: MixedSequences, offset: int):
        self.base, self.offset = base, offset

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.base[(i + self.offset) % len(self.base)]


class JevalTrainer(AtomicCheckpoints):
    """The HF Trainer with atomic checkpoints, the stage-aware schedule and the spike guard's view
    of each loss; each checkpoint records the data offset (sequences skipped by rollbacks)."""

    def __init__(self, *args: Any, schedule: Callable[[int], float], guard: SpikeGuard, offset: int,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.schedule, self.guard, self.offset = schedule, guard, offset

    def checkpoint_extras(self) -> dict[str, str]:
        return {DATA_OFFSET_FILE: json.dumps({"offset": self.offset})}

    def create_scheduler(self, num_training_steps: int,
                         optimizer: torch.optim.Optimizer | None = None) -> torch.optim.lr_scheduler.LRScheduler:
        if self.lr_scheduler is None:
            optimizer = optimizer or self.optimizer
            assert optimizer is not None, "the Trainer creates its optimizer before its scheduler"
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.schedule)
        return self.lr_scheduler

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.guard.observe(loss.detach().float().item() * self.args.gradient_accumulation_steps)
        return loss


def _offset_of(checkpoint: str | None) -> int:
    if checkpoint and (Path(checkpoint) / DATA_OFFSET_FILE).is_file():
        return json.loads((Path(checkpoint) / DATA_OFFSET_FILE).read_text())["offset"]
    return 0


def pretrain(config: TrainConfig, out: Path, resume: str | None = None, stop_at_step: int | None = None,
             name: str = "custom") -> dict:
    """Train, save a servable checkpoint in `out` (unless stopped early), return a summary."""
    started = time.monotonic()
    checkpoint = resolve_resume(out, resume)
    prepare_output(out, checkpoint)
    tokenizer = build_tokenizer(config)
    data = build_dataset(config, tokenizer)
    from jeval.models.train.lora import wrap_for_pretraining

    model = wrap_for_pretraining(build_model(config, tokenizer), config.lora)
    log.info("%s: %d parameters, %d optimizer steps of %d sequences x %d tokens", name, model.num_parameters(),
             config.total_steps, config.optim.batch_size * config.optim.grad_accum, config.optim.seq_len)
    tokens_per_step = config.optim.batch_size * config.optim.grad_accum * config.optim.seq_len
    guard = SpikeGuard(config.spike_guard)
    hook = EvalHook(config.eval, out) if config.eval.tasks else None
    offset = _offset_of(checkpoint)
    rollbacks = 0
    while True:
        callbacks: list[TrainerCallback] = [guard, JsonlLogger(out / "train_log.jsonl", data.stage_of_step,
                                                               tokens_per_step)]
        if hook:
            callbacks.append(hook)
        if stop_at_step:
            callbacks.append(StopAtStep(stop_at_step))
        args = TrainingArguments(**training_arguments(config, out, train_sampling_strategy="sequential"))
        trainer = JevalTrainer(model=model, args=args, train_dataset=Shifted(data, offset), processing_class=tokenizer,
                               data_collator=default_data_collator, callbacks=callbacks, schedule=lr_factor(config),
                               guard=guard, offset=offset)
        result = trainer.train(resume_from_checkpoint=checkpoint)
        if guard.rollback_at is None:
            break
        rollbacks += 1
        newest = newest_complete(out / "checkpoints")
        last = str(newest) if newest is not None else None
        if last is None or rollbacks > config.spike_guard.max_rollbacks:
            raise JevalError(f"loss spike at step {guard.rollback_at} and "
                             + ("no checkpoint to roll back to" if last is None else
                                f"more than {config.spike_guard.max_rollbacks} rollbacks")
                             + "; lower the learning rate or raise spike_guard.factor")
        saved_step = int(Path(last).name.split("-")[-1])
        offset = _offset_of(last) + (guard.rollback_at - saved_step) * config.optim.batch_size * config.optim.grad_accum
        log.warning("rolled back to %s; data moved %d sequences ahead", last, offset)
        checkpoint, guard.rollback_at = last, None
        guard.history.clear()
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
        "mode": "pretrain",
        "parameters": model.num_parameters(),
        "steps": trainer.state.global_step,
        "stopped_early": stopped,
        "tokens_seen": trainer.state.global_step * tokens_per_step,
        "tokens_by_source": {k: sum(1 for i in range(min(len(data), trainer.state.global_step * tokens_per_step
                                                          // config.optim.seq_len)) if data.source_of(i) == k)
                                 * config.optim.seq_len for k in data.blocks},
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_loss": result.training_loss,
        "final_perplexity": math.exp(losses[-1]) if losses else None,
        "spikes": [asdict(e) for e in guard.events],
        "rollbacks": rollbacks,
        "plot": str(plot) if plot else None,
        "seconds": round(time.monotonic() - started, 1),
        "config": _jsonable(asdict(config)),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "jeval_train.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    return summary


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
