"""LoRA through peft: adapters on the attention projections, merged into the weights at the end
so that the checkpoint is an ordinary model folder for `transformers serve` and vLLM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transformers import PreTrainedModel

from jeval.models.train.config import LoraConfig

if TYPE_CHECKING:
    import peft


def peft_config(lora: LoraConfig) -> peft.LoraConfig | None:
    """The peft LoraConfig for TRL's trainers (`peft_config=`), or None when LoRA is off."""
    if lora.r <= 0:
        return None
    import peft

    return peft.LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                           target_modules=list(lora.target_modules), task_type="CAUSAL_LM")


def wrap_for_pretraining(model: PreTrainedModel, lora: LoraConfig) -> PreTrainedModel | peft.PeftModel:
    config = peft_config(lora)
    if config is None:
        return model
    import peft

    return peft.get_peft_model(model, config)


def merged(model: Any, lora: LoraConfig) -> Any:
    """The plain model to save: adapters merged (or, with `merge: false`, the peft model, which
    saves only the adapter)."""
    if lora.r > 0 and lora.merge and hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model
