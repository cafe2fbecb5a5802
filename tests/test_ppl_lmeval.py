"""The ppl task's two conventions against lm-eval 0.4.13 itself, in this process: jeval's default
scores what `HFLM.loglikelihood_rolling` scores with `add_bos_token=False` and a `max_length` one
less than jeval's context length; `convention="lm-eval"` scores what it scores with its defaults,
on a tokenizer that adds BOS (so each document starts BOS BOS there). Same token windows, same
tokens read by the model, same summed log-likelihood to float rounding."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from transformers import PretrainedConfig

from jeval.tasks.ppl.conventions import CONVENTIONS, LmEvalConvention
from jeval.tasks.ppl.score import evaluate_corpus

FIXTURES = Path(__file__).parent / "fixtures" / "ppl"
JA_WEB = Path(__file__).parents[1] / "models" / "train" / "examples" / "data" / "ja_web.jsonl"
MAX_LENGTH = 64
"""lm-eval's max_length here: small, so that the longer documents span several windows."""


def documents() -> list[str]:
    """The ppl fixtures, one long document from the trainer's examples, and the edge cases: a text
    that starts with the BOS token's own text, a one-character text and an empty one."""
    fixtures = [json.loads(line)["text"] for line in (FIXTURES / "ja.jsonl").read_text(encoding="utf-8").splitlines()]
    long = "".join(json.loads(line)["text"] for line in JA_WEB.read_text(encoding="utf-8").splitlines()[:12])
    return [*fixtures, (FIXTURES / "en.txt").read_text(encoding="utf-8"), long, "<s>はじめから BOS の文字列", "猫", ""]


def bits_per_byte(nll: float, texts: list[str]) -> float:
    return nll / math.log(2) / sum(len(t.encode("utf-8")) for t in texts)


@pytest.fixture(scope="module")
def lm_eval_models(tiny_checkpoint):
    """lm-eval's HFLM on the tiny checkpoint, with its defaults and with add_bos_token=False (a
    batch of 4 instead of its default 1: batching does not change which tokens are scored)."""
    from lm_eval.models.huggingface import HFLM

    return {name: HFLM(pretrained=str(tiny_checkpoint), device="cpu", batch_size=4, max_length=MAX_LENGTH, **kwargs)
            for name, kwargs in (("defaults", {}), ("no_bos", {"add_bos_token": False}))}


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval(), AutoTokenizer.from_pretrained(tiny_checkpoint)


def rolling_nll(lm, texts: list[str]) -> float:
    from lm_eval.api.instance import Instance

    requests = [Instance("loglikelihood_rolling", {}, (text,), i) for i, text in enumerate(texts)]
    return -sum(lm.loglikelihood_rolling(requests, disable_tqdm=True))


def test_the_fixture_tokenizer_adds_bos(tiny):
    _, tokenizer = tiny
    assert tokenizer("猫").input_ids[0] == tokenizer.bos_token_id is not None


def test_document_tokens_are_lm_evals_prefix_then_its_encoding(lm_eval_models, tiny):
    _, tokenizer = tiny
    defaults, no_bos = lm_eval_models["defaults"], lm_eval_models["no_bos"]
    for text in documents():
        assert CONVENTIONS["lm-eval"].document_ids(tokenizer, text) == [defaults.prefix_token_id,
                                                                        *defaults.tok_encode(text)]
        assert CONVENTIONS["jeval"].document_ids(tokenizer, text) == [no_bos.prefix_token_id, *no_bos.tok_encode(text)]
    bos = tokenizer.bos_token_id
    assert CONVENTIONS["lm-eval"].document_ids(tokenizer, "猫")[:2] == [bos, bos]
    assert CONVENTIONS["lm-eval"].document_ids(tokenizer, "<s>猫").count(bos) == 2  # the text's own BOS only


def lm_eval_windows(token_list: list[int], prefix: int, max_length: int) -> list[tuple[list[int], list[int]]]:
    """What HFLM.loglikelihood_rolling feeds its model for a document: lm-eval's own window
    functions, then `_loglikelihood_tokens`' cut to the last max_length + 1 tokens (the model
    reads all but the last of them and is scored on the continuation)."""
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    out = []
    for context, continuation in map(make_disjoint_window,
                                      get_rolling_token_windows(token_list, prefix, max_length, context_len=1)):
        out.append(((context + continuation)[-(max_length + 1):], continuation))
    return out


