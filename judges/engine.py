"""Asking the judge: cached, concurrent, retried, counted, and never stopped by one bad item.

Every job is one chat request to the judge (temperature 0 by default). Its answer is looked up in
the judgment cache first; a new answer is committed to the cache as soon as it arrives. A request
that still fails after the client's retries with backoff, or whose reply the client refuses (an
HTML page, a body that is not JSON, no `choices`), becomes a recorded failure of that item
(`request_error`, with the client's description); a reply that gets past the client but is still
not a chat completion the judge can read (`choices` that are not objects, content that is not
text; with an older client also the shapes above) is a `malformed_reply`. Neither is cached, so
the next run asks again, and the run goes on. Whether too few judgments succeeded is the
caller's question (jeval.judges.coverage). With `retry_failures`, cached answers whose verdict
could not be read are asked again and replaced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import openai

from jeval.errors import JevalError
from jeval.executor import Executor
from jeval.executor import Job as ExecutorJob
from jeval.fingerprint import checkpoint_fingerprint, endpoint_fingerprint
from jeval.judges.cache import CachedAnswer, JudgmentCache, judgment_key
from jeval.models.client import ClientConfig, OpenAIClient, api_key_from_env

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
ReplyFailure = Literal["request_error", "malformed_reply"]
_MALFORMED = (AttributeError, LookupError, TypeError, ValueError, openai.APIResponseValidationError)
"""What reading a 200 reply that is not a chat completion raises inside the client where it does
not check the shape itself (the SDK returns a non-JSON body as text; invalid JSON; an empty or
malformed `choices`)."""


@dataclass(frozen=True)
class JudgeConfig:
    model: str
    base_urls: tuple[str, ...] = (OPENAI_URL,)
    api_key_env: str | None = None
    concurrency: int = 8
    max_retries: int = 5
    timeout_s: float = 600.0
    max_tokens: int = 2048
    temperature: float = 0.0
    price_in_per_mtok: float | None = None
    price_out_per_mtok: float | None = None
    retry_failures: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise JevalError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.max_tokens < 1:
            raise JevalError(f"--max-tokens must be at least 1, got {self.max_tokens}")

    def api_key(self) -> str | None:
        return api_key_from_env(self.api_key_env,
                                f"the judge's API key is read from ${self.api_key_env}, which is not set")

    def settings(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.price_in_per_mtok is None and self.price_out_per_mtok is None:
            return None
        return round(prompt_tokens / 1e6 * (self.price_in_per_mtok or 0.0)
                     + completion_tokens / 1e6 * (self.price_out_per_mtok or 0.0), 6)


def judge_identity(model: str, memo: Path | None = None) -> str:
    """What tells judges apart in the cache: a local checkpoint's weights, else the model id."""
    local = Path(model)
    if (local / "config.json").is_file():
        return checkpoint_fingerprint(local, memo)
    return endpoint_fingerprint(model)


@dataclass(frozen=True)
class Job:
    """One judge request. `readable` says whether a text holds a verdict (for --retry-failures)."""

    messages: list[dict[str, str]]
    repeat: int
    readable: Callable[[str], bool]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """The judge's text for a job, or (text None) why there is none: `failure` and `error`."""

    job: Job
    text: str | None
    error: str | None
    cached: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    tstamp: float
    failure: ReplyFailure | None = None


