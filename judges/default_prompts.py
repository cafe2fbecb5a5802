"""jeval's own judge prompt set, `jeval-ja-v1`, written for this project in Japanese.

Records have FastChat's judge-prompt fields (name, type, category, output_format, system_prompt,
prompt_template) so that the same code reads them and the upstream sets. Templates use the
same placeholders as FastChat's; the turn-2 prompts show the whole dialogue and ask about the
second answer; the reference-guided ones show the reference answer(s).
"""

from __future__ import annotations

NAME = "jeval-ja-v1"

_SYSTEM = "あなたはAIアシスタントの回答を採点する、公正で厳密な審査員です。"

_SINGLE_RULES = (
    "採点では、質問の意図にどれだけ応えているか、内容の正しさ、役に立つ度合い、具体性と深さ、"
    "そして日本語として自然かどうかを考えてください。質問と異なる言語で答えている場合は減点します。"
    "まず短く理由を述べ、最後の行に1から10の整数を二重の角括弧で囲んで「評価：[[7]]」の形で書いてください。"
)
_REF_RULES = (
    "模範解答を基準にして、回答の誤りを具体的に指摘してください。結論や数値が模範解答と食い違う場合は、"
    "説明の丁寧さにかかわらず大きく減点します。"
)
_PAIR_RULES = (
    "二つの回答を比べ、質問の意図にどれだけ応えているか、正しさ、役に立つ度合い、具体性と深さ、日本語の自然さを"
    "考えてください。提示された順番、回答の長さ、アシスタントの名前に判断を左右されないでください。"
    "まず短く比較の理由を述べてください。"
)
_PAIR3_FORMAT = (
    "最後の行に、アシスタントAが優れていれば[[A]]、アシスタントBが優れていれば[[B]]、"
    "同等であれば[[C]]と書いてください。"
)
_PAIR5_FORMAT = (
    "最後の行に、次の五つのうち一つだけを書いてください：Aがはるかに優れている[[A>>B]]、Aがやや優れている[[A>B]]、"
    "同等[[A=B]]、Bがやや優れている[[B>A]]、Bがはるかに優れている[[B>>A]]。"
)

_ONE_TURN = "【質問】\n{question}\n\n【アシスタントの回答】\n{answer}\n【回答ここまで】"
_ONE_TURN_REF = (
    "【質問】\n{question}\n\n【模範解答】\n{ref_answer_1}\n【模範解答ここまで】\n\n"
    "【アシスタントの回答】\n{answer}\n【回答ここまで】"
)
_DIALOGUE = (
    "【対話】\n〈ユーザー〉\n{question_1}\n\n〈アシスタント〉\n{answer_1}\n\n"
    "〈ユーザー〉\n{question_2}\n\n〈アシスタント〉\n{answer_2}\n【対話ここまで】"
)
_DIALOGUE_REF = (
    "【模範解答】\n〈ユーザー〉\n{question_1}\n\n〈模範解答〉\n{ref_answer_1}\n\n"
    "〈ユーザー〉\n{question_2}\n\n〈模範解答〉\n{ref_answer_2}\n【模範解答ここまで】\n\n" + _DIALOGUE
)
_PAIR_ONE = (
    "【質問】\n{question}\n\n【アシスタントAの回答】\n{answer_a}\n【Aの回答ここまで】\n\n"
    "【アシスタントBの回答】\n{answer_b}\n【Bの回答ここまで】"
)
_PAIR_ONE_REF = "【模範解答】\n{ref_answer_1}\n【模範解答ここまで】\n\n" + _PAIR_ONE
_PAIR_DIALOGUE = (
    "【アシスタントAとユーザーの対話】\n〈ユーザー〉\n{question_1}\n\n〈アシスタントA〉\n{answer_a_1}\n\n"
    "〈ユーザー〉\n{question_2}\n\n〈アシスタントA〉\n{answer_a_2}\n【Aの対話ここまで】\n\n"
    "【アシスタントBとユーザーの対話】\n〈ユーザー〉\n{question_1}\n\n〈アシスタントB〉\n{answer_b_1}\n\n"
    "〈ユーザー〉\n{question_2}\n\n〈アシスタントB〉\n{answer_b_2}\n【Bの対話ここまで】"
)
_PAIR_DIALOGUE_REF = (
    "【模範解答】\n〈ユーザー〉\n{question_1}\n\n〈模範解答〉\n{ref_answer_1}\n\n"
    "〈ユーザー〉\n{question_2}\n\n〈模範解答〉\n{ref_answer_2}\n【模範解答ここまで】\n\n" + _PAIR_DIALOGUE
)
_SECOND_TURN = "対話のうち、二つ目のユーザーの発言に対するアシスタントの回答を採点してください。"
_SECOND_TURN_PAIR = "対話のうち、二つ目のユーザーの発言に対する回答を比べてください。"


