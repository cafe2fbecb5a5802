"""The in-process backend answers in batches: the same answers as one request at a time, each
committed as its batch ends, and smaller batches where memory runs out."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from conftest import error_lines, jeval

from jeval.errors import JevalError
from jeval.models.batching import (
    CPU_ACTIVATION_BUDGET,
    CPU_TOKEN_BUDGET,
    MIN_FILL,
    Budget,
    batches,
    budget_for,
    by_length,
    layer_bytes_per_token,
    parse_batch_size,
    run_fitted,
)
from jeval.models.inprocess import LocalSettings
from jeval.models.local import LocalModel

PAIRS = [("質問：犬は何？\n答え：", "動物です"), ("", "こんにちは"), ("猫は ", "かわいい"),
         ("今日は良い天気です。" * 6, "明日は雨"), ("A", "B"), ("選択肢：0.りんご 1.みかん\n答え：", "1")] * 4
PROMPTS = ["### 指示:\n質問に答えてください。\n\n### 入力:\n猫は何ですか？\n\n### 応答:\n", "犬",
           "今日は良い天気です。明日は", "質問：料理に使う道具は何ですか？\n答え："]


def scored(model: LocalModel, pairs):
    async def go():
        out = {}
        async for i, found in model.loglikelihoods(pairs):
            assert i not in out
            out[i] = found
        return [out[i] for i in range(len(pairs))]

    return asyncio.run(go())


def generated(model: LocalModel, prompts, **settings):
    async def go():
        return await asyncio.gather(*(model.complete(p, **settings) for p in prompts))

    return asyncio.run(go())


@pytest.fixture(scope="module")
def one_at_a_time(tiny_checkpoint):
    """One pair to a row and one row to a pass: lm-eval's unbatched arithmetic."""
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size=1))
    model.sharing = False
    return model


@pytest.fixture(scope="module")
def batched(tiny_checkpoint):
    return LocalModel(tiny_checkpoint, LocalSettings(batch_size=5))


def test_batched_loglikelihoods_equal_one_pass_per_request(one_at_a_time, batched):
    """24 pairs over 6 contexts: after the check of packed rows against separate ones (2 passes),
    6 rows of one context each, longest first, at most 5 to a pass and none of them more than a
    quarter padding."""
    from jeval.models.model import split_pair
    from jeval.models.packing import group_pairs

    before, before_alone = batched.batches_run, one_at_a_time.batches_run
    alone, together = scored(one_at_a_time, PAIRS), scored(batched, PAIRS)
    assert one_at_a_time.batches_run - before_alone == len(PAIRS)
    assert batched.sharing is True
    split = [split_pair(batched.tokenizer, c, x) for c, x in PAIRS]
    rows = [g.length for g in group_pairs(split, [c for c, _ in PAIRS], range(len(PAIRS)), True)]
    assert len(rows) == 6
    assert batched.batches_run - before == 2 + len(list(batches(by_length(rows), rows, Budget(5), MIN_FILL)))
    for a, b in zip(alone, together, strict=True):
        assert b.logprob == pytest.approx(a.logprob, rel=1e-6, abs=1e-5)
        assert b.is_greedy == a.is_greedy
    assert all(a.logprob < 0 for a in alone)


def test_a_batch_is_taken_longest_first_under_its_budget_and_padding_changes_no_score(one_at_a_time, batched):
    lengths = [3, 9, 1, 9, 4]
    assert by_length(lengths) == [1, 3, 4, 0, 2]
    assert list(batches(by_length(lengths), lengths, Budget(2))) == [[1, 3], [4, 0], [2]]
    alike = [8, 8, 7, 6, 6]
    assert list(batches(by_length(alike), alike, Budget(10, tokens=24))) == [[0, 1, 2], [3, 4]]
    short_with_long = [("A", "B"), ("今日は良い天気です。" * 12, "明日は雨")]
    assert scored(batched, short_with_long)[0].logprob == pytest.approx(
        scored(one_at_a_time, short_with_long[:1])[0].logprob, abs=1e-5)


