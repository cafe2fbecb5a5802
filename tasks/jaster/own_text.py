"""The prompt text of jeval's own Jaster protocol, `jeval-jaster-1`: data only.

Jaster's prompts under protocol `llm-jp-eval-1.4.1` take their header sentence and each dataset's
instruction from llm-jp-eval's own source files (see upstream.py), so they cannot be built without
those files. This module holds the text of a second protocol that needs no upstream file: the
header sentence and the 29 instructions below are the jeval project's own wording, written for
jeval and not taken from llm-jp-eval. A model's prompts, and therefore its scores, differ between
the two protocols, so results are recorded under the protocol name `jeval-jaster-1` and never
averaged or compared as one with `llm-jp-eval-1.4.1` results.

What is not wording is shared with llm-jp-eval: each instruction asks for exactly the answer form
that the dataset's converter (tasks/jaster/<dataset>.py) writes as the reference output, and the
output lengths (max new tokens) and metric names are llm-jp-eval v1.4.1's values as known to
jeval, the same values the test fixtures' stand-in processor modules carry.

The frame itself is assembled elsewhere: HEADER, then `### 指示:` and the instruction, then the
`### 入力:` / `### 応答:` pairs.
"""

from __future__ import annotations

from jeval.tasks.jaster.upstream import OutputInfo

PROTOCOL = "jeval-jaster-1"

HEADER = "指示に従い、入力に対する応答を書いてください。"

# wiki_ner's categories: rhoknp's NamedEntityCategory values -> the IREX definition's Japanese names.
NE_NAMES: dict[str, str] = {
    "ORGANIZATION": "組織名",
    "PERSON": "人名",
    "LOCATION": "地名",
    "ARTIFACT": "固有物名",
    "DATE": "日付表現",
    "TIME": "時刻表現",
    "MONEY": "金額表現",
    "PERCENT": "割合表現",
}

