"""A scripted model for the golden-equality test.

Its answers are computed from the request text alone (a few-shot answer of the prompt chosen by a
hash, sometimes followed by a blank line and more text, sometimes a refusal), and its
log-likelihoods are a hash of context and continuation. It stands in for a model because what the
golden test checks is the harness: the same answers must give the same prompts, scores and samples
before and after a change of the core. Nothing it produces says anything about any model.
"""

from __future__ import annotations

import hashlib
import re

FEW_SHOT_ANSWERS = (
    re.compile(r"### 応答:\n(.+?)(?=\n\n|\Z)", re.S),
    re.compile(r"<assistant>\n(.+?)(?=\n\n<|\Z)", re.S),
    re.compile(r"(?:回答|答え|A)[:：][ \t]*(\S[^\n]*)"),
)
VOLATILE_SAMPLE_FIELDS = ("cached",)


def _digest(*parts: str) -> int:
    return int(hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest(), 16)


def scripted_text(prompt: str) -> str:
    """A deterministic answer to `prompt`."""
    candidates: list[str] = []
    for pattern in FEW_SHOT_ANSWERS:
        candidates = [c.strip() for c in pattern.findall(prompt) if c.strip()]
        if candidates:
            break
    if not candidates:
        candidates = [line.strip() for line in prompt.splitlines() if line.strip()] or ["?"]
    digest = _digest(prompt)
    answer = candidates[digest % len(candidates)]
    form = (digest // 7) % 4
    if form == 1:
        return f"{answer}\n\n以上です。"
    if form == 2:
        return "わかりません"
    return answer


def scripted_chat_text(messages: list[dict[str, str]]) -> str:
    return scripted_text("\n\n".join(f"<{m['role']}>\n{m['content']}" for m in messages))


def scripted_loglikelihood(context: str, continuation: str) -> tuple[float, bool]:
    digest = _digest(context, continuation)
    return -((digest % 100_000) / 1000.0), digest % 5 == 0


def scripted_tokens(text: str) -> int:
    """A token count for accounting: one per character."""
    return len(text)


def build_fixed_checkpoint(folder, seed: int = 0, context: int = 128) -> None:
    """A tiny Llama with seeded random weights and a byte-level tokenizer needing no training:
    the same files on every machine, for comparisons that need a real forward pass (perplexity),
    and different weights for each seed. `context` is its declared context length (prompts longer
    than it are refused before they are sent: few-shot Japanese prompts in bytes need thousands)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<s>": 0, "</s>": 1, **{c: i + 2 for i, c in enumerate(alphabet)}}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>",
                                        model_max_length=context)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context,
                         bos_token_id=0, eos_token_id=1, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


class ScriptedModel:
    """The scripted answers above behind jeval's model protocol (jeval.models.model.Model)."""

    def __init__(self) -> None:
        from jeval.identity import ModelIdentity
        from jeval.models.client import Usage

        self.identity = ModelIdentity("scripted", "scripted-model", "model id", "scripted")
        self.capabilities = {"generate": "yes", "chat": "yes", "loglikelihood": "yes"}
        self.usage = Usage()

    def describe(self) -> dict:
        return {"kind": "scripted", "engine": "scripted"}

    def _done(self, text: str, stop: list[str] | None, prompt_tokens: int):
        from jeval.models.client import Completion, cut_at_stop

        text, _ = cut_at_stop(text, stop)
        self.usage.requests += 1
        return Completion(text, "stop", prompt_tokens, scripted_tokens(text))

    async def complete(self, prompt: str, *, max_tokens: int, temperature: float = 0.0, stop=None):
        return self._done(scripted_text(prompt), stop, scripted_tokens(prompt))

    async def chat(self, messages, *, max_tokens: int, temperature: float = 0.0, stop=None):
        return self._done(scripted_chat_text(messages), stop, sum(scripted_tokens(m["content"]) for m in messages))

    async def loglikelihood(self, context: str, continuation: str):
        from jeval.models.model import LogLikelihood

        return LogLikelihood(*scripted_loglikelihood(context, continuation))

    async def loglikelihoods(self, pairs):
        for i, (context, continuation) in enumerate(pairs):
            yield i, await self.loglikelihood(context, continuation)

    async def window_nll(self, windows):
        raise AssertionError("the scripted model gives no perplexity windows")

    def tokenizer(self):
        raise AssertionError("the scripted model has no tokenizer")

    def model_config(self):
        raise AssertionError("the scripted model has no config")

    def context_window(self):
        return None
