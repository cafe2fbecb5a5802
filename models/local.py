"""In-process transformers: generation and log-likelihoods without a server, in batches.

Used where no server can give what a task needs (log-likelihoods on a CPU: `transformers serve`
ignores `logprobs`) and for small runs. Every forward pass runs on one worker thread that owns
torch (its intra-op threads set from `--threads`), so the event loop stays free and passes never
overlap.

- Log-likelihoods and perplexity windows are scored in batches, longest first, right-padded: a
  causal model's logits at real positions do not depend on padding that comes after them. Pairs
  with one context (a question's choices) share a row that feeds the context once
  (jeval.models.packing).
- Generation requests that arrive together (the executor keeps many in flight) are answered
  together: grouped by their settings, longest prompt first, left-padded, each row stopping at
  its first stop string or EOS. Greedy at temperature 0. A request's top_p, top_k, min_p and
  repetition_penalty go to `generate()` (the first three only when sampling, where they act);
  generate() has no presence or frequency penalty, so a request with one is refused. Settings a
  request leaves out come from the checkpoint's generation config, as vLLM takes them; where that
  sets no top_k, sampling draws from the whole vocabulary as vLLM does (transformers would
  otherwise cut it to its library default, the 50 likeliest tokens).

Batch sizes follow `--batch-size` (jeval.models.batching); a batch that runs out of memory is
split. Batching and shared rows move floating-point rounding (a wider matrix multiplies in another order):
log-likelihoods agree with one-at-a-time passes to about 1e-6, and a greedy token can differ only
where two candidates tie to that precision (tests/test_local_batching.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

from jeval.errors import JevalError
from jeval.models.batching import (
    MIN_FILL,
    Budget,
    batches,
    budget_for,
    by_length,
    default_threads,
    is_out_of_memory,
    run_fitted,
)
from jeval.models.client import Completion, Usage, cut_at_stop
from jeval.models.inprocess import LocalSettings
from jeval.models.model import LogLikelihood, Window, split_pair
from jeval.models.packing import Group, agrees, group_pairs, pack, packable, read_scores, score_reads
from jeval.models.server import check_checkpoint
from jeval.task import TRUNCATION

DTYPES = {"auto": "auto", "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DEFAULT_BATCH_SIZE = 8
"""Windows per batch where a caller of `score_windows` gives no budget."""
log = logging.getLogger(__name__)

STREAM_CHUNK = 256
"""Log-likelihood pairs per hand-over to the caller, which commits each chunk's answers."""
NO_GENERATE_SETTING = ("presence_penalty", "frequency_penalty")
"""Sampling settings (jeval.task.SAMPLING) that transformers' generate() does not have."""


def resolved_device(device: str | None) -> str:
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise JevalError(f"--device {device}: this torch build sees no CUDA device (torch {torch.__version__})")
    try:
        torch.device(device)
    except RuntimeError:
        raise JevalError(f"--device {device!r} is not a device torch knows (e.g. cpu, cuda, cuda:1, mps)") from None
    return device


@dataclass
class _Pending:
    """A generation request waiting for its batch."""

    ids: list[int]
    max_tokens: int
    temperature: float
    stop: list[str] | None
    sampling: tuple[tuple[str, float], ...]
    """The request's sampling settings (jeval.task.SAMPLING), sorted by name."""
    done: asyncio.Future[Completion] = field(repr=False)

    def batch_key(self) -> tuple[Any, ...]:
        """What the requests of one batch share: their settings and, with a repetition penalty,
        their prompt length (generate() would count a shorter prompt's left padding as tokens seen)."""
        alone = len(self.ids) if any(name == "repetition_penalty" for name, _ in self.sampling) else 0
        return self.max_tokens, self.temperature, self.sampling, alone


def _fail(pending: Sequence[_Pending], error: BaseException) -> None:
    """Tell the callers still waiting: the error, or cancellation where the run itself is ending."""
    for p in pending:
        if p.done.done():
            continue
        if isinstance(error, Exception):
            p.done.set_exception(error)
        else:
            p.done.cancel()