def _single(name: str, category: str, instruction: str, body: str) -> dict[str, str]:
    return {"name": name, "type": "single", "category": category, "output_format": "[[rating]]",
            "system_prompt": _SYSTEM, "prompt_template": f"【指示】\n{instruction}\n\n{body}",
            "description": "jeval's own Japanese prompt"}


def _pair(name: str, category: str, output_format: str, instruction: str, body: str) -> dict[str, str]:
    return {"name": name, "type": "pairwise", "category": category, "output_format": output_format,
            "system_prompt": _SYSTEM, "prompt_template": f"【指示】\n{instruction}\n\n{body}",
            "description": "jeval's own Japanese prompt"}


def records() -> list[dict[str, str]]:
    one = "以下の質問に対するAIアシスタントの回答を採点してください。"
    pair = "以下の質問に対する二人のAIアシスタントの回答を比べてください。"
    return [
        _single("single-v1", "general", one + _SINGLE_RULES, _ONE_TURN),
        _single("single-math-v1", "math", one + _REF_RULES + _SINGLE_RULES, _ONE_TURN_REF),
        _single("single-v1-multi-turn", "general", _SECOND_TURN + _SINGLE_RULES, _DIALOGUE),
        _single("single-math-v1-multi-turn", "math", _SECOND_TURN + _REF_RULES + _SINGLE_RULES, _DIALOGUE_REF),
        _pair("pair-v2", "general", "[[A]]", pair + _PAIR_RULES + _PAIR3_FORMAT, _PAIR_ONE),
        _pair("pair-math-v1", "math", "[[A]]", pair + _REF_RULES + _PAIR_RULES + _PAIR3_FORMAT, _PAIR_ONE_REF),
        _pair("pair-v2-multi-turn", "general", "[[A]]", _SECOND_TURN_PAIR + _PAIR_RULES + _PAIR3_FORMAT,
              _PAIR_DIALOGUE),
        _pair("pair-math-v1-multi-turn", "math", "[[A]]",
              _SECOND_TURN_PAIR + _REF_RULES + _PAIR_RULES + _PAIR3_FORMAT, _PAIR_DIALOGUE_REF),
        _pair("pair5-v1", "general", "[[A>>B]]", pair + _PAIR_RULES + _PAIR5_FORMAT, _PAIR_ONE),
        _pair("pair5-math-v1", "math", "[[A>>B]]", pair + _REF_RULES + _PAIR_RULES + _PAIR5_FORMAT, _PAIR_ONE_REF),
        _pair("pair5-v1-multi-turn", "general", "[[A>>B]]", _SECOND_TURN_PAIR + _PAIR_RULES + _PAIR5_FORMAT,
              _PAIR_DIALOGUE),
        _pair("pair5-math-v1-multi-turn", "math", "[[A>>B]]",
              _SECOND_TURN_PAIR + _REF_RULES + _PAIR_RULES + _PAIR5_FORMAT, _PAIR_DIALOGUE_REF),
    ]
