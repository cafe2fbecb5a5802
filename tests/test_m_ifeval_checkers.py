"""M-IFEval's Japanese instruction checks, as upstream (lightblue-tech/M-IFEval) decides them:
each of the 33 `ja:*` instructions with responses that follow it and responses that do not,
upstream's quirks included; the loose mode's response variants; and the errors for unknown ids
and bad arguments."""

from __future__ import annotations

from typing import Any

import pytest

from jeval.errors import JevalError
from jeval.tasks.m_ifeval.checks import (
    INSTRUCTION_IDS,
    BadInstructionArgs,
    IfevalItem,
    UnknownInstruction,
    follows,
    loose_variants,
    validate,
)


def item(instruction_id: str, key: int = 1, **kwargs: Any) -> IfevalItem:
    return IfevalItem(key=key, prompt="（プロンプト）", instruction_ids=(instruction_id,), kwargs=(kwargs,))


def strict(instruction_id: str, response: str, **kwargs: Any) -> bool:
    [verdict] = follows(item(instruction_id, **kwargs), response)
    return verdict


# (instruction id, kwargs, response, follows?) — every id appears with True and with False.
CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    # keywords: words are Janome token surfaces
    ("ja:keywords:existence", {"keywords": ["猫", "海"]}, "猫と海が好きです。", True),
    ("ja:keywords:existence", {"keywords": ["猫", "海"]}, "猫が好きです。", False),
    ("ja:keywords:existence", {"keywords": ["海"]}, "海外に行きます。", False),  # 海外 is one token
    ("ja:keywords:existence", {"keywords": ["秘密の特訓"]}, "秘密の特訓をした。", False),  # several tokens: never found
    ("ja:keywords:frequency", {"keyword": "猫", "frequency": 2, "relation": "以上"}, "猫が来た。猫が寝た。", True),
    ("ja:keywords:frequency", {"keyword": "猫", "frequency": 2, "relation": "以上"}, "猫が来た。", False),
    ("ja:keywords:frequency", {"keyword": "猫", "frequency": 2, "relation": "未満"}, "猫が来た。", True),
    ("ja:keywords:frequency", {"keyword": "猫", "frequency": 2, "relation": "未満"}, "猫が来た。猫が寝た。", False),
    ("ja:keywords:forbidden_words", {"forbidden_words": ["海", "雨"]}, "山に登った。", True),
    ("ja:keywords:forbidden_words", {"forbidden_words": ["海", "雨"]}, "海外旅行に行った。", True),
    ("ja:keywords:forbidden_words", {"forbidden_words": ["海", "雨"]}, "海で泳いだ。", False),
    # a letter counts with its katakana twin
    ("ja:keywords:letter_frequency", {"letter": "し", "let_frequency": 3, "let_relation": "以上"}, "しかしシカ", True),
    ("ja:keywords:letter_frequency", {"letter": "し", "let_frequency": 3, "let_relation": "以上"}, "しかし", False),
    ("ja:keywords:letter_frequency", {"letter": "し", "let_frequency": 3, "let_relation": "未満"}, "しかし", True),
    # language: langdetect; a text it cannot judge counts as followed
    ("ja:language:response_language", {"language": "fr"},
     "Bonjour à tous, je vous remercie pour votre aide précieuse et votre patience.", True),
    ("ja:language:response_language", {"language": "fr"}, "皆さん、いつも助けてくれてありがとう。", False),
    ("ja:language:response_language", {"language": "fr"}, "12345 !!! ???", True),
    # sentences: lines, then 。!? (full- or half-width) outside 「」 and ()
    ("ja:length_constraints:number_sentences", {"num_sentences": 3, "relation": "以上"}, "晴れ。雨！曇り？", True),
    ("ja:length_constraints:number_sentences", {"num_sentences": 3, "relation": "以上"}, "晴れ。「雨。曇り。」", False),
    ("ja:length_constraints:number_sentences", {"num_sentences": 2, "relation": "未満"}, "見出し\n本文です。", False),
    ("ja:length_constraints:number_sentences", {"num_sentences": 2, "relation": "未満"}, "これは私の\n本です。", True),
    # paragraphs divided by ***
    ("ja:length_constraints:number_paragraphs", {"num_paragraphs": 2}, "一つ目。\n***\n二つ目。", True),
    ("ja:length_constraints:number_paragraphs", {"num_paragraphs": 2}, "***\n一つ目。\n***\n二つ目。\n***", True),
    ("ja:length_constraints:number_paragraphs", {"num_paragraphs": 2}, "一つ目。\n***\n\n***\n二つ目。", False),
    ("ja:length_constraints:number_paragraphs", {"num_paragraphs": 2}, "一つ目。\n\n二つ目。", False),
    # letters: len() of the response
    ("ja:length_constraints:number_letters", {"num_letters": 5, "relation": "以上"}, "こんにちは", True),
    ("ja:length_constraints:number_letters", {"num_letters": 5, "relation": "未満"}, "こんにちは", False),
    ("ja:length_constraints:number_letters", {"num_letters": 5, "relation": "未満"}, "はい。", True),
    # paragraphs divided by a blank line; the nth one starts with the word (after 「 or 『)
    ("ja:length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "猫"},
     "犬の話。\n\n「猫は可愛い」と思う。", True),
    ("ja:length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "猫"},
     "犬の話。\n\n犬は可愛い。", False),
    ("ja:length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "猫"},
     "犬の話。\n\n猫の話。\n\n鳥の話。", False),
    ("ja:length_constraints:nth_paragraph_first_word", {"num_paragraphs": 1, "nth_paragraph": 1, "first_word": "Cat"},
     "Cat food.", False),  # the first word is lowercased
    ("ja:length_constraints:nth_paragraph_first_word", {"num_paragraphs": 1, "nth_paragraph": 1, "first_word": "Cat"},
     "cat food.", True),
    # placeholders in half-width brackets
    ("ja:detectable_content:number_placeholders", {"num_placeholders": 2}, "[名前]様、[日付]に伺います。", True),
    ("ja:detectable_content:number_placeholders", {"num_placeholders": 2}, "［名前］様、［日付］に伺います。", False),
    # postscript: the marker anywhere, case ignored
    ("ja:detectable_content:postscript", {"postscript_marker": "P.S."}, "本文です。\np. s. また会いましょう。", True),
    ("ja:detectable_content:postscript", {"postscript_marker": "P.S."}, "本文です。\nPS また会いましょう。", False),
    ("ja:detectable_content:postscript", {"postscript_marker": "追伸"}, "本文です。追伸：お元気で。", True),
    ("ja:detectable_content:postscript", {"postscript_marker": "P.P.S"}, "本文。\nP.P.S お元気で。", True),
    ("ja:detectable_content:postscript", {"postscript_marker": "P.P.S."}, "本文。\nP.P.S お元気で。", False),  # literal
    # bullets start with ・
    ("ja:detectable_format:number_bullet_lists", {"num_bullets": 2}, "果物：\n・りんご\n  ・みかん", True),
    ("ja:detectable_format:number_bullet_lists", {"num_bullets": 2}, "・りんご\n・みかん\n・ぶどう", False),
    ("ja:detectable_format:number_bullet_lists", {"num_bullets": 2}, "- りんご\n- みかん", False),
    # numbered items: digits, a half-width dot, white space
    ("ja:detectable_format:number_numbered_lists", {"num_items": 2}, "1. 起きる\n2. 食べる", True),
    ("ja:detectable_format:number_numbered_lists", {"num_items": 2}, "1.起きる\n2.食べる", False),
    ("ja:detectable_format:number_numbered_lists", {"num_items": 2}, "1）起きる\n2）食べる", False),
    ("ja:detectable_format:constrained_response", {}, "はい、そうです。理由は次の通りです。", True),
    ("ja:detectable_format:constrained_response", {}, "はい。", False),
    ("ja:detectable_format:number_highlighted_sections", {"num_highlights": 2}, "《重要》と《注意》を読む。", True),
    ("ja:detectable_format:number_highlighted_sections", {"num_highlights": 2}, "《重要》と《 》を読む。", False),
    ("ja:detectable_format:number_highlighted_sections", {"num_highlights": 2}, "**重要**と**注意**", False),
    # sections: 第<digits><splitter>, half- or full-width digits
    ("ja:detectable_format:multiple_sections", {"section_spliter": "章", "num_sections": 2},
     "第1章\n始まり\n第２章\n終わり", True),
    ("ja:detectable_format:multiple_sections", {"section_spliter": "章", "num_sections": 2},
     "第一章\n始まり\n第二章\n終わり", False),
    ("ja:detectable_format:multiple_sections", {"section_spliter": "節", "num_sections": 2},
     "第1章\n始まり\n第2章\n終わり", False),
    ("ja:detectable_format:json_format", {}, '```json\n{"猫": 1}\n```', True),
    ("ja:detectable_format:json_format", {}, '{"猫": [1, 2]}', True),
    ("ja:detectable_format:json_format", {}, "{'猫': 1}", False),
    ("ja:detectable_format:json_format", {}, '以下がJSONです。\n{"猫": 1}', False),
    ("ja:detectable_format:title", {}, "『春の歌』\n桜が咲く。", True),
    ("ja:detectable_format:title", {}, "「春の歌」\n桜が咲く。", False),
    ("ja:detectable_format:title", {}, "『 』\n桜が咲く。", False),
    # 体言止め: a noun right before 。！？, outside quotes
    ("ja:detectable_format:nominal_ending", {"count": 2}, "青い空。白い雲。", True),
    ("ja:detectable_format:nominal_ending", {"count": 2}, "空は青い。雲は白い。", False),
    ("ja:detectable_format:nominal_ending", {"count": 2}, "「青い空。白い雲。」と彼は言った。", False),
    ("ja:combination:two_responses", {}, "答えその一\n******\n答えその二", True),
    ("ja:combination:two_responses", {}, "答えその一\n******\n答えその一", False),
    ("ja:combination:two_responses", {}, "答えその一\n******\n\n******\n答えその二", False),
    ("ja:combination:repeat_prompt", {"prompt_to_repeat": "猫を教えて。"}, "猫を教えて。\n猫は動物です。", True),
    ("ja:combination:repeat_prompt", {"prompt_to_repeat": "猫を教えて。"}, "はい。猫を教えて。", False),
    ("ja:startend:end_checker", {"end_phrase": "以上です。"}, "説明します。以上です。」\n", True),
    ("ja:startend:end_checker", {"end_phrase": "以上です。"}, "以上です。何かあれば。", False),
    # every piece between 。！？ ends with the ending; quoted spans left out
    ("ja:startend:sentence_unified_end", {"ending": "です"}, "晴れです。「雨だ。」と言ったのです。", True),
    # a heading joins the sentence after it
    ("ja:startend:sentence_unified_end", {"ending": "です"}, "見出し\n晴れです！", True),
    ("ja:startend:sentence_unified_end", {"ending": "です"}, "晴れです。雨だ。", False),
    # the line break after the last 。 is a piece of its own
    ("ja:startend:sentence_unified_end", {"ending": "です"}, "晴れです。\n", False),
    ("ja:startend:quotation", {}, "  「こんにちは」\n", True),
    ("ja:startend:quotation", {}, "『こんにちは』", False),
    ("ja:startend:quotation", {}, "「", False),
    # letters
    ("ja:letters:furigana", {}, "漢字（かんじ）を読（よ）む。", True),
    ("ja:letters:furigana", {}, "漢字（かんじ）を読む。", False),
    ("ja:letters:furigana", {}, "漢字(かんじ)", False),  # half-width parentheses
    ("ja:letters:furigana", {}, "人々（ひとびと）", False),  # 々 is not a kanji: 人 has no reading right after it
    ("ja:letters:kansuuji", {}, "三つの林檎と二十本の鉛筆。", True),
    ("ja:letters:kansuuji", {}, "3つの林檎。", False),
    ("ja:letters:kansuuji", {}, "３つの林檎。", False),
    ("ja:letters:no_katakana", {}, "ひらがなと漢字ー・", True),
    ("ja:letters:no_katakana", {}, "カタカナ", False),
    ("ja:letters:no_katakana", {}, "ｶﾀｶﾅ", False),
    ("ja:letters:katakana_only", {}, "コンニチハ、セカイ！ ３２１", True),
    ("ja:letters:katakana_only", {}, "コンニチハ世界", False),
    ("ja:letters:katakana_only", {}, "ヴァイオリン", False),  # ヴ is past ン
    ("ja:letters:no_hiragana", {}, "漢字ト片仮名ノミ。", True),
    ("ja:letters:no_hiragana", {}, "漢字と片仮名", False),
    ("ja:letters:hiragana_only", {}, "こんにちは、せかい！ らーめん 123", True),
    ("ja:letters:hiragana_only", {}, "こんにちは世界", False),
    ("ja:letters:hiragana_only", {}, "こんにちは abc", False),
    # kanji counted one by one in U+4E00..U+9FAF (々 is not one)
    ("ja:letters:kanji", {"kanji_limit": 3, "relation": "未満"}, "人々の国", True),
    ("ja:letters:kanji", {"kanji_limit": 3, "relation": "未満"}, "日本語", False),
    ("ja:letters:kanji", {"kanji_limit": 3, "relation": "以上"}, "日本語", True),
    ("ja:punctuation:no_comma", {}, "はい，そうです, ok。", True),
    ("ja:punctuation:no_comma", {}, "はい、そうです。", False),
    ("ja:punctuation:no_period", {}, "はい．そうです. ok", True),
    ("ja:punctuation:no_period", {}, "はい。", False),
]


