"""One model protocol for every engine: what a task may ask of a model.

A model says which capabilities it has before it is started (`capabilities`: "yes", or "maybe"
where only the first request can tell, e.g. a URL that may or may not be a vLLM server) and who it
is (`identity`, see jeval.identity). Engines are started lazily, on the first request that the
cache could not answer, so a fully cached run starts nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from jeval.errors import JevalError
from jeval.task import SAMPLING

if TYPE_CHECKING:
    from jeval.identity import ModelIdentity
    from jeval.models.client import Completion, Usage
    from jeval.task import Capability

Support = Literal["yes", "maybe"]
CAPABLE = ("--backend local (in-process transformers) or a vLLM server (`jeval run --model CKPT` with vLLM on a "
           "GPU, or --base-url of a `vllm serve` with --model-id its checkpoint folder)")


def cannot_score(tasks: Sequence[str], why: str) -> JevalError:
    return JevalError(f"{', '.join(tasks)} need log-likelihoods, which {why}; use {CAPABLE}")


class Unscorable(JevalError):
    """A model could not give log-probabilities; `why` completes "... need log-likelihoods, which"
    (the caller, who knows the tasks, names them with `cannot_score`)."""

    def __init__(self, why: str):
        super().__init__(f"this task needs log-likelihoods, which {why}; use {CAPABLE}")
        self.why = why


@dataclass(frozen=True)
class LogLikelihood:
    logprob: float
    is_greedy: bool


@dataclass(frozen=True)
class Window:
    """A sequence of token ids whose tokens from `score_from` on are scored (perplexity)."""

    ids: tuple[int, ...]
    score_from: int

    @property
    def scored(self) -> int:
        return len(self.ids) - self.score_from


SPLIT_RULE = "lm-eval-0.4"
"""The name of `split_pair`'s rule, part of every log-likelihood request's cache key: a change to
how pairs are split must never meet answers split the old way."""


def split_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], int]:
    """The token ids of context + continuation and where the continuation starts, as lm-eval
    0.4's causal models split them: whitespace at the end of the context moves to the start of the
    continuation (so a word keeps its leading-space token); the pair is encoded whole, and the
    continuation starts where the context's own encoding ends (one token earlier where the last
    context token merged across the boundary). An empty context becomes the BOS token (else EOS),
    so that the first continuation token is predicted from something. Every engine splits with
    this, so that they score the same tokens."""
    spaces = len(context) - len(context.rstrip())
    if spaces and context.strip():
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    context_ids = tokenizer(context, add_special_tokens=True).input_ids
    if not context_ids:
        prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        context_ids = [prefix]
        whole = context_ids + tokenizer(continuation, add_special_tokens=False).input_ids
    else:
        whole = tokenizer(context + continuation, add_special_tokens=True).input_ids
    n_context = len(context_ids) if whole[: len(context_ids)] == context_ids else len(context_ids) - 1
    return whole, max(n_context, 1)


CONTEXT_FIELDS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
"""Config fields that give a Hugging Face model's context length, in the order they are looked for."""
SANE_TOKENIZER_LIMIT = 10**7


@dataclass(frozen=True)
class ContextWindow:
    """How many tokens a model takes (prompt and answer together), what that was read from, and
    the tokenizer that counts a prompt as the server will."""

    limit: int
    where: str
    tokenizer: Any

    def prompt_tokens(self, payload: Mapping[str, Any]) -> int | None:
        """The payload's prompt length in tokens (None where it cannot be told: a chat for a
        tokenizer without a chat template)."""
        if payload["kind"] == "chat":
            try:
                ids = self.tokenizer.apply_chat_template([dict(m) for m in payload["messages"]],
                                                         add_generation_prompt=True, tokenize=True)
            except (ValueError, TypeError, KeyError):
                return None
            return len(ids["input_ids"] if isinstance(ids, Mapping) else ids)
        return len(self.tokenizer(payload["prompt"])["input_ids"])

    def overflow(self, payload: Mapping[str, Any]) -> str | None:
        """Why the payload cannot fit (its prompt and `max_tokens` exceed the limit), or None."""
        prompt = self.prompt_tokens(payload)
        if prompt is None or prompt + payload["max_tokens"] <= self.limit:
            return None
        return (f"the prompt's {prompt} tokens and max_tokens {payload['max_tokens']} exceed the model's context of "
                f"{self.limit} tokens ({self.where}); it was not sent")


