"""A small Japanese corpus written by the jeval project, for the tiny preset.

Nothing here is downloaded or taken from elsewhere: documents are generated deterministically
from the word lists and sentence templates below. The aim is only that a tokenizer sees ordinary
Japanese (hiragana, katakana, kanji, full-width punctuation, some English and digits) and that a
tiny model learns the shape of a five-choice question and of a chat turn.
"""

from __future__ import annotations

import random

ANIMALS = (("犬", "ワンワンと鳴きます", "散歩が好きです", "ワンワンと鳴く"),
           ("猫", "ニャーと鳴きます", "よく日なたで寝ます", "ニャーと鳴く"),
           ("牛", "モーと鳴きます", "牧場で草を食べます", "モーと鳴く"),
           ("馬", "速く走ります", "人を乗せて歩きます", "人を乗せて走る"),
           ("鳥", "空を飛びます", "木の上に巣を作ります", "空を飛ぶ"),
           ("魚", "水の中を泳ぎます", "えらで息をします", "えらで息をする"),
           ("うさぎ", "耳が長いです", "にんじんをよく食べます", "耳が長い"),
           ("パンダ", "白と黒の体をしています", "竹を食べます", "竹を食べる"),
           ("ぞう", "鼻がとても長いです", "大きな体をしています", "鼻がとても長い"),
           ("かえる", "池の近くにいます", "ぴょんと跳ねます", "ぴょんと跳ねる"))
FOODS = (("りんご", "果物", "赤くて甘いです"), ("みかん", "果物", "冬によく食べます"),
         ("バナナ", "果物", "黄色い皮をむいて食べます"), ("ごはん", "主食", "お米を炊いて作ります"),
         ("パン", "主食", "小麦粉から作ります"), ("味噌汁", "汁物", "味噌と具で作ります"),
         ("すし", "料理", "ご飯と魚を合わせた料理です"), ("ラーメン", "料理", "温かいスープにめんが入っています"),
         ("にんじん", "野菜", "オレンジ色の野菜です"), ("トマト", "野菜", "夏によく育ちます"))
TOOLS = (("包丁", "料理", "野菜や肉を切ります"), ("鍋", "料理", "スープを煮ます"), ("はさみ", "工作", "紙を切ります"),
         ("鉛筆", "勉強", "字を書きます"), ("消しゴム", "勉強", "書いた字を消します"),
         ("金づち", "大工仕事", "くぎを打ちます"), ("傘", "雨の日", "雨にぬれないようにします"),
         ("時計", "毎日の生活", "時間を知らせます"), ("ほうき", "掃除", "床のごみを集めます"),
         ("スプーン", "食事", "スープをすくいます"))
PLACES = (("学校", "子どもたちが勉強します", "子どもたちが勉強する"),
          ("病院", "医者が病気を治します", "医者が病気を治す"), ("駅", "電車に乗り降りします", "電車に乗り降りする"),
          ("図書館", "本を借りて読みます", "本を借りて読む"), ("公園", "子どもが遊びます", "子どもが遊ぶ"),
          ("スーパー", "食べ物を買います", "食べ物を買う"), ("郵便局", "手紙や荷物を送ります", "手紙や荷物を送る"),
          ("海", "夏に泳ぎます", "夏に泳ぐ"), ("山", "木がたくさん生えています", "木がたくさん生えている"),
          ("空港", "飛行機に乗ります", "飛行機に乗る"))
JOBS = (("先生", "学校で子どもに教えます", "学校で子どもに教える"),
        ("医者", "病院で病気を治します", "病院で病気を治す"), ("料理人", "お店で料理を作ります", "お店で料理を作る"),
        ("運転手", "バスや電車を運転します", "バスや電車を運転する"),
        ("農家", "畑で野菜を育てます", "畑で野菜を育てる"), ("消防士", "火事の火を消します", "火事の火を消す"),
        ("警察官", "町の安全を守ります", "町の安全を守る"), ("大工", "木で家を建てます", "木で家を建てる"))
