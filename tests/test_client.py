"""The OpenAI-compatible client against a real `transformers serve`: completions, chat,
streaming, stop strings, token accounting, replicas, retries and clear failures."""

from __future__ import annotations

import asyncio
import socket

import pytest

from jeval.errors import JevalError
from jeval.models.client import ClientConfig, OpenAIClient, cut_at_stop, normalize_base_url

PROMPT = "### 指示:\n質問に答えてください。\n\n### 入力:\n犬は何ですか？\n\n### 応答:\n"


def client_for(urls, model_id, **kw) -> OpenAIClient:
    return OpenAIClient(ClientConfig(tuple(urls), model_id, **kw))


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def test_base_url_forms():
    assert normalize_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalize_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalize_base_url("https://api.example.com/openai/v1") == "https://api.example.com/openai/v1"
    with pytest.raises(JevalError):
        normalize_base_url("localhost:8000")


def test_stop_strings_are_cut_on_the_client():
    assert cut_at_stop("答え\n\n次", ["\n\n"]) == ("答え", True)
    assert cut_at_stop("abc", ["x"]) == ("abc", False)
    assert cut_at_stop("a.b;c", [";", "."]) == ("a", True)


def test_completion_chat_and_stream(served):
    async def go():
        async with client_for([served.base_url], served.model_id) as client:
            done = await client.complete(PROMPT, max_tokens=8)
            chat = await client.chat([{"role": "user", "content": "こんにちは"}], max_tokens=8)
            pieces = [p async for p in client.stream_chat([{"role": "user", "content": "こんにちは"}], max_tokens=8)]
            return done, chat, pieces, client.usage

    done, chat, pieces, usage = asyncio.run(go())
    assert done.completion_tokens is not None and 0 < done.completion_tokens <= 8
    assert done.prompt_tokens > 10
    assert chat.text and "".join(pieces) == chat.text
    assert usage.requests == 3
    assert usage.prompt_tokens >= done.prompt_tokens + chat.prompt_tokens


def test_stop_string_does_not_reach_the_caller(served):
    async def go():
        async with client_for([served.base_url], served.model_id) as client:
            free = await client.complete(PROMPT, max_tokens=12)
            stop = free.text[2:4] if len(free.text) >= 4 else None
            cut = await client.complete(PROMPT, max_tokens=12, stop=[stop]) if stop else None
            return free, stop, cut

    free, stop, cut = asyncio.run(go())
    if stop is None:
        pytest.skip("the tiny model answered too briefly to pick a stop string from its answer")
    assert cut.text == free.text[: free.text.find(stop)]
    assert cut.finish_reason == "stop"


def test_requests_are_spread_over_replicas(served, make_proxy):
    a, b = make_proxy(served.base_url), make_proxy(served.base_url)

    async def go():
        async with client_for([a.url, b.url], served.model_id, concurrency=4) as client:
            await asyncio.gather(*(client.complete(PROMPT, max_tokens=2) for _ in range(8)))

    asyncio.run(go())
    assert len(a.completions()) >= 2 and len(b.completions()) >= 2
    assert len(a.completions()) + len(b.completions()) == 8


def test_a_dead_replica_is_routed_around(served):
    async def go():
        async with client_for([dead_url(), served.base_url], served.model_id, backoff_s=0.01) as client:
            results = await asyncio.gather(*(client.complete(PROMPT, max_tokens=2) for _ in range(4)))
            return results, client.usage

    results, usage = asyncio.run(go())
    assert len(results) == 4 and usage.requests == 4 and usage.retries >= 1


def test_server_errors_are_retried_with_backoff(served, make_proxy):
    flaky = make_proxy(served.base_url, fail_first=2)

    async def go():
        async with client_for([flaky.url], served.model_id, backoff_s=0.01) as client:
            return await client.complete(PROMPT, max_tokens=2), client.usage

    done, usage = asyncio.run(go())
    assert usage.retries == 2 and len(flaky.seen) == 3 and done.completion_tokens


def test_unreachable_server_is_a_clear_error_after_the_retries():
    async def go():
        async with client_for([dead_url()], "m", max_retries=2, backoff_s=0.01) as client:
            await client.complete(PROMPT, max_tokens=2)

    with pytest.raises(JevalError, match=r"no answer from .* after 3 attempts"):
        asyncio.run(go())


def test_client_mistakes_fail_at_once(served, make_proxy):
    proxy = make_proxy(served.base_url)

    async def go():
        async with client_for([proxy.url], "some-other-model", backoff_s=0.01) as client:
            await client.complete(PROMPT, max_tokens=2)

    with pytest.raises(JevalError, match=r"rejected the request \(HTTP 400\).*refused model id 'some-other-model'"):
        asyncio.run(go())
    assert len(proxy.completions()) == 1  # not retried (the model ids are then asked for once)
