"""In-process transformers: generation and log-likelihoods without a server.

Used where no server can give what a task needs (log-likelihoods on a CPU: `transformers serve`
ignores `logprobs`) and for small CPU runs. Greedy generation only at temperature 0; calls are
serialised on one model, off the event loop. Perplexity windows are scored in batches, longest
first (so a batch pads little), right-padded: a causal model's logits at real positions do not
depend on padding that comes after them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from jeval.errors import JevalError
from jeval.models.client import Completion, Usage, cut_at_stop
from jeval.models.model import LogLikelihood, Window
from jeval.models.server import check_checkpoint

DEFAULT_BATCH_SIZE = 8


@torch.inference_mode()
def score_windows(model: Any, windows: Sequence[Window], batch_size: int = DEFAULT_BATCH_SIZE,
                  progress: bool = False) -> list[float]:
    """Summed negative log-likelihood (nats) of each window's scored tokens, in the order given."""
    if batch_size < 1:
        raise JevalError(f"batch size must be 1 or more, got {batch_size}")
    device = next(model.parameters()).device
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].ids))
    out = [0.0] * len(windows)
    bar = tqdm(total=len(windows), desc="scoring windows", unit="win", leave=False, disable=not progress)
    for at in range(0, len(order), batch_size):
        batch = [windows[i] for i in order[at:at + batch_size]]
        width = len(batch[0].ids)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, window in enumerate(batch):
            ids[row, :len(window.ids)] = torch.tensor(window.ids)
            mask[row, :len(window.ids)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        for row, window in enumerate(batch):
            predicted = logits[row, window.score_from - 1:len(window.ids) - 1].float()
            targets = ids[row, window.score_from:len(window.ids)].to(device)
            nll = torch.nn.functional.cross_entropy(predicted, targets, reduction="sum")
            out[order[at + row]] = float(nll)
        bar.update(len(batch))
    bar.close()
    return out


class LocalModel:
    def __init__(self, checkpoint: Path, device: str | None = None, dtype: str = "auto"):
        path = check_checkpoint(checkpoint)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
        loaded: Any = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        self.model: Any = loaded.to(self.device).eval()
        self.usage = Usage()
        self._lock = asyncio.Lock()
        self.model_id = str(path)

    def _encode(self, text: str, special: bool = True) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special).input_ids

    @torch.inference_mode()
    def generate(self, prompt: str, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
                 special: bool = True) -> Completion:
        ids = torch.tensor([self._encode(prompt, special)], device=self.device)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        out = self.model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id, **sampling,
        )
        new = out[0, ids.shape[1]:].tolist()
        text, stopped = cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), stop)
        finished = bool(new) and new[-1] == self.tokenizer.eos_token_id
        self.usage.requests += 1
        self.usage.prompt_tokens += ids.shape[1]
        self.usage.completion_tokens += len(new)
        reason = "stop" if stopped or finished else "length"
        return Completion(text, reason, ids.shape[1], len(new))

    async def complete(self, prompt: str, *, max_tokens: int, temperature: float = 0.0,
                       stop: list[str] | None = None) -> Completion:
        async with self._lock:
            return await asyncio.to_thread(self.generate, prompt, max_tokens, temperature, stop)

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0,
                   stop: list[str] | None = None) -> Completion:
        """The checkpoint's chat template applied here, as a server would, then plain generation.
        The template's text already holds any BOS token, so none is added again."""
        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        async with self._lock:
            return await asyncio.to_thread(self.generate, prompt, max_tokens, temperature, stop, False)

    @torch.inference_mode()
    def loglikelihood(self, context: str, continuation: str) -> LogLikelihood:
        """Sum of log-probabilities of `continuation` given `context`, and whether greedy decoding
        would have produced exactly it. Tokens are split at the context boundary, as lm-eval does."""
        context_ids = self._encode(context)
        whole = self._encode(context + continuation)
        n_context = len(context_ids)
        if whole[:n_context] != context_ids:
            n_context = len(context_ids) - 1
        target = whole[n_context:]
        if not target:
            return LogLikelihood(0.0, True)
        ids = torch.tensor([whole], device=self.device)
        logprobs = torch.log_softmax(self.model(ids).logits[0, n_context - 1 : -1].float(), dim=-1)
        target_t = torch.tensor(target, device=self.device)
        picked = logprobs.gather(1, target_t[:, None])[:, 0]
        return LogLikelihood(float(picked.sum()), bool((logprobs.argmax(-1) == target_t).all()))

    async def loglikelihood_async(self, context: str, continuation: str) -> LogLikelihood:
        """`loglikelihood` off the event loop; an empty context becomes the EOS token where the
        tokenizer adds no special token of its own (lm-eval's rule)."""
        if not context and not self.tokenizer("", add_special_tokens=True).input_ids:
            context = self.tokenizer.eos_token or ""
        async with self._lock:
            return await asyncio.to_thread(self.loglikelihood, context, continuation)

    async def window_nll(self, windows: Sequence[Window], batch_size: int = DEFAULT_BATCH_SIZE) -> list[float]:
        async with self._lock:
            return await asyncio.to_thread(score_windows, self.model, windows, batch_size, True)

    def describe(self) -> dict[str, Any]:
        return {"engine": "transformers", "device": self.device, "dtype": str(self.model.dtype)}

    async def aclose(self) -> None:
        return None