def test_a_scoring_batch_ends_before_a_sequence_that_would_be_more_than_a_quarter_padding():
    lengths = [40, 30, 29, 12, 10, 9]
    assert list(batches(by_length(lengths), lengths, Budget(64), MIN_FILL)) == [[0, 1], [2], [3, 4, 5]]
    assert list(batches(by_length(lengths), lengths, Budget(64))) == [[0, 1, 2, 3, 4, 5]]  # generation's


def test_concurrent_generation_requests_are_answered_together_with_the_same_answers(one_at_a_time, batched):
    settings = {"max_tokens": 12, "stop": ["\n\n"]}
    alone = generated(one_at_a_time, PROMPTS, **settings)
    before = batched.batches_run
    together = generated(batched, PROMPTS, **settings)
    assert batched.batches_run - before <= 2
    assert [c.text for c in together] == [c.text for c in alone]
    assert [c.completion_tokens for c in together] == [c.completion_tokens for c in alone]
    assert [c.finish_reason for c in together] == [c.finish_reason for c in alone]


def test_a_row_that_reaches_its_stop_string_counts_only_its_own_tokens(batched, tiny_checkpoint):
    """The first prompt's answer holds "\\n\\n" at its fifth token; its batch-mates go on to 12."""
    stopped, running = generated(batched, PROMPTS[:2], max_tokens=12, stop=["\n\n"])
    assert stopped.finish_reason == "stop" and stopped.completion_tokens < 12
    plain = generated(batched, PROMPTS[:1], max_tokens=stopped.completion_tokens)[0]
    assert "\n\n" in plain.text and plain.text.startswith(stopped.text)
    assert running.completion_tokens <= 12


def test_a_batch_that_runs_out_of_memory_is_split_and_later_batches_are_smaller():
    """A device running out of memory cannot be caused on purpose here: the step raises torch's
    own OutOfMemoryError for batches of more than two, as a GPU would."""
    seen = []

    def step(items):
        seen.append(len(items))
        if len(items) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [x * 10 for x in items]

    budget = Budget(8)
    assert run_fitted(list(range(8)), 100, step, budget) == [x * 10 for x in range(8)]
    assert seen[0] == 8 and max(seen[1:]) <= 4 and budget.sequences <= 4
    with pytest.raises(JevalError, match="one sequence of 100 tokens does not fit"):
        run_fitted([1], 100, lambda items: (_ for _ in ()).throw(MemoryError()), Budget(1))
    with pytest.raises(ValueError):
        run_fitted([1, 2], 100, lambda items: (_ for _ in ()).throw(ValueError("not memory")), Budget(2))


def test_auto_batches_on_a_cpu_are_capped_by_tokens_and_by_a_layers_activations(tiny_checkpoint):
    from transformers import AutoConfig, LlamaConfig

    budget = budget_for("auto", "cpu", AutoConfig.from_pretrained(tiny_checkpoint), 4)
    assert budget.tokens is not None and 0 < budget.tokens <= CPU_TOKEN_BUDGET
    wide = LlamaConfig(hidden_size=512, intermediate_size=1376)
    wider = budget_for("auto", "cpu", wide, 4)
    assert wider.tokens == CPU_ACTIVATION_BUDGET // layer_bytes_per_token(wide, 4) < budget.tokens
    assert budget_for("auto", "cpu", wide, 2).tokens == 2 * wider.tokens
    assert budget_for(3, "cpu", None, 4) == Budget(3)
    assert parse_batch_size("auto") == "auto" and parse_batch_size("16") == 16
    for bad in ("0", "-2", "many"):
        with pytest.raises(JevalError, match="--batch-size must be a positive whole number or auto"):
            parse_batch_size(bad)


