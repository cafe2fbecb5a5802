"""vLLM in process: its offline `LLM` engine answering jeval's requests without a server.

Requests that arrive together are answered together: every call queues its request, and one
`LLM.generate` call at a time (off the event loop) takes everything queued, so the requests that
arrive while a batch runs make the next one; vLLM schedules each batch on the GPU itself.

The answers are meant to equal what the same checkpoint gives over `vllm serve` through
`jeval.models.engines.ServedModel`, so each request is built the way vLLM's OpenAI server builds
it from jeval's HTTP request:

- prompts are token ids: a completion's prompt encoded with the tokenizer's special tokens, a
  chat rendered with the checkpoint's chat template and encoded without them;
- sampling starts from the checkpoint's generation config (`vllm serve` applies it by default:
  e.g. its `max_new_tokens` caps `max_tokens`), and a request's own top_p, top_k, min_p and
  penalties override it, as the same fields of a request body do; a prompt whose tokens with
  `max_tokens` exceed the context is refused alone (`ItemRejected`, the server's 400);
- log-likelihoods come from prompt log-probabilities with one top token (`logprobs=1` with
  `echo`), clamped at -9999 as the server writes them, and a token is the greedy one where it has
  the highest log-probability of the two.

vLLM is an optional dependency (the `vllm` extra) and is imported only when a model is built.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import ItemRejected, JevalError
from jeval.models.client import Completion, Usage, cut_at_stop
from jeval.models.model import LogLikelihood, Unscorable, Window, split_pair
from jeval.models.server import check_checkpoint

log = logging.getLogger(__name__)

DTYPES = ("auto", "float16", "bfloat16", "float32")
STREAM_CHUNK = 256
"""Log-likelihood pairs per hand-over to the caller, which commits each chunk's answers."""
LOGPROB_FLOOR = -9999.0
"""vLLM's OpenAI server writes a log-probability below this (-inf) as this."""
DEFAULTS_FROM_GENERATION_CONFIG = ("repetition_penalty", "top_p", "top_k", "min_p")
"""Sampling fields `vllm serve` takes from the checkpoint's generation config when a request leaves
them out (jeval's requests always set `temperature` and `max_tokens`)."""


@dataclass(frozen=True)
class VllmSettings:
    """How vLLM's engine is built (`vllm.LLM` arguments)."""

    dtype: str = "auto"
    """`auto`: vLLM's choice from the checkpoint's config (float16 where the config says float32)."""
    seed: int = 0
    max_model_len: int | None = None
    """None: the checkpoint's own context length."""
    gpu_memory_utilization: float = 0.9
    tensor_parallel_size: int = 1
    engine_args: Mapping[str, Any] = field(default_factory=dict)
    """Further `vllm.EngineArgs` fields, passed as they are (e.g. `enforce_eager`, `quantization`)."""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise JevalError(f"vLLM dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise JevalError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.tensor_parallel_size < 1:
            raise JevalError(f"tensor_parallel_size must be 1 or more, got {self.tensor_parallel_size}")
        if self.max_model_len is not None and self.max_model_len < 2:
            raise JevalError(f"max_model_len must be 2 or more, got {self.max_model_len}")


@dataclass
class _Pending:
    """A request waiting for its batch."""

    ids: list[int]
    params: Any
    done: asyncio.Future[Any] = field(repr=False)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:500]


def import_vllm() -> Any:
    """The `vllm` package, or a one-line error saying how to get it."""
    try:
        import vllm
    except ImportError as e:
        if e.name is not None and e.name.split(".")[0] == "vllm":
            raise JevalError("the in-process vLLM engine needs vLLM, which is not installed: pip install '.[vllm]' "
                             "(in the jeval checkout, on a machine with an NVIDIA GPU)") from None
        raise JevalError(f"vLLM is installed but cannot be imported ({type(e).__name__}: {_one_line(e)})") from None
    return vllm