class _StopStrings(StoppingCriteria):
    """Stops each row once the text it generated (not its prompt) holds one of its own stop
    strings, which is where jeval cuts the answer anyway."""

    def __init__(self, tokenizer: Any, start: int, stops: Sequence[Sequence[str]]):
        self.tokenizer = tokenizer
        self.start = start
        self.stops = stops

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.start:], skip_special_tokens=True)
        found = [any(s in text for s in stops) for text, stops in zip(texts, self.stops, strict=True)]
        return torch.tensor(found, device=input_ids.device)


class LocalModel:
    def __init__(self, checkpoint: Path, settings: LocalSettings | None = None):
        settings = settings or LocalSettings()
        path = check_checkpoint(checkpoint)
        self.settings = settings
        self.device = resolved_device(settings.device)
        self.threads = settings.threads or default_threads()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="jeval-torch")
        self._pool.submit(torch.set_num_threads, self.threads).result()
        self.tokenizer: Any = AutoTokenizer.from_pretrained(path)
        loaded: Any = AutoModelForCausalLM.from_pretrained(path, dtype=DTYPES[settings.dtype])
        self.model: Any = loaded.to(self.device).eval()
        self.budget = budget_for(settings.batch_size, self.device, self.model.config,
                                 torch.tensor([], dtype=self.model.dtype).element_size())
        self.usage = Usage()
        self.model_id = str(path)
        self.batches_run = 0
        self.sharing: bool | None = None
        """Whether pairs that share a context are scored in one row (None: not decided yet)."""
        self._head: tuple[Any, Any] | None = None
        """The decoder and output layer that scoring applies apart (`output_layer`); None: the
        model's own logits (or not decided yet: `_head_known`)."""
        self._head_known = False
        self._queue: list[_Pending] = []
        self._draining: asyncio.Task[None] | None = None

    async def _on_worker(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _encode(self, text: str, special: bool = True) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special).input_ids

    # Generation

    async def complete(self, prompt: str, *, max_tokens: int, temperature: float = 0.0,
                       stop: list[str] | None = None, sampling: Mapping[str, float] | None = None) -> Completion:
        return await self._generate(self._encode(prompt), max_tokens, temperature, stop, sampling)

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0,
                   stop: list[str] | None = None, sampling: Mapping[str, float] | None = None) -> Completion:
        """The checkpoint's chat template applied here, as a server would, then plain generation.
        The template's text already holds any BOS token, so none is added again."""
        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return await self._generate(self._encode(prompt, special=False), max_tokens, temperature, stop, sampling)

    async def _generate(self, ids: list[int], max_tokens: int, temperature: float, stop: list[str] | None,
                        sampling: Mapping[str, float] | None = None) -> Completion:
        settings = dict(sampling or {})
        refused = [name for name in NO_GENERATE_SETTING if name in settings]
        if refused:
            raise JevalError(f"{', '.join(refused)}: the in-process transformers engine cannot apply "
                             f"{'it' if len(refused) == 1 else 'them'} (transformers' generate() has no such setting); "
                             "use a vLLM engine")
        done: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(ids, max_tokens, temperature, stop, tuple(sorted(settings.items())), done))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        """Answer queued requests until none is left: each round takes everything queued, so the
        requests that arrive while a batch runs make the next one."""
        await asyncio.sleep(0)
        while self._queue:
            taken, self._queue = self._queue, []
            groups: dict[tuple[Any, ...], list[_Pending]] = {}
            for p in taken:
                groups.setdefault(p.batch_key(), []).append(p)
            for group in groups.values():
                lengths = [len(p.ids) + p.max_tokens for p in group]
                for batch in batches(by_length(lengths), lengths, self.budget):
                    chosen = [group[i] for i in batch]
                    try:
                        found = await self._on_worker(self._generate_fitted, chosen)
                    except Exception as e:  # the batch's callers hear of it; the next batches still run
                        _fail(chosen, e)
                        continue
                    except BaseException as e:  # cancelled or interrupted: nobody is left waiting
                        _fail([*taken, *self._queue], e)
                        raise
                    for p, completion in zip(chosen, found, strict=True):
                        if not p.done.done():
                            p.done.set_result(completion)

    def _generate_fitted(self, batch: list[_Pending]) -> list[Completion]:
        return run_fitted(batch, max(len(p.ids) + p.max_tokens for p in batch), self._generate_batch, self.budget)

    @torch.inference_mode()
    def _generate_batch(self, batch: Sequence[_Pending]) -> list[Completion]:
        self.batches_run += 1
        width = max(len(p.ids) for p in batch)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, p in enumerate(batch):
            ids[row, width - len(p.ids):] = torch.tensor(p.ids)
            mask[row, width - len(p.ids):] = 1
        first = batch[0]
        stops = [p.stop or [] for p in batch]
        sampling: dict[str, Any] = ({"do_sample": True, "temperature": first.temperature} if first.temperature > 0
                                    else {"do_sample": False})
        if first.temperature > 0 and self.model.generation_config.top_k is None:
            sampling["top_k"] = 0
        sampling.update((name, value) for name, value in first.sampling
                        if first.temperature > 0 or name not in TRUNCATION)
        criteria = StoppingCriteriaList([_StopStrings(self.tokenizer, width, stops)]) if any(stops) else None
        out = self.model.generate(ids.to(self.device), attention_mask=mask.to(self.device),
                                  max_new_tokens=first.max_tokens, pad_token_id=pad,
                                  stopping_criteria=criteria, **sampling)
        completions = []
        for row, p in enumerate(batch):
            new = self._generated(out[row, width:].tolist(), p.stop)
            text, stopped = cut_at_stop(self.tokenizer.decode(new, skip_special_tokens=True), p.stop)
            finished = bool(new) and new[-1] == self.tokenizer.eos_token_id
            self.usage.requests += 1
            self.usage.prompt_tokens += len(p.ids)
            self.usage.completion_tokens += len(new)
            completions.append(Completion(text, "stop" if stopped or finished else "length", len(p.ids), len(new)))
        return completions

    def _generated(self, new: list[int], stop: list[str] | None) -> list[int]:
        """A row's own tokens: up to its first EOS, or up to the token that completed its first stop
        string (a row that stopped early is padded while the rest of its batch goes on)."""
        eos = self.tokenizer.eos_token_id
        if eos in new:
            new = new[:new.index(eos) + 1]
        if not stop or not any(s in self.tokenizer.decode(new, skip_special_tokens=True) for s in stop):
            return new
        low, high = 1, len(new)
        while low < high:
            middle = (low + high) // 2
            if any(s in self.tokenizer.decode(new[:middle], skip_special_tokens=True) for s in stop):
                high = middle
            else:
                low = middle + 1
        return new[:low]

    # Log-likelihoods

    async def loglikelihood(self, context: str, continuation: str) -> LogLikelihood:
        async for _, found in self.loglikelihoods([(context, continuation)]):
            return found
        raise AssertionError("one pair gives one answer")

    async def loglikelihoods(self, pairs: Sequence[tuple[str, str]]) -> AsyncIterator[tuple[int, LogLikelihood]]:
        """Every pair scored in length-ordered batches, pairs that share their context tokens in
        one row each (jeval.models.packing); answers handed over a chunk at a time."""
        split = [split_pair(self.tokenizer, context, continuation) for context, continuation in pairs]
        todo = []
        for i, (ids, n_context) in enumerate(split):
            if n_context >= len(ids):
                yield i, LogLikelihood(0.0, True)
            else:
                todo.append(i)
        contexts = [context for context, _ in pairs]
        share = await self._on_worker(self._shares_contexts, split, contexts, todo)
        groups = group_pairs(split, contexts, todo, share)
        lengths = [g.length for g in groups]
        chunk: list[list[Group]] = []
        for batch in batches(by_length(lengths), lengths, self.budget, MIN_FILL):
            chunk.append([groups[i] for i in batch])
            if sum(len(g.members) for b in chunk for g in b) >= STREAM_CHUNK:
                for i, found in await self._on_worker(self._score_chunk, chunk, share):
                    yield i, found
                chunk = []
        if chunk:
            for i, found in await self._on_worker(self._score_chunk, chunk, share):
                yield i, found

    def _score_chunk(self, chunk: list[list[Group]], share: bool) -> list[tuple[int, LogLikelihood]]:
        out: list[tuple[int, LogLikelihood]] = []
        step = self._score_groups if share else self._score_separately
        for groups in chunk:
            out.extend(run_fitted(groups, groups[0].length, step, self.budget))
        return out

    def _shares_contexts(self, split: Sequence[tuple[list[int], int]], contexts: Sequence[str],
                         todo: Sequence[int]) -> bool:
        """Whether pairs with one context are scored in one row: decided once, on the first group
        of two or more, by comparing its packed scores with separate rows' (a model whose attention
        ignores the block mask or the position ids is scored separately from then on)."""
        if self.sharing is not None:
            return self.sharing
        probe = next((g for g in group_pairs(split, contexts, todo, True) if len(g.members) > 1), None)
        if probe is None:
            return packable(self.model)
        self.sharing = packable(self.model)
        if self.sharing:
            try:
                together = self._score_groups([probe])
            except (TypeError, ValueError, RuntimeError) as e:
                if is_out_of_memory(e):
                    raise
                log.info("scoring each choice in its own row: the model refused a packed row (%s)", e)
                self.sharing = False
            else:
                self.sharing = agrees(together, self._score_separately([probe]), self.model.dtype)
                if not self.sharing:
                    log.info("scoring each choice in its own row: packed rows do not match separate ones")
        return self.sharing

    def _forward(self, **inputs: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """One forward pass; returns (rows, positions) -> the logits at those pairs. Where the
        model's logits are its output layer over its decoder's states, the layer is applied to the
        positions read only: a batch's full logits (rows × width × vocabulary) are never made."""
        inputs = {name: value.to(self.device) for name, value in inputs.items()}
        if not self._head_known:
            self._head = output_layer(self.model, inputs["input_ids"][:1, :8])
            self._head_known = True
        if self._head is None:
            logits = self.model(**inputs, use_cache=False).logits
            return lambda rows, positions: logits[rows.to(self.device), positions.to(self.device)]
        decoder, head = self._head
        states = decoder(**inputs, use_cache=False).last_hidden_state
        return lambda rows, positions: head(states[rows.to(self.device), positions.to(self.device)])

    @torch.inference_mode()
    def _score_groups(self, groups: Sequence[Group]) -> list[tuple[int, LogLikelihood]]:
        """One forward pass over groups packed one to a row."""
        self.batches_run += 1
        packed = pack(groups, self.model.dtype)
        return read_scores(packed, self._forward(input_ids=packed.input_ids, position_ids=packed.position_ids,
                                                 attention_mask=packed.attention_mask))

    def _score_separately(self, groups: Sequence[Group]) -> list[tuple[int, LogLikelihood]]:
        items = [(m.index, [*g.prefix, *m.rest], len(g.prefix) + m.first) for g in groups for m in g.members]
        return list(zip((i for i, _, _ in items), self._score_pairs(items), strict=True))

    @torch.inference_mode()
    def _score_pairs(self, items: Sequence[tuple[int, list[int], int]]) -> list[LogLikelihood]:
        """One forward pass over the pairs, each fed without its last token (lm-eval's input); the
        continuation's log-probabilities and whether each of its tokens was the greedy choice."""
        self.batches_run += 1
        width = max(len(ids) - 1 for _, ids, _ in items)
        inputs = torch.zeros((len(items), width), dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        for row, (_, ids, _) in enumerate(items):
            inputs[row, :len(ids) - 1] = torch.tensor(ids[:-1])
            mask[row, :len(ids) - 1] = 1
        reads = [(row, row, list(range(n_context - 1, len(ids) - 1))) for row, (_, ids, n_context) in enumerate(items)]
        targets = {row: ids[n_context:] for row, (_, ids, n_context) in enumerate(items)}
        return [found for _, found in score_reads(reads, targets, self._forward(input_ids=inputs, attention_mask=mask))]

    # Perplexity

    async def window_nll(self, windows: Sequence[Window]) -> list[float]:
        return await self._on_worker(score_windows, self.model, windows, self.budget, True)

    def describe(self) -> dict[str, Any]:
        return {"engine": "transformers", "device": self.device, "dtype": str(self.model.dtype).removeprefix("torch."),
                "batch_size": self.settings.batch_size, "threads": self.threads, "batches": self.batches_run,
                "shared_context_rows": self.sharing}

    async def aclose(self) -> None:
        self._pool.shutdown(wait=True)


def _scored_logits(model: Any) -> Any:
    """A function (hidden states of one row's scored positions -> their logits) where the
    model's logits are exactly its output layer over its decoder's last hidden states, else None.
    Scoring row by row from the hidden states never holds a batch's whole logits (batch × width ×
    vocabulary, 20 GB at 8 × 4,096 × 150k in float32); models that scale or cap their logits
    (Gemma-2's soft-capping, Cohere's logit scale) are told apart by `_same_logits` and scored
    from the full forward pass."""
    try:
        decoder, head = model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None
    if decoder is None or head is None or decoder is model:
        return None
    return decoder, head


def output_layer(model: Any, probe: torch.Tensor) -> tuple[Any, Any] | None:
    """The model's decoder and output layer where its logits over `probe` (token ids, one short
    row) are exactly that layer over the decoder's last hidden states, else None."""
    parts = _scored_logits(model)
    return parts if parts is not None and _same_logits(model, parts, probe) else None


@torch.inference_mode()
def _same_logits(model: Any, parts: Any, ids: torch.Tensor) -> bool:
    """Whether the output layer over the decoder's hidden states gives the model's own logits."""
    decoder, head = parts
    try:
        hidden = decoder(input_ids=ids, use_cache=False).last_hidden_state
    except (TypeError, AttributeError):
        return False
    return bool(torch.equal(head(hidden), model(input_ids=ids, use_cache=False).logits))


@torch.inference_mode()
def score_windows(model: Any, windows: Sequence[Window], budget: Budget | int = DEFAULT_BATCH_SIZE,
                  progress: bool = False) -> list[float]:
    """Summed negative log-likelihood (nats) of each window's scored tokens, in the order given;
    `budget` is a Budget or a number of windows per batch."""
    if isinstance(budget, int):
        if budget < 1:
            raise JevalError(f"batch size must be 1 or more, got {budget}")
        budget = Budget(budget)
    device = next(model.parameters()).device
    lengths = [len(w.ids) for w in windows]
    out = [0.0] * len(windows)
    parts = output_layer(model, torch.tensor([windows[0].ids[:8]], device=device)) if windows else None
    bar = tqdm(total=len(windows), desc="scoring windows", unit="win", leave=False, disable=not progress)

    def step(batch: Sequence[int]) -> list[float]:
        width = len(windows[batch[0]].ids)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, :lengths[i]] = torch.tensor(windows[i].ids)
            mask[row, :lengths[i]] = 1
        # use_cache=False: a model whose config asks for a KV cache would otherwise keep every layer's
        # keys and values of the whole batch until its last layer, for nothing
        inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "use_cache": False}
        states = parts[0](**inputs).last_hidden_state if parts is not None else model(**inputs).logits
        found = []
        for row, i in enumerate(batch):
            window = windows[i]
            scored = states[row, window.score_from - 1:lengths[i] - 1]
            predicted = (parts[1](scored) if parts is not None else scored).float()
            targets = ids[row, window.score_from:lengths[i]].to(device)
            found.append(float(torch.nn.functional.cross_entropy(predicted, targets, reduction="sum")))
            del predicted  # else it lives on while the next row's logits are made: two rows' at once
        return found

    for batch in batches(by_length(lengths), lengths, budget, MIN_FILL):
        for i, value in zip(batch, run_fitted(batch, lengths[batch[0]], step, budget), strict=True):
            out[i] = value
        bar.update(len(batch))
    bar.close()
    return out