@pytest.mark.parametrize(
    "instruction_id,kwargs,response,expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_an_instruction_is_followed_as_upstream_decides(instruction_id, kwargs, response, expected):
    assert strict(instruction_id, response, **kwargs) is expected


def test_every_instruction_id_has_a_following_and_a_not_following_case():
    covered = {(case[0], case[3]) for case in CASES}
    assert {(instruction_id, verdict) for instruction_id in INSTRUCTION_IDS for verdict in (True, False)} <= covered
    assert len(INSTRUCTION_IDS) == 33
    assert all(instruction_id.startswith("ja:") for instruction_id in INSTRUCTION_IDS)


def test_each_instruction_of_an_item_gets_its_own_verdict_in_order():
    several = IfevalItem(
        key=7,
        prompt="（プロンプト）",
        instruction_ids=("ja:punctuation:no_comma", "ja:punctuation:no_period", "ja:letters:kansuuji"),
        kwargs=({}, {}, {}),
    )
    assert follows(several, "はい、三つです") == [False, True, True]


def test_a_blank_response_follows_nothing():
    assert follows(item("ja:punctuation:no_period"), "") == [False]
    assert follows(item("ja:punctuation:no_period"), " \n\n ", loose=True) == [False]


# --- loose mode -----------------------------------------------------------------------------------


def test_loose_variants_are_upstreams_eight_in_order():
    response = "**前置き**\n本文*です*\n結び"
    assert loose_variants(response) == [
        response,
        "前置き\n本文です\n結び",
        "本文*です*\n結び",
        "**前置き**\n本文*です*",
        "本文*です*",
        "本文です\n結び",
        "前置き\n本文です",
        "本文です",
    ]


def test_loose_variants_of_one_line_drop_to_blank():
    assert loose_variants("一行") == ["一行", "一行", "", "", "", "", "", ""]


def test_loose_mode_forgives_a_first_line_a_last_line_and_asterisks():
    quotation = item("ja:startend:quotation")
    with_intro = "以下が答えです：\n「こんにちは」"
    assert follows(quotation, with_intro) == [False]
    assert follows(quotation, with_intro, loose=True) == [True]

    with_outro = "「こんにちは」\n以上です。"
    assert follows(quotation, with_outro, loose=True) == [True]

    emphasised = "**「こんにちは」**"
    assert follows(quotation, emphasised) == [False]
    assert follows(quotation, emphasised, loose=True) == [True]

    unified = item("ja:startend:sentence_unified_end", ending="です")
    assert follows(unified, "晴れです。\n") == [False]
    assert follows(unified, "晴れです。\n", loose=True) == [True]  # the variant without the last (empty) line


def test_loose_mode_still_fails_what_no_variant_fixes():
    quotation = item("ja:startend:quotation")
    assert follows(quotation, "前置き\nこんにちは\n結び", loose=True) == [False]


# --- errors ---------------------------------------------------------------------------------------


def test_an_unknown_instruction_id_names_the_id_and_the_item():
    unknown = item("ja:letters:romaji_only", key=42)
    with pytest.raises(UnknownInstruction, match=r"item 42.*'ja:letters:romaji_only'") as raised:
        validate(unknown)
    assert isinstance(raised.value, JevalError)
    with pytest.raises(UnknownInstruction):
        follows(unknown, "こんにちは")


@pytest.mark.parametrize(
    "instruction_id,kwargs,complaint",
    [
        ("ja:letters:kanji", {"kanji_limit": 3, "relation": "less than"}, "'relation'"),
        ("ja:letters:kanji", {"relation": "未満"}, "'kanji_limit' is missing"),
        ("ja:letters:kanji", {"kanji_limit": "3", "relation": "未満"}, "'kanji_limit' must be an integer"),
        ("ja:letters:kanji", {"kanji_limit": -1, "relation": "未満"}, "'kanji_limit' must be an integer >= 0"),
        ("ja:punctuation:no_comma", {"strict": True}, "unexpected argument"),
        ("ja:keywords:letter_frequency", {"letter": "カ", "let_frequency": 2, "let_relation": "以上"}, "one hiragana"),
        ("ja:keywords:existence", {"keywords": []}, "non-empty list"),
        ("ja:keywords:frequency", {"keyword": " ", "frequency": 2, "relation": "以上"}, "non-empty string"),
        ("ja:language:response_language", {"language": "xx"}, "'language'"),
        ("ja:length_constraints:nth_paragraph_first_word",
         {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "猫"}, "exceeds"),
    ],
)
def test_bad_arguments_are_refused_with_a_one_line_message(instruction_id, kwargs, complaint):
    bad = item(instruction_id, key=9, **kwargs)
    with pytest.raises(BadInstructionArgs) as raised:
        validate(bad)
    message = str(raised.value)
    assert isinstance(raised.value, JevalError)
    assert complaint in message and "item 9" in message and instruction_id in message
    assert "\n" not in message


def test_kwargs_and_ids_must_pair_up():
    unpaired = IfevalItem(key=3, prompt="p", instruction_ids=("ja:punctuation:no_comma",), kwargs=())
    with pytest.raises(JevalError, match="item 3"):
        validate(unpaired)


def test_an_item_from_a_data_line_drops_unset_arguments():
    record = {
        "key": 5,
        "prompt": "読点を使わずに答えてください。",
        "instruction_id_list": ["ja:punctuation:no_comma", "ja:letters:kanji"],
        "kwargs": [{"kanji_limit": None}, {"kanji_limit": 10, "relation": "以上", "num_bullets": None}],
    }
    loaded = IfevalItem.from_record(record)
    assert loaded == IfevalItem(
        key=5,
        prompt="読点を使わずに答えてください。",
        instruction_ids=("ja:punctuation:no_comma", "ja:letters:kanji"),
        kwargs=({}, {"kanji_limit": 10, "relation": "以上"}),
    )
    validate(loaded)
    with pytest.raises(JevalError, match="'instruction_id_list' is missing"):
        IfevalItem.from_record({"key": 6, "prompt": "p", "kwargs": []})