@dataclass
class Tally:
    sent: int = 0
    from_cache: int = 0
    request_errors: int = 0
    malformed_replies: int = 0
    retried_failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    client_retries: int = 0
    seconds: float = 0.0

    def as_dict(self, config: JudgeConfig) -> dict[str, Any]:
        return {"sent": self.sent, "from_cache": self.from_cache, "request_errors": self.request_errors,
                "malformed_replies": self.malformed_replies, "retried_failures": self.retried_failures,
                "client_retries": self.client_retries,
                "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
                "tokens_saved_by_cache": {"prompt": self.cached_prompt_tokens,
                                          "completion": self.cached_completion_tokens},
                "cost_usd": config.cost(self.prompt_tokens, self.completion_tokens),
                "cost_saved_by_cache_usd": config.cost(self.cached_prompt_tokens, self.cached_completion_tokens),
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class JudgmentStore:
    """The judgment cache as the executor's answer store, for one judge and prompt set."""

    cache: JudgmentCache
    identity: str
    prompt_set: str

    def key(self, payload: dict[str, Any]) -> str:
        return judgment_key(self.identity, self.prompt_set, payload["messages"], payload["settings"],
                            payload["repeat"])

    def get(self, key: str) -> dict[str, Any] | None:
        hit = self.cache.get(key)
        if hit is None:
            return None
        return {"text": hit.text, "prompt_tokens": hit.prompt_tokens, "completion_tokens": hit.completion_tokens,
                "created": hit.created}

    def put(self, key: str, payload: dict[str, Any], response: dict[str, Any]) -> None:
        self.cache.put(key, self.identity, self.prompt_set, payload,
                       CachedAnswer(response["text"], response["prompt_tokens"], response["completion_tokens"],
                                    response["created"]))


def malformed_reason(error: Exception) -> str:
    """What was wrong with a reply the client could not read as a chat completion."""
    text = " ".join(str(error).split())[:200]
    if isinstance(error, ValueError):
        return f"the reply is not valid JSON ({text})"
    if isinstance(error, AttributeError) and text.startswith("'str' object has no attribute 'choices'"):
        return "the reply is not JSON (text or an HTML page)"
    if isinstance(error, IndexError):
        return "the reply has an empty `choices` list"
    return f"the reply is not an OpenAI chat completion ({type(error).__name__}: {text})"


async def ask_all(jobs: list[Job], config: JudgeConfig, identity: str, prompt_set: str,
                  cache: JudgmentCache) -> tuple[list[Reply], Tally]:
    """Every job's reply, through the one executor: cached answers first, the rest asked
    concurrently; a request that fails after the client's retries, or whose reply is not a chat
    completion, is that job's recorded failure."""
    tally = Tally()
    settings = config.settings()
    executor_jobs = [ExecutorJob({"messages": job.messages, "settings": settings, "repeat": job.repeat}, ref=job)
                     for job in jobs]

    def readable(job: ExecutorJob, hit: dict[str, Any]) -> bool:
        return bool(job.ref.readable(hit["text"]))

    store = JudgmentStore(cache, identity, prompt_set)
    executor = Executor(store, concurrency=config.concurrency)
    started = time.monotonic()
    clients: list[OpenAIClient] = []
    malformed: set[str] = set()

    async def ask(job: ExecutorJob) -> dict[str, Any]:
        if not clients:
            clients.append(OpenAIClient(ClientConfig(config.base_urls, config.model, config.api_key(),
                                                     concurrency=config.concurrency, timeout_s=config.timeout_s,
                                                     max_retries=config.max_retries)))
        try:
            c = await clients[0].chat(job.payload["messages"], max_tokens=config.max_tokens,
                                      temperature=config.temperature)
        except _MALFORMED as e:
            malformed.add(store.key(job.payload))
            raise JevalError(f"{', '.join(config.base_urls)}: {malformed_reason(e)}") from None
        if not isinstance(c.text, str):
            malformed.add(store.key(job.payload))
            raise JevalError(f"{', '.join(config.base_urls)}: the reply's message content is a "
                             f"{type(c.text).__name__}, not text")
        return {"text": c.text, "prompt_tokens": c.prompt_tokens, "completion_tokens": c.completion_tokens,
                "created": time.time()}

    try:
        outcomes = await executor.run(executor_jobs, ask, desc="judging", keep_errors=True,
                                      accept=readable if config.retry_failures else None)
    finally:
        for client in clients:
            tally.sent = client.usage.requests
            tally.prompt_tokens = client.usage.prompt_tokens
            tally.completion_tokens = client.usage.completion_tokens
            tally.client_retries = client.usage.retries
            await client.aclose()
    tally.seconds = time.monotonic() - started
    tally.retried_failures = executor.tally.replaced
    replies = []
    for job, executor_job, outcome in zip(jobs, executor_jobs, outcomes, strict=True):
        response = outcome.response
        if outcome.cached and response is not None:
            tally.from_cache += 1
            tally.cached_prompt_tokens += response.get("prompt_tokens") or 0
            tally.cached_completion_tokens += response.get("completion_tokens") or 0
        if response is None:
            failure: ReplyFailure = ("malformed_reply" if store.key(executor_job.payload) in malformed
                                     else "request_error")
            if failure == "malformed_reply":
                tally.malformed_replies += 1
            else:
                tally.request_errors += 1
            replies.append(Reply(job, None, outcome.error, False, None, None, time.time(), failure))
        else:
            replies.append(Reply(job, response["text"], None, outcome.cached, response.get("prompt_tokens"),
                                 response.get("completion_tokens"), response["created"]))
    return replies, tally