def test_forward_passes_run_with_the_threads_asked(tiny_checkpoint):
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size=2, threads=1))
    assert model._pool.submit(torch.get_num_threads).result() == 1
    assert model.describe()["threads"] == 1 and model.describe()["batch_size"] == 2
    asyncio.run(model.aclose())


def test_local_settings_reject_what_cannot_run():
    with pytest.raises(JevalError, match="--dtype must be one of"):
        LocalSettings(dtype="int3")
    with pytest.raises(JevalError, match="--threads must be 1 or more"):
        LocalSettings(threads=0)


def test_in_process_options_are_recorded_and_dtype_is_part_of_the_identity(tiny_checkpoint, tmp_path):
    from jeval.models.engines import ModelSpec, resolve

    plain = resolve(ModelSpec(checkpoint=tiny_checkpoint, backend="local")).identity
    half = resolve(ModelSpec(checkpoint=tiny_checkpoint, backend="local", local=LocalSettings(dtype="bfloat16")))
    assert plain.settings["dtype"] == "float32" and half.identity.settings["dtype"] == "bfloat16"
    assert plain.cache_identity() != half.identity.cache_identity()
    with pytest.raises(JevalError, match="need --backend local"):
        ModelSpec(checkpoint=tiny_checkpoint, local=LocalSettings(batch_size=4))


