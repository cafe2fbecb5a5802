"""The identity filter: which battle texts name a model (their votes are kept, flagged and shown by
the audit) and which ordinary Japanese and English texts must not be taken for a model's name."""

from __future__ import annotations

import pytest

from jeval.arena.config import parse_config
from jeval.arena.identity import IdentityDetector, names_for

CONFIGURED = ["hinoki-7b", "sakura-3b"]


@pytest.fixture(scope="module")
def detector() -> IdentityDetector:
    return IdentityDetector.build(CONFIGURED)


@pytest.mark.parametrize("text, words", [
    # names followed by a version or size, as models and people write them
    ("Llama3で作られたモデルです", ["llama3"]),
    ("私はLlama-3.1をもとにしています", ["llama-3.1"]),
    ("Qwen2.5と比べてどうですか", ["qwen2.5"]),
    ("GPT4oより賢い？", ["gpt4o"]),
    ("GPT-4oとして答えます", ["gpt-4o"]),
    ("Claude3です", ["claude3"]),
    ("Mistral7Bの日本語は", ["mistral7b"]),
    ("ChatGPT4を使っています", ["chatgpt4"]),
    ("Phi-3-miniは小さい", ["phi-3"]),
    ("ＧＰＴ－４と比べて", ["gpt-4"]),
    ("Claude 3.5 Sonnetです", ["claude 3.5"]),
    # katakana spellings, full and half width, with or without the final long vowel
    ("わたしはジーピーティーです", ["ジーピーティー"]),
    ("ｼﾞｰﾋﾟｰﾃｨｰと呼んで", ["ジーピーティー"]),
    ("ジーピーティフォーです", ["ジーピーティフォー"]),
    ("エライザが開発しました", ["エライザ"]),
    ("クロードです。", ["クロード"]),
    ("ラマ3ベースのモデル", ["ラマ3"]),
    # configured names and the families' other scripts
    ("hinoki-7bさんこんにちは", ["hinoki-7b"]),
    ("通義千問について", ["通義千問"]),
    ("AIりんなと話したい", ["りんな"]),
])
def test_a_model_named_in_any_spelling_is_found(detector, text, words):
    assert detector.find([text]) == words


@pytest.mark.parametrize("text", [
    "メタ認知を鍛える方法",
    "メタ分析の手順を教えて",
    "メタデータの説明",
    "動物園できりんなどを見た",
    "かりんなどの果物",
    "Explain a meta-analysis",
    "Google検索のコツ",
    "グーグルで調べた",
    "ラマとアルパカの違いは？",
    "ダライ・ラマについて",
    "おすすめのドラマは？",
    "Are llamas friendly?",
    "the golden ratio phi",
    "ファイルを開く",
    "クロード・モネの睡蓮",
    "googled the answer",
    "日本で一番高い山は？",
])
def test_ordinary_words_are_not_taken_for_a_model(detector, text):
    assert detector.find([text]) == []


def test_makers_count_only_where_a_model_is_configured_with_them():
    config = parse_config({"models": [
        {"name": "gpt-x", "base_url": "http://127.0.0.1:1/v1", "model": "org/gpt-x", "leak_words": ["OpenAI"]},
        {"name": "swallow-8b", "base_url": "http://127.0.0.1:2/v1", "model": "tokyotech-llm/Llama-3.1-Swallow-8B",
         "aliases": ["スワロー"], "leak_words": ["東工大", "東京科学大学"]}]})
    names = [n for m in config.models for n in names_for(m.name, m.model, (*m.aliases, *m.leak_words))]
    detector = IdentityDetector.build(names, config.vendor_terms)
    assert detector.find(["私はOpenAIによって開発されました"]) == ["openai"]
    assert detector.find(["東工大で作られました"]) == ["東工大"]
    assert detector.find(["Llama-3.1-Swallow-8Bです"]) == ["llama-3.1-swallow-8b"]
    assert IdentityDetector.build(CONFIGURED).find(["私はOpenAIによって開発されました"]) == []


def test_every_name_found_is_reported_once_in_order(detector):
    assert detector.find(["ChatGPTとClaude3の違いは？", "ChatGPTです"]) == ["chatgpt", "claude3"]


def test_leak_words_must_be_a_list_of_words():
    from jeval.errors import JevalError

    with pytest.raises(JevalError, match=r"models\[0\].leak_words: expected a list of words"):
        parse_config({"models": [{"name": "x", "base_url": "u", "model": "m", "leak_words": "OpenAI"},
                                 {"name": "y", "base_url": "u", "model": "m"}]})
