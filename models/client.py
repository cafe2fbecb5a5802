"""The OpenAI-compatible client used everywhere (runs, judge, arena).

One logical model may be served by several replicas (`--base-url` given several times); each
request goes to the replica with the fewest requests in flight. Connection errors, 429 and 5xx
are retried with exponential backoff and jitter, preferring another replica; a timeout is retried
at most once (a hung server must not hold a run for retries × timeout). 400, 413 and 422 refuse
that one request (`ItemRejected`: the item fails, the run goes on); other 4xx answers are the
caller's mistake and fail at once with the server's message. A reply that is not an
OpenAI-compatible completion (an HTML page, text that is not JSON) is an error naming what came.

Servers differ in small ways (see ENVIRONMENT.md): `transformers serve` keeps the stop string
in the text, so stop strings are always cut on the client as well.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit, urlunsplit

from jeval.errors import ItemRejected, JevalError

if TYPE_CHECKING:
    import openai


def _retryable() -> tuple[type[Exception], ...]:
    """The SDK's errors worth another try (the SDK is imported on first use: a fully cached run
    never needs it)."""
    import openai

    return (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError)
ITEM_STATUSES = (400, 413, 422)
"""Statuses that refuse the request itself (its prompt, its length), not the client or server."""
TIMEOUT_RETRIES = 1
MODEL_STATUSES = (400, 404, 422)
"""Statuses with which servers refuse a model id they do not serve (vLLM: 404; transformers serve: 400)."""
LISTED_SHOWN = 10


def api_key_from_env(name: str | None, missing: str) -> str | None:
    """The API key held by environment variable `name` (None when no variable is named); `missing`
    is the error when the variable is named but unset or empty."""
    if name is None:
        return None
    key = os.environ.get(name)
    if not key:
        raise JevalError(missing)
    return key


def normalize_base_url(url: str) -> str:
    """`http://host:8000` and `http://host:8000/` mean `http://host:8000/v1`; other paths are kept."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise JevalError(f"--base-url {url!r} is not an http(s) URL (example: http://127.0.0.1:8000/v1)")
    path = parts.path.rstrip("/")
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True)
class ClientConfig:
    base_urls: tuple[str, ...]
    model: str
    api_key: str | None = None
    concurrency: int = 16
    timeout_s: float = 300.0
    max_retries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 16.0

    def __post_init__(self) -> None:
        if not self.base_urls:
            raise JevalError("no base URL given")
        if self.concurrency < 1:
            raise JevalError(f"concurrency must be at least 1, got {self.concurrency}")