@pytest.mark.parametrize(("args", "message"), [
    (["--batch-size", "0"], "argument --batch-size: must be a positive whole number or auto, got '0'"),
    (["--batch-size", "8"], "they need --backend local"),
    (["--backend", "local", "--device", "cuda:3"], "--device cuda:3: this torch build sees no CUDA device"),
])
def test_bad_in_process_options_are_one_line_each(tiny_checkpoint, tmp_path, args, message):
    proc = jeval("run", "--model", str(tiny_checkpoint), "--tasks", "jcommonsenseqa", "--data-dir",
                 str(tmp_path / "data"), "--output", str(tmp_path / "out"), *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in error_lines(proc)[-1]


def test_a_local_run_records_its_batching(tiny_checkpoint, prepared, tmp_path):
    proc = jeval("run", "--model", str(tiny_checkpoint), "--backend", "local", "--batch-size", "3", "--threads", "1",
                 "--tasks", "jcommonsenseqa", "--limit", "4", "--data-dir", str(prepared),
                 "--cache", str(tmp_path / "cache.sqlite"), "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(next((tmp_path / "out").rglob("results.json")).read_text())
    backend = results["backend"]
    assert backend["batch_size"] == 3 and backend["threads"] == 1 and backend["batches"] >= 2
    assert results["config"]["local"] == {"device": None, "dtype": "auto", "batch_size": 3, "threads": 1}


def test_a_row_stops_at_its_own_stop_strings_not_at_its_batch_mates(one_at_a_time, batched):
    async def together():
        return await asyncio.gather(batched.complete(PROMPTS[0], max_tokens=12, stop=["\n\n"]),
                                    batched.complete(PROMPTS[0], max_tokens=12, stop=["ZZZ"]))

    stopped, going_on = asyncio.run(together())
    alone = generated(one_at_a_time, PROMPTS[:1], max_tokens=12, stop=["ZZZ"])[0]
    assert stopped.finish_reason == "stop" and "\n\n" in going_on.text
    assert (going_on.text, going_on.completion_tokens) == (alone.text, alone.completion_tokens) and \
        going_on.completion_tokens == 12


@pytest.mark.parametrize(("context", "continuation"), [
    ("質問：犬は何？\n答え：", "動物です"), ("猫は ", "かわいい"), ("Question: 2+2?\nAnswer:  ", "4"),
    ("今日は", " 良い天気"), ("選択肢\n", "1"),
])
def test_pairs_are_split_into_tokens_as_lm_eval_splits_them(tiny_checkpoint, context, continuation):
    """lm-eval's own HF model (with the BOS token jeval's engines add) is the reference."""
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer

    from jeval.models.model import split_pair

    reference = HFLM(pretrained=str(tiny_checkpoint), device="cpu", add_bos_token=True)
    context_ids, continuation_ids = reference._encode_pair(context, continuation)
    whole, n_context = split_pair(AutoTokenizer.from_pretrained(tiny_checkpoint), context, continuation)
    assert (whole[:n_context], whole[n_context:]) == (context_ids, continuation_ids)


def test_perplexity_windows_are_scored_from_hidden_states_with_the_full_passes_numbers(tiny_checkpoint):
    """Row by row from the decoder's hidden states (no batch-wide logits held): the same sums to the
    last bit as from the model's own logits; a model whose logits are not its output layer's (here
    scaled, as Gemma-2 caps them) is scored from its full forward pass."""
    import random

    from transformers import AutoModelForCausalLM

    from jeval.models.local import _same_logits, _scored_logits, score_windows
    from jeval.models.model import Window

    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval()
    rng = random.Random(0)
    windows = [Window(tuple(rng.randrange(4, 3999) for _ in range(rng.randint(20, 120))), rng.randint(1, 15))
               for _ in range(12)]

    class Scaled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def get_decoder(self):
            return self.inner.get_decoder()

        def get_output_embeddings(self):
            return self.inner.get_output_embeddings()

        def forward(self, **inputs):
            out = self.inner(**inputs)
            out.logits = out.logits * 0.5
            return out

    ids = torch.tensor([windows[0].ids[:8]])
    assert _same_logits(model, _scored_logits(model), ids)
    assert not _same_logits(Scaled(model), _scored_logits(Scaled(model)), ids)
    with torch.inference_mode():
        expected = []
        for w in windows:
            logits = model(input_ids=torch.tensor([w.ids])).logits[0, w.score_from - 1:-1]
            expected.append(float(torch.nn.functional.cross_entropy(logits, torch.tensor(w.ids[w.score_from:]),
                                                                    reduction="sum")))
    assert score_windows(model, windows, 4) == pytest.approx(expected, rel=1e-6)
    halved = score_windows(Scaled(model), windows, 4)
    assert halved != pytest.approx(expected, rel=1e-3)


def test_choices_are_scored_from_the_output_layer_at_their_own_positions_with_the_full_passes_numbers(
        tiny_checkpoint):
    """The output layer is applied to the positions that predict a continuation only (no batch-wide
    logits are made); the scores are those of the model's own full logits, shared rows or not."""
    split_head = LocalModel(tiny_checkpoint, LocalSettings(batch_size=5))
    full = LocalModel(tiny_checkpoint, LocalSettings(batch_size=5))
    full._head_known = True
    for sharing in (True, False):
        split_head.sharing = full.sharing = sharing
        expected = scored(full, PAIRS)
        found = scored(split_head, PAIRS)
        assert [f.logprob for f in found] == pytest.approx([e.logprob for e in expected], rel=1e-6, abs=1e-6)
        assert [f.is_greedy for f in found] == [e.is_greedy for e in expected]
    assert split_head._head is not None and full._head is None


def test_a_batch_that_fails_fails_its_own_callers_and_the_next_batch_still_runs(tiny_checkpoint, monkeypatch):
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size=1))
    real, calls = model._generate_batch, []

    def first_fails(batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("the device went away")
        return real(batch)

    monkeypatch.setattr(model, "_generate_batch", first_fails)

    async def both():
        return await asyncio.gather(model.complete(PROMPTS[1], max_tokens=4), model.complete(PROMPTS[2], max_tokens=4),
                                    return_exceptions=True)

    results = asyncio.run(both())
    [failed] = [r for r in results if isinstance(r, Exception)]
    [answered] = [r for r in results if not isinstance(r, Exception)]
    assert isinstance(failed, RuntimeError) and "went away" in str(failed)
    assert answered.completion_tokens >= 1 and calls == [1, 1]
    asyncio.run(model.aclose())
