"""Requests per second of jeval's generation runner against a raw asyncio `openai` loop.

Same local server (`transformers serve` started by `jeval serve`, or --base-url), same prompts,
same concurrency, measured in one run, alternating the two sides; printed as a ratio
(jeval / raw). The jeval side goes through everything a real run does: cache look-ups and
commits to a fresh SQLite cache, replica choice, retries bookkeeping, token accounting.

    python tests/benchmarks/bench_client.py --checkpoint CKPT [--requests 64] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import openai

from jeval.cache import GenerationCache, GenerationStore
from jeval.executor import Executor, Job
from jeval.fingerprint import checkpoint_fingerprint
from jeval.models.engines import ModelSpec, open_model, resolve
from jeval.models.model import generate
from jeval.models.server import ModelServer, ServeConfig
from jeval.task import Request


def prompts(n: int) -> list[str]:
    return [f"### 指示:\n次の質問に答えてください。\n\n### 入力:\n質問{i}：{i}と{i + 1}の和は？\n\n### 応答:\n"
            for i in range(n)]


async def raw_loop(base_url: str, model: str, texts: list[str], concurrency: int, max_tokens: int) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY")
    slots = asyncio.Semaphore(concurrency)

    async def one(text: str):
        async with slots:
            await client.completions.create(model=model, prompt=text, max_tokens=max_tokens, temperature=0.0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(t) for t in texts))
    elapsed = time.perf_counter() - t0
    await client.close()
    return len(texts) / elapsed


async def jeval_runner(base_url: str, model: str, fingerprint: str, texts: list[str], concurrency: int,
                       max_tokens: int, cache_dir: Path) -> float:
    """The path a run's requests take: jeval's model over the URL, asked through the executor."""
    requests = [Request("bench", f"bench/{i}", t, max_tokens, "") for i, t in enumerate(texts)]
    cache = GenerationCache(cache_dir / f"{time.monotonic_ns()}.sqlite")
    resolved = resolve(ModelSpec(base_urls=(base_url,), model_id=model, concurrency=concurrency))
    async with open_model(resolved) as served:
        executor = Executor(GenerationStore(cache, resolved.identity), concurrency=concurrency, progress=False)
        t0 = time.perf_counter()
        await executor.run([Job(r.payload(), r.task) for r in requests], lambda job: generate(served, job.payload))
        elapsed = time.perf_counter() - t0
    cache.close()
    return len(texts) / elapsed


async def bench(base_url: str, model: str, fingerprint: str, args) -> None:
    texts = prompts(args.requests)
    await raw_loop(base_url, model, texts[:4], args.concurrency, args.max_tokens)  # warm-up
    raw, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            salt = f"[{round_}]"  # fresh prompts per round, so no server-side reuse favours either side
            batch = [salt + t for t in texts]
            if round_ % 2 == 0:
                raw.append(await raw_loop(base_url, model, batch, args.concurrency, args.max_tokens))
                ours.append(await jeval_runner(base_url, model, fingerprint, batch, args.concurrency,
                                               args.max_tokens, Path(tmp)))
            else:
                ours.append(await jeval_runner(base_url, model, fingerprint, batch, args.concurrency,
                                               args.max_tokens, Path(tmp)))
                raw.append(await raw_loop(base_url, model, batch, args.concurrency, args.max_tokens))
    print(f"requests per round: {args.requests}, concurrency: {args.concurrency}, max_tokens: {args.max_tokens}")
    print(f"raw openai loop : {' '.join(f'{x:.2f}' for x in raw)} req/s (median {statistics.median(raw):.2f})")
    print(f"jeval runner    : {' '.join(f'{x:.2f}' for x in ours)} req/s (median {statistics.median(ours):.2f})")
    ratios = [o / r for o, r in zip(ours, raw)]
    print(f"ratio jeval/raw per round: {' '.join(f'{x:.3f}' for x in ratios)}; "
          f"median {statistics.median(ratios):.3f} (target >= 0.95)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="served with jeval's launcher for the benchmark")
    parser.add_argument("--base-url", help="use a running server instead")
    parser.add_argument("--model-id")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--server-arg", action="append", default=[], help="extra argument for the server")
    args = parser.parse_args()
    if args.base_url:
        asyncio.run(bench(args.base_url, args.model_id, f"endpoint-model:{args.model_id}", args))
        return
    if args.checkpoint is None:
        parser.error("give --checkpoint or --base-url")
    with tempfile.TemporaryDirectory() as logs, \
            ModelServer(ServeConfig(args.checkpoint, log_dir=Path(logs), extra_args=tuple(args.server_arg))) as server:
            print(f"server: {server.engine} {server.describe()['engine_version']} at {server.base_url}")
            asyncio.run(bench(server.base_url, server.model_id, checkpoint_fingerprint(args.checkpoint), args))


if __name__ == "__main__":
    main()