class VllmOfflineModel:
    """A checkpoint loaded into vLLM's offline engine (`llm`, a `vllm.LLM`; None once closed) in
    this process.

    Building it loads the weights onto the GPU (minutes for a large model): build it off the
    event loop (`await asyncio.to_thread(VllmOfflineModel, path, settings)`)."""

    def __init__(self, checkpoint: Path, settings: VllmSettings | None = None):
        vllm = import_vllm()
        self.settings = settings = settings or VllmSettings()
        path = check_checkpoint(checkpoint)
        self._vllm = vllm
        try:
            self.llm: Any = vllm.LLM(model=str(path), dtype=settings.dtype, seed=settings.seed,
                                     max_model_len=settings.max_model_len,
                                     gpu_memory_utilization=settings.gpu_memory_utilization,
                                     tensor_parallel_size=settings.tensor_parallel_size, **settings.engine_args)
        except (ValueError, RuntimeError, TypeError) as e:
            log.debug("vLLM could not start", exc_info=True)
            raise JevalError(f"vLLM could not start {path} ({type(e).__name__}: {_one_line(e)})") from None
        self.model_id = str(path)
        self.tokenizer: Any = self.llm.get_tokenizer()
        config = self.llm.llm_engine.model_config
        self.max_model_len = int(config.max_model_len)
        self.dtype = str(config.dtype).removeprefix("torch.")
        self.generation_defaults: dict[str, Any] = dict(config.get_diff_sampling_param())
        self.usage = Usage()
        self.batches_run = 0
        self._queue: list[_Pending] = []
        self._draining: asyncio.Task[None] | None = None
        self._generating = threading.Lock()

    # Requests

    def _engine(self) -> Any:
        if self.llm is None:
            raise JevalError(f"the vLLM engine for {self.model_id} was closed")
        return self.llm

    def _check_fits(self, prompt: int, max_tokens: int) -> None:
        """Refuse what `vllm serve` refuses with a 400: a prompt that cannot fit with its answer."""
        if prompt + max_tokens > self.max_model_len:
            raise ItemRejected(f"the prompt's {prompt} tokens and max_tokens {max_tokens} exceed the model's context "
                               f"of {self.max_model_len} tokens (vLLM max_model_len); it was not run")

    def _sampling(self, **fields: Any) -> Any:
        try:
            return self._vllm.SamplingParams(**fields)
        except ValueError as e:
            raise ItemRejected(f"vLLM refused the request's settings: {_one_line(e)}") from None

    async def _run(self, ids: list[int], params: Any) -> Any:
        """The engine's RequestOutput for one prompt, computed in the next batch."""
        self._engine()
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(ids, params, done))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        """Answer queued requests until none is left, one `LLM.generate` call at a time."""
        await asyncio.sleep(0)
        while self._queue:
            taken, self._queue = self._queue, []
            try:
                found = await asyncio.to_thread(self._generate_batch, taken)
            except BaseException:  # cancelled with the event loop: no caller may wait for ever
                for pending in [*taken, *self._queue]:
                    pending.done.cancel()
                self._queue = []
                raise
            for pending, answer in zip(taken, found, strict=True):
                if pending.done.done():
                    continue
                if isinstance(answer, BaseException):
                    pending.done.set_exception(answer)
                else:
                    pending.done.set_result(answer)

    def _generate_batch(self, batch: list[_Pending]) -> list[Any]:
        """One `LLM.generate` call for the batch, each answer or the error that answers it. vLLM
        checks every request before it runs any, so a request it refuses (ValueError) fails the
        call: then each request is run alone, and only the refused ones fail. The lock keeps a batch
        left running by a cancelled event loop from overlapping the next loop's first batch."""
        llm = self._engine()
        try:
            with self._generating:
                self.batches_run += 1
                return list(llm.generate([{"prompt_token_ids": p.ids} for p in batch], [p.params for p in batch],
                                         use_tqdm=False))
        except ValueError as e:
            if len(batch) == 1:
                return [ItemRejected(f"vLLM refused the request: {_one_line(e)}")]
        except Exception as e:  # every waiting caller must hear of it
            failure = JevalError(f"vLLM failed on a batch of {len(batch)} requests ({type(e).__name__}: "
                                 f"{_one_line(e)})")
            failure.__cause__ = e
            return [failure] * len(batch)
        return [answer for p in batch for answer in self._generate_batch([p])]

    # Generation

    async def complete(self, prompt: str, *, max_tokens: int, temperature: float = 0.0,
                       stop: list[str] | None = None, sampling: Mapping[str, float] | None = None) -> Completion:
        ids = self.tokenizer(prompt, add_special_tokens=True).input_ids
        return await self._generate(ids, max_tokens, temperature, stop, sampling)

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0,
                   stop: list[str] | None = None, sampling: Mapping[str, float] | None = None) -> Completion:
        """The checkpoint's chat template applied here, as vLLM's server applies it; the rendered
        text already holds any BOS token, so none is added again. Messages the template refuses fail
        alone, as the server answers them with a 400."""
        from jinja2 import TemplateError

        try:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except (ValueError, TypeError, KeyError, TemplateError) as e:
            raise ItemRejected(f"the chat template of {self.model_id} could not render the messages "
                               f"({type(e).__name__}: {_one_line(e)})") from None
        ids = self.tokenizer(text, add_special_tokens=False).input_ids
        return await self._generate(ids, max_tokens, temperature, stop, sampling)

    async def _generate(self, ids: list[int], max_tokens: int, temperature: float, stop: list[str] | None,
                        sampling: Mapping[str, float] | None = None) -> Completion:
        """`sampling` (jeval.task.SAMPLING) goes to SamplingParams over the generation config's
        defaults, as `vllm serve` takes the same fields from a request body."""
        self._check_fits(len(ids), max_tokens)
        defaults = self.generation_defaults
        cap = min(max_tokens, self.max_model_len - len(ids), defaults.get("max_tokens") or max_tokens)
        stops = [s for s in stop or [] if s] or None
        chosen = {**{k: defaults[k] for k in DEFAULTS_FROM_GENERATION_CONFIG if k in defaults}, **(sampling or {})}
        params = self._sampling(max_tokens=cap, temperature=temperature, stop=stops, **chosen)
        found = await self._run(ids, params)
        out = found.outputs[0]
        text, stopped = cut_at_stop(out.text, stop)
        prompt_tokens, completion_tokens = len(found.prompt_token_ids), len(out.token_ids)
        self.usage.requests += 1
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        return Completion(text, "stop" if stopped else out.finish_reason, prompt_tokens, completion_tokens)

    # Log-probabilities of prompts

    async def _prompt_logprobs(self, ids: list[int]) -> Any:
        """Each prompt token's log-probabilities (None for the first): the token's own and the
        top one's, by token id."""
        self._check_fits(len(ids), 1)
        params = self._sampling(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        found = await self._run(ids, params)
        self.usage.requests += 1
        self.usage.prompt_tokens += len(found.prompt_token_ids)
        self.usage.completion_tokens += len(found.outputs[0].token_ids)
        if found.prompt_logprobs is None or len(found.prompt_logprobs) < len(ids):
            raise Unscorable("vLLM did not give (it answered without prompt log-probabilities)")
        return found.prompt_logprobs

    async def loglikelihood(self, context: str, continuation: str) -> LogLikelihood:
        ids, n_context = split_pair(self.tokenizer, context, continuation)
        return _scored(await self._prompt_logprobs(ids), ids, n_context)

    async def loglikelihoods(self, pairs: Sequence[tuple[str, str]]) -> AsyncIterator[tuple[int, LogLikelihood]]:
        """Pairs sent a chunk at a time, each chunk's answers handed over in index order as
        (index into `pairs`, result) while the next chunk is computed; a pair vLLM refuses (too
        long) fails after the rest of its chunk is handed over."""
        pending = self._chunk(pairs, 0) if pairs else None
        try:
            for start in range(0, len(pairs), STREAM_CHUNK):
                assert pending is not None
                found = await pending
                following = start + STREAM_CHUNK
                pending = self._chunk(pairs, following) if following < len(pairs) else None
                for offset, answer in enumerate(found):
                    if not isinstance(answer, BaseException):
                        yield start + offset, answer
                failed = next((a for a in found if isinstance(a, BaseException)), None)
                if failed is not None:
                    raise failed
        finally:
            if pending is not None:
                pending.cancel()

    def _chunk(self, pairs: Sequence[tuple[str, str]], start: int) -> asyncio.Future[list[Any]]:
        async def one(context: str, continuation: str) -> LogLikelihood:
            return await self.loglikelihood(context, continuation)

        chunk = pairs[start:start + STREAM_CHUNK]
        return asyncio.gather(*(one(c, x) for c, x in chunk), return_exceptions=True)

    async def _one_window(self, window: Window) -> float:
        if window.score_from < 1:
            raise Unscorable("vLLM gives the first prompt token no log-probability (a window must score from "
                             "its second token on)")
        found = await self._prompt_logprobs(list(window.ids))
        return -sum(max(found[i][token].logprob, LOGPROB_FLOOR)
                    for i, token in enumerate(window.ids) if i >= window.score_from)

    async def window_nll(self, windows: Sequence[Window]) -> list[float]:
        return list(await asyncio.gather(*(self._one_window(w) for w in windows)))

    # Lifecycle

    def describe(self) -> dict[str, Any]:
        from vllm.platforms import current_platform

        return {"engine": "vllm-offline", "mode": "in-process", "vllm_version": self._vllm.__version__,
                "dtype": self.dtype, "device": str(current_platform.device_type),
                "max_model_len": self.max_model_len, "tensor_parallel_size": self.settings.tensor_parallel_size,
                "gpu_memory_utilization": self.settings.gpu_memory_utilization, "seed": self.settings.seed,
                "generation_defaults": dict(self.generation_defaults), "batches": self.batches_run}

    async def aclose(self) -> None:
        """Free the engine and its GPU memory once the batch in flight is done; later requests fail."""
        if self.llm is None:
            return
        if self._draining is not None and not self._draining.done():
            await asyncio.wait({self._draining})
        self.llm = None
        await asyncio.to_thread(_free_engine_memory)


def _scored(found: Any, ids: list[int], n_context: int) -> LogLikelihood:
    total, greedy = 0.0, True
    for i in range(n_context, len(ids)):
        position: Mapping[int, Any] = found[i]
        total += max(position[ids[i]].logprob, LOGPROB_FLOOR)
        greedy = greedy and max(position, key=lambda token: position[token].logprob) == ids[i]
    return LogLikelihood(total, greedy)


def _free_engine_memory() -> None:
    """What vLLM's own tests do between engines: drop its process groups, collect the engine
    (its worker process ends with it), empty the CUDA cache."""
    from vllm.distributed.parallel_state import destroy_distributed_environment, destroy_model_parallel

    destroy_model_parallel()
    destroy_distributed_environment()
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
