"""The tiny preset's checkpoint, and the in-process transformers backend."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from jeval.models.local import LocalModel


@pytest.fixture(scope="module")
def local(tiny_checkpoint):
    return LocalModel(tiny_checkpoint)


def test_checkpoint_is_a_plain_hugging_face_llama_folder(tiny_checkpoint):
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert config["hidden_size"] // config["num_attention_heads"] == 64
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                 "generation_config.json"):
        assert (tiny_checkpoint / name).is_file(), name
    summary = json.loads((tiny_checkpoint / "jeval_train.json").read_text())
    assert summary["final_loss"] < summary["first_loss"] - 1.0


def test_tokenizer_handles_any_japanese_text_by_byte_fallback(tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    text = "今日は良い天気です。鬱蒼とした森🌲、ＡＢＣ and English 12345\n\n### 応答:\n"
    ids = tokenizer(text, add_special_tokens=False).input_ids
    assert tokenizer.decode(ids) == text
    assert tokenizer.unk_token_id not in ids
    assert any(t.startswith("<0x") for t in tokenizer.convert_ids_to_tokens(ids))
    assert len(ids) < len(text.encode("utf-8"))
    assert tokenizer("犬").input_ids[0] == tokenizer.bos_token_id


def test_chat_template_ends_turns_with_eos(tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "こんにちは"}, {"role": "assistant", "content": "はい。"}], tokenize=False
    )
    assert "こんにちは" in text and f"はい。{tokenizer.eos_token}" in text
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "こんにちは"}], tokenize=False,
                                           add_generation_prompt=True)
    assert prompt.endswith("アシスタント: ")


def test_loglikelihood_matches_a_direct_forward_pass(local, tiny_checkpoint):
    context, continuation = "質問：犬は何？\n答え：", "動物です"
    got = asyncio.run(local.loglikelihood(context, continuation))
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    ctx = tokenizer(context).input_ids
    whole = tokenizer(context + continuation).input_ids
    assert whole[: len(ctx)] == ctx
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0]
    logprobs = torch.log_softmax(logits, -1)
    expected = sum(logprobs[i - 1, whole[i]].item() for i in range(len(ctx), len(whole)))
    assert got.logprob == pytest.approx(expected, abs=1e-4)
    assert got.logprob < 0


def test_local_greedy_generation_equals_the_served_answer(local, served):
    from jeval.models.client import ClientConfig, OpenAIClient

    prompt = "### 指示:\n質問に答えてください。\n\n### 入力:\n猫は何ですか？\n\n### 応答:\n"

    async def go():
        async with OpenAIClient(ClientConfig((served.base_url,), served.model_id)) as client:
            return await client.complete(prompt, max_tokens=6), await local.complete(prompt, max_tokens=6)

    remote, here = asyncio.run(go())
    assert here.text == remote.text
    assert here.completion_tokens == remote.completion_tokens