SEASONS = (("春", "桜の花が咲きます", "暖かくなります"), ("夏", "せみが鳴きます", "暑い日が続きます"),
           ("秋", "木の葉が赤くなります", "すずしくなります"), ("冬", "雪が降ることがあります", "寒い日が続きます"))
WEATHER = ("晴れ", "くもり", "雨", "雪", "強い風")
NAMES = ("たろう", "はなこ", "けんた", "さくら", "ゆうき", "みさき", "ひろし", "あおい", "Ken", "Mary")
COUNTERS = (("りんご", "個"), ("みかん", "個"), ("鉛筆", "本"), ("本", "冊"), ("紙", "枚"), ("花", "本"), ("卵", "個"),
            ("ノート", "冊"))
ENGLISH = ("The weather is nice today.", "I like to read books in the library.", "Tokyo is a large city in Japan.",
           "She drinks green tea every morning.", "We went to the sea last summer.", "This train goes to Osaka.",
           "My brother plays soccer after school.", "Please close the window.")
MC_INSTRUCTION = "質問と選択肢を読み、正しい選択肢の番号だけを答えてください。"


def _animal(r: random.Random) -> str:
    name, sound, habit, _ = r.choice(ANIMALS)
    return r.choice((f"{name}は{sound}。", f"{name}は{habit}。", f"{name}は動物です。{name}は{habit}。"))


def _food(r: random.Random) -> str:
    name, kind, note = r.choice(FOODS)
    return r.choice((f"{name}は{kind}です。", f"{name}は{note}。", f"{r.choice(NAMES)}は{name}が好きです。"))


def _tool(r: random.Random) -> str:
    name, use, what = r.choice(TOOLS)
    return r.choice((f"{name}は{use}に使う道具です。", f"{name}で{what}。", f"{use}のときは{name}を使います。"))


def _place(r: random.Random) -> str:
    name, what, _ = r.choice(PLACES)
    who = r.choice(NAMES)
    return r.choice((f"{name}では{what}。", f"{who}は{name}へ行きました。",
                     f"きのう、{who}は{name}で友達に会いました。"))


def _job(r: random.Random) -> str:
    name, what, _ = r.choice(JOBS)
    return r.choice((f"{name}は{what}。", f"{r.choice(NAMES)}の夢は{name}になることです。"))


def _season(r: random.Random) -> str:
    name, event, feel = r.choice(SEASONS)
    return r.choice((f"{name}には{event}。", f"{name}になると{feel}。", f"今日の天気は{r.choice(WEATHER)}です。"))


def _arithmetic(r: random.Random) -> str:
    thing, unit = r.choice(COUNTERS)
    who = r.choice(NAMES[:8])
    a, b = r.randint(1, 20), r.randint(1, 20)
    if r.random() < 0.5:
        return f"{who}は{thing}を{a}{unit}持っています。{b}{unit}もらいました。全部で{a + b}{unit}です。"
    big, small = max(a, b), min(a, b)
    return f"{thing}が{big}{unit}あります。{small}{unit}使いました。残りは{big - small}{unit}です。"


def _question(r: random.Random) -> str:
    kind = r.randrange(3)
    if kind == 0:
        name, use, _ = r.choice(TOOLS)
        return f"質問：{use}に使う道具は何ですか？　答え：{name}です。"
    if kind == 1:
        name, _, plain = r.choice(PLACES)
        return f"質問：{plain}場所はどこですか？　答え：{name}です。"
    name, _, plain = r.choice(JOBS)
    return f"質問：{plain}仕事は何ですか？　答え：{name}です。"


SENTENCES = (_animal, _food, _tool, _place, _job, _season, _arithmetic, _question)