@dataclass
class Usage:
    """Token accounting over the life of a client."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "retries": self.retries,
        }


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning: str | None = None
    """The thinking, where the server separated it from the answer (vLLM's `--reasoning-parser`)."""
    reasoning_tokens: int | None = None
    """Tokens of thinking among `completion_tokens`, where the server's usage reports them."""


def _reasoning_of(message: Any) -> str | None:
    """The thinking a server sent beside the answer: `reasoning_content` (vLLM, DeepSeek) or
    `reasoning` (later vLLM)."""
    for name in ("reasoning_content", "reasoning"):
        value = getattr(message, name, None)
        if isinstance(value, str):
            return value
    return None


def _reasoning_tokens(usage: Any) -> int | None:
    details = getattr(usage, "completion_tokens_details", None)
    value = getattr(details, "reasoning_tokens", None)
    return value if isinstance(value, int) else None


@dataclass(frozen=True)
class PromptLogprobs:
    """Per prompt token: its log-probability (None for the first), its text, and the top tokens."""

    logprobs: list[float | None]
    tokens: list[str]
    top: list[dict[str, float] | None]


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Cut `text` at the earliest stop string; return the text and whether a stop was found."""
    if not stop:
        return text, False
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    if not cuts:
        return text, False
    return text[: min(cuts)], True


@dataclass
class _Replica:
    url: str
    sdk: openai.AsyncOpenAI
    in_flight: int = 0


@dataclass
class OpenAIClient:
    config: ClientConfig
    usage: Usage = field(default_factory=Usage)

    def __post_init__(self) -> None:
        import openai

        self._replicas = [
            _Replica(
                url=url,
                sdk=openai.AsyncOpenAI(
                    base_url=normalize_base_url(url),
                    api_key=self.config.api_key or "EMPTY",
                    max_retries=0,
                    timeout=self.config.timeout_s,
                ),
            )
            for url in self.config.base_urls
        ]
        self._turn = itertools.count()
        self._listing: dict[str, list[str] | None] = {}
        self._slots = asyncio.Semaphore(self.config.concurrency)

    @property
    def base_urls(self) -> list[str]:
        return [r.url for r in self._replicas]

    async def aclose(self) -> None:
        for r in self._replicas:
            await r.sdk.close()

    async def __aenter__(self) -> OpenAIClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _pick(self, avoid: set[str]) -> _Replica:
        candidates = [r for r in self._replicas if r.url not in avoid] or self._replicas
        least = min(r.in_flight for r in candidates)
        tied = [r for r in candidates if r.in_flight == least]
        return tied[next(self._turn) % len(tied)]

    def _backoff(self, attempt: int) -> float:
        delay = min(self.config.max_backoff_s, self.config.backoff_s * 2**attempt)
        return delay * (0.5 + random.random() / 2)

    async def _call(self, make_request):
        """Run `make_request(sdk)` on a replica, retrying transient failures; the reply is checked
        to be a completion with at least one choice."""
        import openai

        failed: set[str] = set()
        last_error: Exception | None = None
        timeouts = 0
        async with self._slots:
            for attempt in range(self.config.max_retries + 1):
                replica = self._pick(failed)
                replica.in_flight += 1
                try:
                    return _checked(await make_request(replica.sdk), replica.url)
                except _retryable() as e:
                    last_error = e
                    failed.add(replica.url)
                    if len(failed) == len(self._replicas):
                        failed.clear()
                    if isinstance(e, openai.APITimeoutError):
                        timeouts += 1
                        if timeouts > TIMEOUT_RETRIES:
                            break
                    if attempt < self.config.max_retries:
                        self.usage.retries += 1
                        await asyncio.sleep(self._backoff(attempt))
                except openai.APIStatusError as e:
                    raise await self._rejection(replica, e) from None
                except (openai.APIResponseValidationError, ValueError) as e:
                    raise JevalError(f"{replica.url} did not answer with an OpenAI-compatible completion "
                                     f"({type(e).__name__}: {_short(e)}); is the base URL the API's root "
                                     "(e.g. http://host:8000/v1)?") from None
                finally:
                    replica.in_flight -= 1
        urls = ", ".join(self.base_urls)
        if timeouts > TIMEOUT_RETRIES:
            raise JevalError(f"no answer from {urls} within {self.config.timeout_s:g} s, {timeouts} times in a row: "
                             "the server may be hung or overloaded (raise --timeout for a slow model)")
        raise JevalError(
            f"no answer from {urls} after {self.config.max_retries + 1} attempts "
            f"({type(last_error).__name__}: {_short(last_error)}); is the server running?"
        )

    async def _rejection(self, replica: _Replica, e: openai.APIStatusError) -> JevalError:
        """The error for a refused request. A model id the server does not serve is the run's mistake,
        told with the ids the server lists; any other 400/413/422 refuses that one request."""
        detail = _detail(e)
        message = f"{replica.url} rejected the request (HTTP {e.status_code}): {detail}"
        model = self.config.model
        if e.status_code in MODEL_STATUSES:
            listed = await self._listed(replica) or []
            # transformers serve never lists a checkpoint folder it serves
            if listed and model not in listed and not os.path.isdir(model):
                shown = ", ".join(listed[:LISTED_SHOWN]) + (", ..." if len(listed) > LISTED_SHOWN else "")
                return JevalError(f"{message}; model id {model!r} is not among the ids it serves (GET /v1/models: "
                                  f"{shown}): pass one of them with --model-id")
            if model and model in detail and model not in listed:
                return JevalError(f"{message}; it refused model id {model!r} (it lists no model ids): pass the id "
                                  "it serves with --model-id")
        return ItemRejected(message) if e.status_code in ITEM_STATUSES else JevalError(message)

    async def _listed(self, replica: _Replica) -> list[str] | None:
        """The model ids a replica lists (asked once); None when it cannot say."""
        if replica.url not in self._listing:
            try:
                page = await replica.sdk.models.list()
                self._listing[replica.url] = [m.id for m in page.data if isinstance(getattr(m, "id", None), str)]
            except Exception:  # a listing that fails only means the ids are unknown
                self._listing[replica.url] = None
        return self._listing[replica.url]

    def _account(self, usage: Any) -> tuple[int | None, int | None]:
        self.usage.requests += 1
        if usage is None:
            return None, None
        self.usage.prompt_tokens += usage.prompt_tokens or 0
        self.usage.completion_tokens += usage.completion_tokens or 0
        return usage.prompt_tokens, usage.completion_tokens

    async def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        **params: Any,
    ) -> Completion:
        """A text completion (`/v1/completions`), the prompt sent as it is."""
        body = _body(max_tokens, temperature, stop, params)

        async def request(sdk: openai.AsyncOpenAI) -> Any:
            return await sdk.completions.create(model=self.config.model, prompt=prompt, **body)

        response = await self._call(request)
        choice = response.choices[0]
        text, stopped = cut_at_stop(choice.text or "", stop)
        prompt_tokens, completion_tokens = self._account(response.usage)
        return Completion(text, "stop" if stopped else choice.finish_reason, prompt_tokens, completion_tokens,
                          reasoning_tokens=_reasoning_tokens(response.usage))

    async def prompt_logprobs(self, token_ids: list[int]) -> PromptLogprobs | None:
        """Log-probabilities of the prompt's own tokens (`echo` with `logprobs`, as vLLM answers),
        sent as token ids; None where the server ignores `logprobs` (`transformers serve` does).
        vLLM is asked to name tokens by id (`token_id:N`): decoded one at a time, distinct tokens
        can read alike (byte-fallback pieces of one Japanese character all decode to U+FFFD), and
        which token was the greedy one is decided by comparing them."""

        async def request(sdk: openai.AsyncOpenAI) -> Any:
            return await sdk.completions.create(model=self.config.model, prompt=token_ids, max_tokens=1,
                                                temperature=0.0, echo=True, logprobs=1,
                                                extra_body={"return_tokens_as_token_ids": True})

        response = await self._call(request)
        self._account(response.usage)
        found = response.choices[0].logprobs if response.choices else None
        if found is None or not found.token_logprobs:
            return None
        n = len(token_ids)
        return PromptLogprobs(list(found.token_logprobs[:n]), list(found.tokens[:n]),
                              [dict(t) if t else None for t in (found.top_logprobs or [None] * n)[:n]])

    async def chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        **params: Any,
    ) -> Completion:
        """A chat completion (`/v1/chat/completions`); the server applies the model's chat template."""
        body = _body(max_tokens, temperature, stop, params)

        async def request(sdk: openai.AsyncOpenAI) -> Any:
            return await sdk.chat.completions.create(model=self.config.model, messages=cast(Any, messages), **body)

        response = await self._call(request)
        choice = response.choices[0]
        message = choice.message
        text, stopped = cut_at_stop((message.content if message is not None else None) or "", stop)
        prompt_tokens, completion_tokens = self._account(response.usage)
        return Completion(text, "stop" if stopped else choice.finish_reason, prompt_tokens, completion_tokens,
                          _reasoning_of(message), _reasoning_tokens(response.usage))

    async def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        **params: Any,
    ) -> AsyncIterator[str]:
        """Yield the answer's text as it arrives. Retries happen only before the first piece."""
        body = _body(max_tokens, temperature, stop, params)

        async def request(sdk: openai.AsyncOpenAI) -> Any:
            return await sdk.chat.completions.create(
                model=self.config.model, messages=cast(Any, messages), stream=True, **body
            )

        stream = await self._call(request)
        hold = max((len(s) for s in stop or []), default=1) - 1
        pending = ""
        usage = None
        async with self._slots:
            try:
                async for chunk in stream:
                    usage = getattr(chunk, "usage", None) or usage
                    if not chunk.choices:
                        continue
                    pending += chunk.choices[0].delta.content or ""
                    text, stopped = cut_at_stop(pending, stop)
                    if stopped:
                        if text:
                            yield text
                        pending = ""
                        break
                    if len(pending) > hold:
                        yield pending[: len(pending) - hold]
                        pending = pending[len(pending) - hold :]
                else:
                    if pending:
                        yield pending
            finally:
                # also when the caller stops reading early (aclose): the connection is not left open
                await stream.close()
        self._account(usage)


