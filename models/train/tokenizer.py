"""Train a Llama-style SentencePiece BPE tokenizer with byte fallback.

Byte fallback means no character is ever unknown: anything the vocabulary lacks (rare kanji,
emoji) is spelled as UTF-8 byte pieces `<0x..>`. Digits are split one per piece, as Japanese
LLM tokenizers commonly do, so numbers tokenize the same way everywhere. With `mecab=True` the
training text is first cut into morphemes by MeCab (fugashi, unidic-lite) and SentencePiece's
`pretokenization_delimiter` learns no piece across those cuts; encoding needs no MeCab.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import sentencepiece as spm
from transformers import LlamaTokenizer, PreTrainedTokenizerBase

from jeval.errors import JevalError

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] + '\n' }}"
    "{% elif message['role'] == 'user' %}{{ 'ユーザー: ' + message['content'] + '\n' }}"
    "{% else %}{{ 'アシスタント: ' + message['content'] + eos_token + '\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'アシスタント: ' }}{% endif %}"
)


MORPHEME_CUT = "\u241f"


def mecab_segmented(texts: Iterable[str]) -> Iterator[str]:
    """Each text with MORPHEME_CUT between MeCab morphemes; the text itself is unchanged otherwise."""
    import fugashi

    tagger = fugashi.Tagger()
    for text in texts:
        yield MORPHEME_CUT.join(w.white_space + w.surface for w in tagger(text))


def train_tokenizer(texts: Iterable[str], vocab_size: int, mecab: bool = False) -> PreTrainedTokenizerBase:
    """Train on `texts` and return a `LlamaTokenizer` (fast, tokenizers-backed) with a chat template."""
    extra: dict[str, Any] = {"pretokenization_delimiter": MORPHEME_CUT} if mecab else {}
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "tokenizer"
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=mecab_segmented(texts) if mecab else iter(texts),
                **extra,
                model_prefix=str(prefix),
                model_type="bpe",
                vocab_size=vocab_size,
                byte_fallback=True,
                split_digits=True,
                character_coverage=0.9995,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                allow_whitespace_only_pieces=True,
                max_sentence_length=1 << 16,
                unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                hard_vocab_limit=False,
                num_threads=2,
                minloglevel=2,
            )
        except RuntimeError as e:
            raise JevalError(f"tokenizer training failed: {str(e).split('] ')[-1]}") from None
        (Path(tmp) / "tokenizer.model").write_bytes(prefix.with_suffix(".model").read_bytes())
        tokenizer = LlamaTokenizer.from_pretrained(tmp, add_bos_token=True, add_eos_token=False, legacy=False)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
