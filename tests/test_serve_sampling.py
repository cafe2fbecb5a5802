"""A request above temperature 0 on `transformers serve` is sampled as it is in process and on
vLLM: whatever the checkpoint's generation config says of do_sample, from the whole vocabulary
unless the checkpoint sets a top_k, and the rule is part of the model's identity.

The server is real, started by jeval as `jeval run --model CKPT` starts it, on copies of the tiny
checkpoint: one whose generation config says nothing of sampling, as many published base models'
do not (the server answered it greedily at any temperature, under a sampled label), and one that
sets top_k=1 (its own setting must still apply). Behind `--base-url` jeval cannot tell what the
server is, so a `transformers serve` there is named with `--engine transformers`, as the `try:` line
of `jeval serve` does.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import start_jeval_serve, stop

from jeval.errors import JevalError
from jeval.models.engines import SAMPLING_RULE, ModelSpec, open_model, resolve, serve_sampling

PROMPT = "今日は"
SAMPLING_FIELDS = ("do_sample", "temperature", "top_p", "top_k")


def with_generation_config(checkpoint: Path, folder: Path, **fields: object) -> Path:
    """A copy of `checkpoint` whose generation config keeps its token ids and sets only `fields`
    of sampling."""
    shutil.copytree(checkpoint, folder, ignore=shutil.ignore_patterns("checkpoints"))
    path = folder / "generation_config.json"
    kept = {k: v for k, v in json.loads(path.read_text()).items() if k not in SAMPLING_FIELDS}
    path.write_text(json.dumps({**kept, **fields}))
    return folder


@dataclass
class Answers:
    greedy: str
    sampled: list[str]
    """At temperature 1.0, seeds 0 to 3."""
    again: str
    """Seed 0 again."""
    chat_greedy: str
    chat_sampled: list[str]


def answers(spec: ModelSpec) -> Answers:
    """Completions and chat answers, greedy and sampled, asked one at a time."""

    async def ask() -> Answers:
        resolved = resolve(spec)
        assert resolved.engine.name == "transformers-serve"
        messages = [{"role": "user", "content": PROMPT}]
        async with open_model(resolved) as model:
            greedy = (await model.complete(PROMPT, max_tokens=12, temperature=0.0)).text
            sampled = [(await model.complete(PROMPT, max_tokens=12, temperature=1.0, seed=seed)).text
                       for seed in range(4)]
            again = (await model.complete(PROMPT, max_tokens=12, temperature=1.0, seed=0)).text
            chat_greedy = (await model.chat(messages, max_tokens=12, temperature=0.0)).text
            chat_sampled = [(await model.chat(messages, max_tokens=12, temperature=1.0, seed=seed)).text
                            for seed in range(4)]
        return Answers(greedy, sampled, again, chat_greedy, chat_sampled)

    return asyncio.run(ask())


def test_a_checkpoint_that_does_not_set_do_sample_is_sampled_above_temperature_0(tiny_checkpoint, tmp_path):
    base = with_generation_config(tiny_checkpoint, tmp_path / "base")
    found = answers(ModelSpec(checkpoint=base, log_dir=tmp_path / "logs"))
    assert len(set(found.sampled)) > 1 and any(answer != found.greedy for answer in found.sampled)
    assert found.again == found.sampled[0]  # asked one at a time, a request is drawn from the seed it carries
    assert len(set(found.chat_sampled)) > 1 and any(answer != found.chat_greedy for answer in found.chat_sampled)


def test_a_top_k_the_checkpoint_sets_still_applies(tiny_checkpoint, tmp_path):
    top_1 = with_generation_config(tiny_checkpoint, tmp_path / "top-1", top_k=1)
    found = answers(ModelSpec(checkpoint=top_1, log_dir=tmp_path / "logs"))
    assert found.sampled == [found.greedy] * 4 and found.chat_sampled == [found.chat_greedy] * 4


def test_a_transformers_serve_behind_a_url_is_sampled_alike_when_named_with_engine_transformers(tiny_checkpoint,
                                                                                                tmp_path):
    base = with_generation_config(tiny_checkpoint, tmp_path / "base")
    server = start_jeval_serve(base, tmp_path / "serve-logs")
    try:
        try_line = server.process.stdout.readline()
        assert try_line.startswith("try: jeval run --base-url") and "--engine transformers" in try_line
        named = ModelSpec(base_urls=(server.base_url,), model_id=server.model_id, engine="transformers")
        found = answers(named)
        assert len(set(found.sampled)) > 1 and any(answer != found.greedy for answer in found.sampled)
        identity = resolve(named).identity
        assert identity.engine == "transformers-serve" and identity.settings["sampling"] == SAMPLING_RULE
        assert identity.fingerprint == resolve(ModelSpec(checkpoint=base)).identity.fingerprint
        with pytest.raises(JevalError, match="is not a checkpoint folder here"):
            resolve(ModelSpec(base_urls=(server.base_url,), model_id="org/name", engine="transformers"))
    finally:
        stop(server.process)
    with pytest.raises(JevalError, match="--engine vllm with --base-url"):
        ModelSpec(base_urls=(server.base_url,), model_id=server.model_id, engine="vllm")


def test_sampled_requests_carry_do_sample_and_the_whole_vocabulary_where_the_checkpoint_sets_no_top_k(
        tiny_checkpoint, tmp_path):
    base = with_generation_config(tiny_checkpoint, tmp_path / "base")
    assert json.loads(serve_sampling(base)["generation_config"]) == {"do_sample": True, "top_k": 0}
    top_5 = with_generation_config(tiny_checkpoint, tmp_path / "top-5", top_k=5, do_sample=False)
    assert json.loads(serve_sampling(top_5)["generation_config"]) == {"do_sample": True}
    identity = resolve(ModelSpec(checkpoint=base)).identity
    assert identity.engine == "transformers-serve" and identity.settings["sampling"] == SAMPLING_RULE
    in_process = resolve(ModelSpec(checkpoint=base, backend="local")).identity
    assert in_process.settings["sampling"] == SAMPLING_RULE


def test_an_unreadable_generation_config_is_one_clear_error(tiny_checkpoint, tmp_path):
    broken = with_generation_config(tiny_checkpoint, tmp_path / "broken")
    (broken / "generation_config.json").write_text("{not json")
    with pytest.raises(JevalError, match=r"generation_config\.json: not valid JSON"):
        serve_sampling(broken)
    (broken / "generation_config.json").write_text("[1, 2]")
    with pytest.raises(JevalError, match=r"generation_config\.json is not a JSON object"):
        serve_sampling(broken)