def pretraining_documents(seed: int = 0, n_documents: int = 3000) -> list[str]:
    """Plain Japanese documents of 2-8 sentences, about a tenth with English or numbers mixed in."""
    r = random.Random(seed)
    documents = []
    for _ in range(n_documents):
        sentences = [r.choice(SENTENCES)(r) for _ in range(r.randint(2, 8))]
        if r.random() < 0.1:
            sentences.insert(r.randrange(len(sentences) + 1), r.choice(ENGLISH))
        documents.append("".join(s if s.endswith("。") else s + " " for s in sentences).strip())
    return documents


def _choice_question(r: random.Random) -> tuple[str, str, list[str]]:
    """A question, its answer, and four wrong answers of the same kind."""
    kind = r.randrange(4)
    if kind == 0:
        tool = r.choice(TOOLS)
        wrong = [t[0] for t in TOOLS if t[1] != tool[1]]
        return f"{tool[1]}に使う道具はどれ？", tool[0], r.sample(wrong, 4)
    if kind == 1:
        place = r.choice(PLACES)
        return f"{place[2]}場所はどれ？", place[0], r.sample([p[0] for p in PLACES if p != place], 4)
    if kind == 2:
        job = r.choice(JOBS)
        return f"{job[2]}人は誰？", job[0], r.sample([j[0] for j in JOBS if j != job], 4)
    animal = r.choice(ANIMALS)
    return f"{animal[3]}動物はどれ？", animal[0], r.sample([a[0] for a in ANIMALS if a != animal], 4)


def multiple_choice_documents(seed: int = 0, n_documents: int = 800) -> list[str]:
    """Five-choice questions in the Alpaca-ja layout, answered by the choice number."""
    r = random.Random(seed + 1)
    documents = []
    for _ in range(n_documents):
        question, answer, choices = _choice_question(r)
        label = r.randrange(5)
        choices.insert(label, answer)
        listed = ",".join(f"{i}.{c}" for i, c in enumerate(choices))
        documents.append(
            f"### 指示:\n{MC_INSTRUCTION}\n\n### 入力:\n質問：{question}\n選択肢：{listed}\n\n### 応答:\n{label}"
        )
    return documents


def _exchange(r: random.Random) -> tuple[str, str]:
    kind = r.randrange(5)
    if kind == 0:
        return r.choice((("こんにちは。", "こんにちは。今日は何をお手伝いしましょうか。"),
                         ("おはようございます。", "おはようございます。よい一日になりますように。"),
                         ("ありがとう。", "どういたしまして。またいつでも聞いてください。")))
    if kind == 1:
        name, use, what = r.choice(TOOLS)
        return f"{name}は何に使いますか？", f"{name}は{use}に使う道具です。{what}。"
    if kind == 2:
        a, b = r.randint(1, 50), r.randint(1, 50)
        return f"{a}たす{b}はいくつですか？", f"{a}たす{b}は{a + b}です。"
    if kind == 3:
        name, _, plain = r.choice(PLACES)
        return f"{name}はどんな場所ですか？", f"{name}は{plain}場所です。"
    name, event, feel = r.choice(SEASONS)
    return f"{name}はどんな季節ですか？", f"{name}は{feel}。{event}。"


def chat_documents(seed: int = 0, n_documents: int = 400) -> list[dict]:
    """Short polite conversations (1-2 turns) as `{"messages": [...]}`."""
    r = random.Random(seed + 2)
    documents = []
    for _ in range(n_documents):
        messages = []
        for _ in range(r.randint(1, 2)):
            user, assistant = _exchange(r)
            messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        documents.append({"messages": messages})
    return documents


def corpus_text(seed: int = 0) -> list[str]:
    """Everything above as plain strings, shuffled: what the tokenizer trains on."""
    chats = [
        "\n".join(("ユーザー: " if m["role"] == "user" else "アシスタント: ") + m["content"] for m in c["messages"])
        for c in chat_documents(seed)
    ]
    texts = pretraining_documents(seed) + multiple_choice_documents(seed) + chats
    random.Random(seed).shuffle(texts)
    return texts