EXTRA_BODY = ("top_k", "min_p", "repetition_penalty")
"""Sampling fields the OpenAI API does not define and vLLM's server reads from the request body
(sent through the SDK's `extra_body`); top_p and the presence and frequency penalties are the
API's own fields."""


def _body(max_tokens: int, temperature: float, stop: list[str] | None, params: dict[str, Any]) -> dict[str, Any]:
    """Request fields; `max_tokens` is always sent (servers differ in their defaults). `params`
    holds `seed` and `sampling` (settings among jeval.task.SAMPLING) where the request sets them,
    and `extra_body`, fields of a server's own beyond the API's."""
    params = dict(params)
    sampling = dict(params.pop("sampling", None) or {})
    extra = {**(params.pop("extra_body", None) or {}), **{k: sampling.pop(k) for k in EXTRA_BODY if k in sampling}}
    body = dict(max_tokens=max_tokens, temperature=temperature, stop=stop or None, **params, **sampling)
    if extra:
        body["extra_body"] = extra
    return {k: v for k, v in body.items() if v is not None}


def _checked(response: Any, url: str) -> Any:
    """The reply if it is a completion object with choices; a page or text where JSON was expected
    is an error for the run, a completion without choices fails this one request."""
    import openai

    if isinstance(response, openai.AsyncStream):
        return response
    if response is None or isinstance(response, str | bytes) or not hasattr(response, "choices"):
        shown = " ".join(str(response)[:200].split()) if response is not None else "nothing"
        raise JevalError(f"{url} did not answer with an OpenAI-compatible completion (it sent: {shown!r}); is the "
                         "base URL the API's root (e.g. http://host:8000/v1)?")
    if not response.choices:
        raise ItemRejected(f"{url} answered the request with no choices")
    return response


def _detail(e: openai.APIStatusError) -> str:
    """The server's own words for a refusal (`message` as vLLM and OpenAI send it, `detail` as
    FastAPI does), else the body as it came; the SDK's `str(e)` is often only "Error code: 400"."""
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error")
        nested = inner.get("message") if isinstance(inner, dict) else inner
        for found in (body.get("message"), body.get("detail"), nested):
            if isinstance(found, str) and found.strip():
                return " ".join(found.split())[:300].rstrip(".")
    try:
        text = e.response.text
    except Exception:  # a streamed body that was never read
        text = ""
    return " ".join((text or str(e)).split())[:300] or f"HTTP {e.status_code}"


def _short(e: Exception | None) -> str:
    text = " ".join(str(e).split()) if e is not None else ""
    return text[:300]