TEXTS: dict[str, OutputInfo] = {
    # NLI
    "jamp": OutputInfo(
        "「前提：」の文が正しいとき「仮説：」の文がどうなるかを、時間の前後関係に注意して判定してください。"
        "仮説が必ず正しいならentailment、必ず誤りならcontradiction、どちらとも決まらないならneutralとだけ答えてください。",
        3, ("exact_match",)),
    "janli": OutputInfo(
        "「前提：」の文が正しいとき、「仮説：」の文も必ず正しいと言えるかを判定してください。"
        "言えるならentailment、言えないならnon-entailmentとだけ答えてください。",
        7, ("exact_match",)),
    "jnli": OutputInfo(
        "「前提：」の文と「仮説：」の文の関係を判定してください。"
        "前提から仮説が導けるならentailment、前提と仮説が矛盾するならcontradiction、どちらでもないならneutralと、"
        "この三語のうち一つだけを答えてください。",
        3, ("exact_match",)),
    "jsem": OutputInfo(
        "「前提：」の内容から「仮説：」の文が成り立つかを判定してください。"
        "成り立つならyes、成り立たないならno、どちらとも言えないならunknown、真偽そのものが定まらないならundefと、"
        "いずれか一語だけで答えてください。",
        3, ("exact_match",)),
    "jsick": OutputInfo(
        "「前提：」と「仮説：」の二文を比べてください。前提が正しければ仮説も正しいときはentailment、"
        "仮説が誤りになるときはcontradiction、どちらとも決まらないときはneutralとし、その一語以外は書かないでください。",
        3, ("exact_match",)),
    # QA
    "jemhopqa": OutputInfo(
        "「質問：」の問いに、必要な知識を組み合わせて答えてください。答えは短い語句だけで書き、"
        "はいかいいえで答える問いにはYESかNOのどちらかだけを書いてください。",
        15, ("char_f1",)),
    "niilc": OutputInfo(
        "「質問：」の問いに、答えとなる語句だけを簡潔に書いてください。"
        "答えが複数ある場合は、コンマ（,）で区切って並べてください。",
        180, ("char_f1",)),
    "aio": OutputInfo(
        "「質問：」のクイズの答えとなる語句を書いてください。説明は付けず、答えだけを書いてください。",
        50, ("char_f1",)),
    # RC
    "jsquad": OutputInfo(
        "「文章：」の本文を読み、「質問：」の答えになる部分を本文からそのまま抜き出してください。"
        "抜き出した語句以外は書かないでください。",
        25, ("char_f1",)),
    # MC
    "jcommonsenseqa": OutputInfo(
        "最も適切な選択肢を選び、その番号（0〜4）だけを答えてください。",
        1, ("exact_match",)),
    "commonsensemoralja": OutputInfo(
        "「文章：」に書かれた行いが、一般的な道徳観から見て許されるかを判断してください。"
        "許されるなら0、道徳的に誤っているなら1と、数字一文字だけで答えてください。",
        3, ("exact_match",)),
    "kuci": OutputInfo(
        "「文脈：」の後に続く内容として最も自然なものを「選択肢：」から一つ選び、その番号（0から3）だけを答えてください。",
        1, ("exact_match",)),
    # EL
    "chabsa": OutputInfo(
        "「文章：」の中で評価の対象になっている語句と、それに対する評価の極性（positive、negative、neutralのいずれか）を"
        "組にして挙げてください。一組を「対象 極性」のように半角スペースで区切って一行に書き"
        "（例：売上高 positive）、組が複数あれば改行して続け、それ以外は書かないでください。",
        191, ("set_f1",)),
    # FA
    "wiki_reading": OutputInfo(
        "入力された文章全体の読みを、ひらがなで書いてください。"
        "漢字やカタカナは読みに直し、句読点などの記号はそのまま残して、読み以外は書かないでください。",
        512, ("char_f1",)),
    "wiki_ner": OutputInfo(
        f"文章に現れる固有表現を、{'、'.join(NE_NAMES.values())}の八種類について、現れる順にすべて挙げてください。"
        "一つを「表現（種類）」と書き、複数あれば半角スペースで区切って一行に並べ"
        "（例：表現A（人名） 表現B（組織名））、それ以外は書かないでください。",
        256, ("set_f1",)),
    "wiki_dependency": OutputInfo(
        "文章を文節に区切り、係り先のある文節ごとに「文節 -> 係り先の文節」の形で一行ずつ、"
        "文章に現れる順に書いてください（例：文節A -> 文節B）。"
        "文節は助詞や句読点も含めて本文のとおりに書き、それ以外は書かないでください。",
        512, ("set_f1",)),
    "wiki_pas": OutputInfo(
        "文章中の述語ごとに、述語とその項を一行に書いてください。"
        "述語の後に半角スペースを置き、格と項を全角コロン（：）でつないで、ガ、デ、ト、ニ、ヘ、ヲ、カラ、ガ２、"
        "マデ、ヨリの順に半角スペースで区切って続けてください（例：述語A ガ：項B ヲ：項C）。",
        512, ("set_f1",)),
    "wiki_coreference": OutputInfo(
        "文章中で同じものを指している表現をまとめ、まとまりごとに一行で、表現を現れる順に半角スペースで区切って"
        "書いてください（例：表現A 表現B）。ほかのどの表現とも同じものを指さない表現は書かないでください。",
        256, ("set_f1",)),
    # MR
    "mawps": OutputInfo(
        "「問題：」の文章題を解き、答えの数値だけを書いてください。式や単位、説明は書かないでください。",
        10, ("exact_match",)),
    "mgsm": OutputInfo(
        "「質問：」の算数の問題を解き、答えの数値だけを桁区切りのコンマを付けずに書いてください。"
        "途中の計算や単位は書かないでください。",
        10, ("exact_match",)),
    # MT
    "alt-e-to-j": OutputInfo(
        "入力された英文を自然な日本語に翻訳してください。訳した文以外は何も書かないでください。",
        250, ("bleu_ja", "comet_wmt22")),
    "alt-j-to-e": OutputInfo(
        "入力された日本語の文を英語に翻訳してください。英訳した文以外は何も書かないでください。",
        500, ("bleu_en", "comet_wmt22")),
    "wikicorpus-e-to-j": OutputInfo(
        "入力された英語の文章を日本語に翻訳し、改行を入れずに一続きで書いてください。訳文以外は何も書かないでください。",
        300, ("bleu_ja", "comet_wmt22")),
    "wikicorpus-j-to-e": OutputInfo(
        "入力された日本語の文章を英語に翻訳し、改行を入れずに一続きで書いてください。英訳以外は何も書かないでください。",
        550, ("bleu_en", "comet_wmt22")),
    # HE
    "mmlu_en": OutputInfo(
        "「Question:」の問いの正解を「Choices:」から一つ選び、その記号（A、B、C、Dのいずれか）だけを答えてください。",
        5, ("exact_match",)),
    "jmmlu": OutputInfo(
        "「質問：」の問いの正解を「選択肢：」から一つ選び、その記号（A、B、C、Dのいずれか）だけを答えてください。",
        5, ("exact_match",)),
    # CG
    "mbpp": OutputInfo(
        "入力の課題を解くPythonの関数を書いてください。「### テストケース:」のassert文がすべて通るようにし、"
        "説明やコードブロックの記号（```）を付けず、空行を入れずにコードだけを書いてください。",
        1000, ("code_exec", "pylint_check")),
    # SUM
    "xlsum_ja": OutputInfo(
        "入力されたニュース記事の要点を、一、二文の短い日本語にまとめてください。改行を入れずに要約文だけを書いてください。",
        512, ("rouge2",)),
    # STS
    "jsts": OutputInfo(
        "「文1：」と「文2：」の意味がどれほど近いかを、0.0（まったく異なる）から5.0（同じ意味）までの数値で評価してください。"
        "小数第一位までの数値だけを答えてください。",
        3, ("pearson", "spearman")),
}
