"""vLLM in process (`jeval.models.vllm_offline.VllmOfflineModel`): the same answers as a vLLM
server reached over HTTP (`ServedModel`), requests batched into shared `LLM.generate` calls,
log-likelihoods streamed chunk by chunk, over-long requests refused one by one, and a one-line
error where vLLM is not installed.

vLLM needs an NVIDIA GPU and cannot be installed here, so these tests run on a test double of the
`vllm` package (tests/vllm_doubles.py): vLLM's offline API with its names and shapes, computing
real numbers with the tiny checkpoint on the CPU. The HTTP side is a loopback server answering as
`vllm serve` does from that same engine, so both of jeval's ways to vLLM meet one engine; the
real vLLM is checked on a GPU machine.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import weakref
from pathlib import Path

import pytest
import torch
import vllm_doubles

from jeval.errors import ItemRejected, JevalError
from jeval.models import vllm_offline
from jeval.models.engines import ModelSpec, ServedModel, resolve
from jeval.models.model import LogLikelihood, Window, split_pair
from jeval.models.vllm_offline import VllmOfflineModel, VllmSettings

JA_WEB = Path(__file__).parents[1] / "models" / "train" / "examples" / "data" / "ja_web.jsonl"

PAIRS = [
    ("", "日本の首都は東京です。"),
    ("質問: 日本の首都はどこですか?\n答え: ", "東京"),
    ("The capital of Japan is", " Tokyo"),
    ("吾輩は猫である。名前は", "まだ無い。"),
    ("質問：木がたくさん生えている場所はどこですか？　答え：", "山です。"),
    ("She drinks green tea every", " morning."),
    ("鍋で", "スープを煮ます。"),
    ("1 + 1 = ", "2"),
]
"""An empty context, contexts ending in a space, Japanese and English."""
PROMPTS = ["質問：木がたくさん生えている場所はどこですか？　答え：", "She drinks green tea", "料理人は",
           "ノートが20冊あります。"]


@pytest.fixture(scope="module")
def vllm_double():
    with pytest.MonkeyPatch.context() as patch:
        yield vllm_doubles.install(patch)


@pytest.fixture(scope="module")
def offline(vllm_double, tiny_checkpoint):
    model = VllmOfflineModel(tiny_checkpoint)
    yield model
    asyncio.run(model.aclose())


def vllm_server(vllm_double, checkpoint: Path, **llm_args):
    """A `vllm serve`-style server over the double and how jeval resolves it (`--base-url`)."""
    server = vllm_doubles.VllmStyleServer(vllm_double.LLM(str(checkpoint), **llm_args), str(checkpoint))
    return server, resolve(ModelSpec(base_urls=(server.url,), model_id=str(checkpoint)))


@pytest.fixture(scope="module")
def served(vllm_double, tiny_checkpoint):
    server, resolved = vllm_server(vllm_double, tiny_checkpoint)
    yield resolved
    server.close()


def on_both(offline, resolved, work):
    """`work(model)` on the in-process engine, then on the same engine over HTTP."""
    async def both():
        http = ServedModel(resolved)
        try:
            return await work(offline), await work(http)
        finally:
            await http.aclose()

    return asyncio.run(both())


async def all_loglikelihoods(model, pairs) -> dict[int, LogLikelihood]:
    if isinstance(model, VllmOfflineModel):
        return {i: found async for i, found in model.loglikelihoods(pairs)}
    return {i: await model.loglikelihood(*pair) for i, pair in enumerate(pairs)}


def run_together(coroutines) -> list:
    async def together():
        return await asyncio.gather(*coroutines)

    return asyncio.run(together())


def greedy_pair(offline) -> tuple[str, str]:
    """A context and the text the model itself continues it with (greedy)."""
    context = PAIRS[4][0]
    found = asyncio.run(offline.complete(context, max_tokens=3))
    return context, found.text


def longest_prompt(offline) -> str:
    """The prompt the model answers at greatest length (at least 3 tokens)."""
    lengths = {p: asyncio.run(offline.complete(p, max_tokens=24)).completion_tokens for p in PROMPTS}
    longest = max(PROMPTS, key=lengths.__getitem__)
    assert lengths[longest] > 2, f"the tiny checkpoint answers every prompt in 2 tokens or fewer: {lengths}"
    return longest


def corpus_ids(tokenizer, n: int = 120) -> list[int]:
    text = "".join(json.loads(line)["text"] for line in JA_WEB.read_text(encoding="utf-8").splitlines()[:5])
    return tokenizer(text).input_ids[:n]


def test_without_vllm_installed_building_the_engine_fails_with_one_line_saying_how_to_install_it(
        monkeypatch, tiny_checkpoint):
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(JevalError) as failed:
        VllmOfflineModel(tiny_checkpoint)
    assert "\n" not in str(failed.value)
    assert "vLLM, which is not installed: pip install '.[vllm]'" in str(failed.value)


def test_log_likelihoods_equal_those_the_http_path_reads_from_the_same_engine(offline, served):
    pairs = [*PAIRS, greedy_pair(offline)]
    in_process, over_http = on_both(offline, served, lambda model: all_loglikelihoods(model, pairs))
    assert sorted(in_process) == list(range(len(pairs)))
    assert in_process == over_http
    one_by_one = run_together(offline.loglikelihood(*pair) for pair in pairs)
    assert [in_process[i] for i in range(len(pairs))] == list(one_by_one)


def test_log_likelihoods_are_the_continuation_log_probabilities_of_one_forward_pass(offline, tiny_checkpoint):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    pairs = [*PAIRS, greedy_pair(offline)]
    found = asyncio.run(all_loglikelihoods(offline, pairs))
    for i, (context, continuation) in enumerate(pairs):
        ids, n_context = split_pair(offline.tokenizer, context, continuation)
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
        targets = torch.tensor(ids[n_context:])
        predicted = logprobs[n_context - 1:len(ids) - 1]
        assert found[i].logprob == pytest.approx(float(predicted.gather(1, targets[:, None]).sum()), rel=1e-5, abs=1e-5)
        assert found[i].is_greedy == bool((predicted.argmax(-1) == targets).all())


def test_perplexity_windows_equal_the_http_paths_and_the_models_own_loss(offline, served, tiny_checkpoint):
    from transformers import AutoModelForCausalLM

    ids = corpus_ids(offline.tokenizer)
    windows = [Window(tuple(ids[:48]), 1), Window(tuple(ids[16:64]), 32), Window(tuple(ids[40:120]), 8),
               Window(tuple(ids[:2]), 1)]
    in_process, over_http = on_both(offline, served, lambda model: model.window_nll(windows))
    assert in_process == over_http
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    for window, nll in zip(windows, in_process, strict=True):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([window.ids])).logits[0].float()
        expected = torch.nn.functional.cross_entropy(logits[window.score_from - 1:-1],
                                                     torch.tensor(window.ids[window.score_from:]), reduction="sum")
        assert nll == pytest.approx(float(expected), rel=1e-5)


def test_greedy_generation_equals_the_http_paths_and_stops_where_a_stop_string_starts(offline, served):
    unconstrained = [asyncio.run(offline.complete(p, max_tokens=24)) for p in PROMPTS]
    stops = [[c.text[len(c.text) // 2]] if c.text else None for c in unconstrained]
    assert any(stops), "the tiny checkpoint answered every prompt with nothing"

    async def answers(model):
        completions = [await model.complete(p, max_tokens=24, stop=s) for p, s in zip(PROMPTS, stops)]
        chats = [await model.chat([{"role": "user", "content": p}], max_tokens=24, stop=s)
                 for p, s in zip(PROMPTS, stops)]
        return completions, chats

    in_process, over_http = on_both(offline, served, answers)
    assert in_process == over_http
    for free, stopped, stop in zip(unconstrained, in_process[0], stops, strict=True):
        if stop:
            assert stopped.text == free.text[:free.text.index(stop[0])]
            assert stopped.finish_reason == "stop"


def test_an_answer_cut_by_max_tokens_ends_with_length_on_both_paths(offline, served):
    longest = longest_prompt(offline)
    in_process, over_http = on_both(offline, served, lambda model: model.complete(longest, max_tokens=2))
    assert in_process == over_http
    assert (in_process.finish_reason, in_process.completion_tokens) == ("length", 2)


SAMPLINGS = [({"repetition_penalty": 1.8}, 0.0), ({"presence_penalty": 1.5, "frequency_penalty": 1.0}, 0.0),
             ({"top_k": 1}, 1.0), ({"min_p": 1.0}, 1.0), ({"top_p": 1e-6}, 1.0)]
"""Penalties, which change greedy answers, and narrowing settings that leave sampling at
temperature 1 only the most likely token, so that its answers are the greedy ones."""


def test_sampling_settings_reach_the_engine_on_both_paths(offline, vllm_double, tiny_checkpoint):
    server, resolved = vllm_server(vllm_double, tiny_checkpoint)
    greedy = [asyncio.run(offline.complete(p, max_tokens=12)).text for p in PROMPTS]
    try:
        for sampling, temperature in SAMPLINGS:
            async def answers(model, sampling=sampling, temperature=temperature):
                return [(await model.complete(p, max_tokens=12, temperature=temperature, sampling=sampling)).text
                        for p in PROMPTS]

            in_process, over_http = on_both(offline, resolved, answers)
            assert in_process == over_http, sampling
            assert (in_process == greedy) == (temperature > 0), sampling
    finally:
        server.close()
    sent = {k for body in server.seen for k in body}
    assert {"repetition_penalty", "presence_penalty", "frequency_penalty", "top_k", "min_p", "top_p"} <= sent, \
        "each went in the request body, as vLLM's server reads it"
    with pytest.raises(ItemRejected, match=r"presence_penalty must be in \[-2, 2\]"):
        asyncio.run(offline.complete(PROMPTS[0], max_tokens=2, sampling={"presence_penalty": 3.0}))


def test_the_checkpoints_generation_config_caps_max_tokens_as_vllm_serve_does(offline, vllm_double,
                                                                              tiny_checkpoint, tmp_path):
    longest = longest_prompt(offline)
    checkpoint = tmp_path / "capped"
    shutil.copytree(tiny_checkpoint, checkpoint)
    config = json.loads((checkpoint / "generation_config.json").read_text())
    (checkpoint / "generation_config.json").write_text(json.dumps({**config, "max_new_tokens": 2}))
    model = VllmOfflineModel(checkpoint)
    server, resolved = vllm_server(vllm_double, checkpoint)
    try:
        in_process, over_http = on_both(model, resolved, lambda m: m.complete(longest, max_tokens=24))
    finally:
        server.close()
        asyncio.run(model.aclose())
    assert model.generation_defaults["max_tokens"] == 2
    assert in_process == over_http
    assert (in_process.finish_reason, in_process.completion_tokens) == ("length", 2)


def test_concurrent_requests_share_one_generate_call_and_get_the_answers_they_get_alone(offline):
    prompts = [f"{p}{i}" for i in range(6) for p in PROMPTS]
    alone = [asyncio.run(offline.complete(p, max_tokens=6)) for p in prompts]
    before = len(offline.llm.batches)

    async def together():
        return await asyncio.gather(*(offline.complete(p, max_tokens=6) for p in prompts))

    assert asyncio.run(together()) == alone
    assert offline.llm.batches[before:] == [len(prompts)]


def test_requests_that_arrive_while_a_batch_runs_make_the_next_batch(offline):
    llm = offline.llm
    before = len(llm.batches)

    async def arriving_late():
        llm.proceed.clear()
        try:
            first = asyncio.ensure_future(offline.complete(PROMPTS[0], max_tokens=4))
            assert await asyncio.to_thread(llm.running.wait, 60)
            later = [asyncio.ensure_future(offline.chat([{"role": "user", "content": p}], max_tokens=4))
                     for p in PROMPTS]
            await asyncio.sleep(0.05)
        finally:
            llm.proceed.set()
        return await first, await asyncio.gather(*later)

    asyncio.run(arriving_late())
    assert llm.batches[before:] == [1, len(PROMPTS)]


def test_log_likelihoods_stream_chunk_by_chunk_in_index_order(offline, monkeypatch):
    monkeypatch.setattr(vllm_offline, "STREAM_CHUNK", 3)
    pairs = PAIRS * 2
    llm = offline.llm
    before = len(llm.batches)

    async def streamed():
        return [(i, found, len(llm.batches) - before) async for i, found in offline.loglikelihoods(pairs)]

    got = asyncio.run(streamed())
    assert [i for i, _, _ in got] == list(range(len(pairs)))
    alone = run_together(offline.loglikelihood(*pair) for pair in pairs)
    assert [found for _, found, _ in got] == list(alone)
    batches_seen = [seen for _, _, seen in got]
    assert batches_seen[:3] == [1, 1, 1], "the first chunk's answers came before the next chunk was computed"
    assert llm.batches[before:before + batches_seen[-1]] == [3, 3, 3, 3, 3, 1]
    assert asyncio.run(streamed_list(offline.loglikelihoods([]))) == []


async def streamed_list(stream) -> list:
    return [item async for item in stream]


def test_a_request_longer_than_the_context_is_refused_alone_on_both_paths(vllm_double, tiny_checkpoint):
    model = VllmOfflineModel(tiny_checkpoint, VllmSettings(max_model_len=24))
    server, resolved = vllm_server(vllm_double, tiny_checkpoint, max_model_len=24)
    long_prompt = "吾輩は猫である。名前はまだ無い。" * 6

    async def mixed(m):
        return await asyncio.gather(m.complete(PROMPTS[2], max_tokens=4), m.complete(long_prompt, max_tokens=4),
                                    m.complete(PROMPTS[3], max_tokens=4), return_exceptions=True)

    try:
        in_process, over_http = on_both(model, resolved, mixed)

        async def streamed():
            found: list[int] = []
            try:
                async for i, _ in model.loglikelihoods([PAIRS[2], (long_prompt, "。"), PAIRS[5]]):
                    found.append(i)
            except ItemRejected as e:
                return found, e
            return found, None

        scored, refused = asyncio.run(streamed())
    finally:
        server.close()
        asyncio.run(model.aclose())
    for answers in (in_process, over_http):
        assert isinstance(answers[1], ItemRejected)
        assert not isinstance(answers[0], BaseException) and not isinstance(answers[2], BaseException)
    assert in_process[0] == over_http[0] and in_process[2] == over_http[2]
    assert "24 tokens" in str(in_process[1]) and "\n" not in str(in_process[1])
    assert scored == [0, 2] and isinstance(refused, ItemRejected)


def test_a_request_vllm_refuses_inside_a_batch_fails_alone(offline):
    async def mixed():
        return await asyncio.gather(offline.complete(PROMPTS[1], max_tokens=4),
                                    offline.window_nll([Window((1, 10**7, 5), 1)]),
                                    offline.complete(PROMPTS[2], max_tokens=4), return_exceptions=True)

    first, refused, last = asyncio.run(mixed())
    assert isinstance(refused, ItemRejected) and "out of vocabulary" in str(refused)
    assert first == asyncio.run(offline.complete(PROMPTS[1], max_tokens=4))
    assert last == asyncio.run(offline.complete(PROMPTS[2], max_tokens=4))


def test_settings_reach_vllm_and_describe_names_the_engine(vllm_double, tiny_checkpoint):
    settings = VllmSettings(dtype="bfloat16", seed=7, max_model_len=64, gpu_memory_utilization=0.5,
                            engine_args={"enforce_eager": True})
    model = VllmOfflineModel(tiny_checkpoint, settings)
    try:
        asyncio.run(model.complete(PROMPTS[0], max_tokens=2))
        described = model.describe()
        assert model.llm.engine_args == {"enforce_eager": True, "gpu_memory_utilization": 0.5,
                                         "tensor_parallel_size": 1}
        assert model.llm.seed == 7
    finally:
        asyncio.run(model.aclose())
    assert described["engine"] == "vllm-offline" and described["mode"] == "in-process"
    assert described["vllm_version"] == vllm_double.__version__
    assert (described["dtype"], described["device"], described["max_model_len"]) == ("bfloat16", "cpu", 64)
    assert described["batches"] == 1
    assert described["generation_defaults"] == {"temperature": 0.7, "top_p": 0.95, "max_tokens": 256}
    assert model.usage.requests == 1 and model.usage.completion_tokens <= 2


def test_closing_frees_the_engine_and_later_requests_fail_with_one_line(vllm_double, tiny_checkpoint):
    model = VllmOfflineModel(tiny_checkpoint)
    engine = weakref.ref(model.llm)
    teardown = vllm_double.distributed.parallel_state.calls
    before = len(teardown)
    asyncio.run(model.aclose())
    assert engine() is None
    assert teardown[before:] == ["destroy_model_parallel", "destroy_distributed_environment"]
    with pytest.raises(JevalError, match="was closed"):
        asyncio.run(model.complete(PROMPTS[0], max_tokens=2))
    asyncio.run(model.aclose())


@pytest.mark.parametrize("settings", [dict(gpu_memory_utilization=1.5), dict(dtype="fp8"),
                                      dict(tensor_parallel_size=0), dict(max_model_len=1)])
def test_bad_settings_are_one_line_errors(settings):
    with pytest.raises(JevalError):
        VllmSettings(**settings)


def test_what_vllm_refuses_at_start_is_a_one_line_error(vllm_double, tiny_checkpoint, tmp_path):
    with pytest.raises(JevalError, match=r"vLLM could not start .*max_model_len") as failed:
        VllmOfflineModel(tiny_checkpoint, VllmSettings(max_model_len=10**6))
    assert "\n" not in str(failed.value)
    with pytest.raises(JevalError, match="does not exist"):
        VllmOfflineModel(tmp_path / "missing")


def test_messages_the_chat_template_cannot_render_fail_alone(offline):
    async def mixed():
        return await asyncio.gather(offline.chat([{"role": "user"}], max_tokens=4),
                                    offline.chat([{"role": "user", "content": PROMPTS[0]}], max_tokens=4),
                                    return_exceptions=True)

    refused, answered = asyncio.run(mixed())
    assert isinstance(refused, ItemRejected) and "chat template" in str(refused)
    assert answered == asyncio.run(offline.chat([{"role": "user", "content": PROMPTS[0]}], max_tokens=4))


def test_backend_local_with_engine_vllm_runs_the_offline_engine_under_its_own_identity(
        vllm_double, offline, tiny_checkpoint, monkeypatch):
    """`--backend local --engine vllm` on a GPU machine (the GPU is what the double cannot give:
    its presence is stated here) resolves to vllm-offline, loads it on the first request, and
    answers as the engine does when built directly."""
    from jeval.models import server
    from jeval.models.engines import InProcessModel
    from jeval.models.inprocess import LocalSettings

    monkeypatch.setattr(server, "gpu_available", lambda: True)
    resolved = resolve(ModelSpec(checkpoint=tiny_checkpoint, backend="local", engine="vllm"))
    served_identity = resolve(ModelSpec(checkpoint=tiny_checkpoint, engine="vllm")).identity
    assert resolved.identity.engine == "vllm-offline" and served_identity.engine == "vllm"
    assert resolved.identity.cache_identity() != served_identity.cache_identity()
    model = InProcessModel(resolved)
    assert model.describe()["model_loaded"] is False
    pair = PAIRS[0]
    found = asyncio.run(model.loglikelihood(*pair))
    assert found == asyncio.run(offline.loglikelihood(*pair))
    assert model.describe()["engine"] == "vllm-offline" and model.describe()["mode"] == "in-process"
    asyncio.run(model.aclose())
    with pytest.raises(JevalError, match="--batch-size, --threads: the in-process vLLM engine schedules"):
        resolve(ModelSpec(checkpoint=tiny_checkpoint, backend="local", engine="vllm",
                          local=LocalSettings(batch_size=8, threads=2)))