@pytest.mark.parametrize("n_tokens", [0, 1, 2, 5, 63, 64, 65, 66, 127, 128, 129, 200, 1000])
@pytest.mark.parametrize("max_length", [1, 2, 3, 8, 64])
def test_windows_are_lm_evals_rolling_windows(n_tokens, max_length):
    tokens = list(range(100, 100 + n_tokens))
    lm_eval = CONVENTIONS["lm-eval"]
    ids = [0, *tokens]
    ours = [(ids[w.start:w.end], ids[w.first:w.end]) for w in lm_eval.windows(len(ids), max_length, max_length)]
    assert ours == lm_eval_windows(tokens, 0, max_length)
    # jeval's own windows, one token longer, are the same windows (the tokens differ, not the cuts)
    jeval = CONVENTIONS["jeval"]
    assert [(ids[w.start:w.end], ids[w.first:w.end]) for w in jeval.windows(len(ids), max_length + 1, max_length)] \
        == ours


@pytest.mark.parametrize("convention,lm_eval_model,length", [("lm-eval", "defaults", MAX_LENGTH),
                                                             ("jeval", "no_bos", MAX_LENGTH + 1)])
def test_bits_per_byte_equal_lm_evals_rolling_loglikelihood(convention, lm_eval_model, length, lm_eval_models, tiny):
    model, tokenizer = tiny
    texts = documents()
    ours = evaluate_corpus(model, tokenizer, texts, max_length=length, batch_size=4, convention=convention)
    theirs = rolling_nll(lm_eval_models[lm_eval_model], texts)
    assert ours.windows > len(texts)  # the longer documents took several windows
    assert ours.bits_per_byte == pytest.approx(bits_per_byte(theirs, texts), rel=1e-6, abs=0)
    assert ours.nll == pytest.approx(theirs, rel=1e-6, abs=0)


def test_the_two_conventions_differ_where_the_tokenizer_adds_bos(lm_eval_models, tiny):
    """The gap issue 22 found: lm-eval's defaults score each document's second BOS, and windows
    shift by one token; neither equals the other convention."""
    model, tokenizer = tiny
    texts = documents()
    ours = evaluate_corpus(model, tokenizer, texts, max_length=MAX_LENGTH + 1)
    lm_eval = evaluate_corpus(model, tokenizer, texts, max_length=MAX_LENGTH, convention="lm-eval")
    # one more scored token per document, the BOS, except where the text starts with BOS's own text
    assert lm_eval.tokens == ours.tokens + sum(1 for t in texts if not t.startswith("<s>")) == ours.tokens + 9
    assert abs(lm_eval.bits_per_byte / ours.bits_per_byte - 1) > 1e-3


def test_default_length_is_read_as_lm_eval_reads_it(tiny):
    from lm_eval.models.utils import resolve_max_length

    model, tokenizer = tiny
    lm_eval = LmEvalConvention()
    assert lm_eval.default_length(model.config, tokenizer) == resolve_max_length(model.config, tokenizer)

    class Limited:
        model_max_length = 512

    class Unlimited:
        model_max_length = 1000000000000000019884624838656

    bare = PretrainedConfig()
    for config in (bare, PretrainedConfig(n_ctx=300), PretrainedConfig(text_config=PretrainedConfig(n_positions=99))):
        for tok in (Limited(), Unlimited()):
            assert lm_eval.default_length(config, tok) == resolve_max_length(config, tok)
    assert lm_eval.default_length(bare, Unlimited()) == 2048


def test_lm_eval_convention_takes_no_stride(tiny):
    from jeval.errors import JevalError

    model, tokenizer = tiny
    with pytest.raises(JevalError, match=r"ppl\.stride does not apply to the lm-eval convention"):
        evaluate_corpus(model, tokenizer, ["猫"], max_length=8, stride=4, convention="lm-eval")
    with pytest.raises(JevalError, match="convention must be jeval or lm-eval"):
        evaluate_corpus(model, tokenizer, ["猫"], max_length=8, convention="lm_eval")