def context_limit(config: Any, tokenizer: Any) -> tuple[int, str] | None:
    """The model's context in tokens and what it was read from: the config's positions (the first of
    CONTEXT_FIELDS it sets), capped by the tokenizer's `model_max_length` where that is a real limit
    (tokenizers without one carry a huge sentinel); None where neither says."""
    found = [(value, name) for name in CONTEXT_FIELDS
             if isinstance(value := getattr(config, name, None), int) and 1 < value < SANE_TOKENIZER_LIMIT][:1]
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 1 < limit < SANE_TOKENIZER_LIMIT:
        found.append((limit, "the tokenizer's model_max_length"))
    return min(found, key=lambda f: f[0]) if found else None


def context_window_of(checkpoint: Any) -> ContextWindow | None:
    """The context window of a Hugging Face checkpoint folder (None where nothing in it says)."""
    from transformers import AutoConfig, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    found = context_limit(AutoConfig.from_pretrained(checkpoint), tokenizer)
    if found is None:
        return None
    return ContextWindow(found[0], f"{found[1]} of {checkpoint}", tokenizer)


class Model(Protocol):
    @property
    def identity(self) -> ModelIdentity: ...

    @property
    def capabilities(self) -> Mapping[Capability, Support]: ...

    @property
    def usage(self) -> Usage: ...

    def describe(self) -> dict[str, Any]:
        """The engine as results.json records it (kind, engine, command, whether it was started)."""
        ...

    async def complete(self, prompt: str, *, max_tokens: int, temperature: float = 0.0,
                       stop: list[str] | None = None, seed: int | None = None,
                       sampling: Mapping[str, float] | None = None) -> Completion:
        """A completion of the text prompt. `sampling`: settings among jeval.task.SAMPLING, passed
        only where a request sets some; an engine that cannot apply one refuses it (JevalError),
        never ignores it."""
        ...

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0,
                   stop: list[str] | None = None, seed: int | None = None,
                   sampling: Mapping[str, float] | None = None) -> Completion: ...

    async def loglikelihood(self, context: str, continuation: str) -> LogLikelihood:
        """Sum of log-probabilities of `continuation` after `context`, and whether greedy decoding
        gives exactly it; tokens split at the context boundary as lm-eval splits them."""
        ...

    def loglikelihoods(self, pairs: Sequence[tuple[str, str]]) -> AsyncIterator[tuple[int, LogLikelihood]]:
        """`loglikelihood` of many (context, continuation) pairs, yielded as each is done as
        (index into `pairs`, result), in whatever order the engine finds fastest (an in-process
        engine batches them by length), so that the caller can commit each one as it comes."""
        ...

    async def window_nll(self, windows: Sequence[Window]) -> list[float]:
        """Summed negative log-likelihood (nats) of each window's scored tokens."""
        ...

    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (loaded without starting the engine)."""
        ...

    def model_config(self) -> Any:
        """The model's Hugging Face config (loaded without starting the engine)."""
        ...

    def context_window(self) -> ContextWindow | None:
        """The model's context length and tokenizer, where both can be had without starting the
        engine (None: unknown; an over-long prompt is then refused by the server, if at all)."""
        ...


async def generate(model: Model, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Answer one generation payload (a completion or a chat, see jeval.task.Request.payload) as the
    generation cache stores it."""
    settings: dict[str, Any] = dict(max_tokens=payload["max_tokens"], temperature=payload["temperature"],
                                    stop=list(payload["stop"]) or None)
    if "seed" in payload:
        settings["seed"] = payload["seed"]
    sampling = {name: payload[name] for name in SAMPLING if name in payload}
    if sampling:
        settings["sampling"] = sampling
    if payload["kind"] == "chat":
        c = await model.chat([dict(m) for m in payload["messages"]], **settings)
    else:
        c = await model.complete(payload["prompt"], **settings)
    answer = {"text": c.text, "finish_reason": c.finish_reason, "prompt_tokens": c.prompt_tokens,
              "completion_tokens": c.completion_tokens}
    if c.reasoning is not None:
        answer["reasoning"] = c.reasoning
    if c.reasoning_tokens is not None:
        answer["reasoning_tokens"] = c.reasoning_tokens
    return answer
