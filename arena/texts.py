"""Every sentence the arena shows, in Japanese (the default) and English.

The language is one setting of the arena (`ui.language`), not the visitor's browser: a battle's
buttons, notes and the leaderboard read the same for everyone, and Gradio's own labels are made
to follow it (see `jeval.arena.page`). Placeholders are `str.format` fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from jeval.errors import JevalError

LANGUAGES = ("ja", "en")


@dataclass(frozen=True)
class Texts:
    language: str
    html_lang: str
    # tabs and introductions
    battle_tab: str
    side_tab: str
    board_tab: str
    battle_intro: str
    side_intro: str
    # panes, prompt and buttons
    model_a: str
    model_b: str
    model_a_named: str
    model_b_named: str
    pick_a: str
    pick_b: str
    prompt_placeholder: str
    send: str
    new_round: str
    regenerate: str
    share: str
    share_link: str
    vote_a: str
    vote_b: str
    vote_tie: str
    vote_bothbad: str
    # status lines
    note: str
    answering: str
    vote_now: str
    battle_failed: str
    retried: str
    truncated_status: str
    thanks: str
    flagged: str
    regenerated: str
    # notes inside a pane
    failed_pane: str
    truncated_pane: str
    thinking_pane: str
    image_link: str
    # terms notice
    terms_title: str
    terms_text: str
    terms_accept: str
    terms_required: str
    # the person's mistakes and the arena's limits
    write_prompt: str
    prompt_too_long: str
    battle_over: str
    still_answering: str
    turns_reached: str
    pick_two_different: str
    pick_both: str
    no_battle: str
    nothing_to_regenerate: str
    not_enough_models: str
    moderation_blocked: str
    moderation_unavailable: str
    model_failed_not_counted: str
    already_voted: str
    wait_for_answers: str
    vote_limit: str
    address_vote_limit: str
    user_vote_limit: str
    read_first: str
    # leaderboard
    board_loading: str
    board_empty: str
    board_columns: tuple[str, ...]
    board_win_rates: str
    board_counts: str
    board_refresh: str
    board_note: str
    board_prior: str
    board_updated: str
    board_warn_few: str
    board_warn_wide: str
    board_warn_undefeated: str
    board_warn_winless: str
    board_warnings_title: str
    # a shared battle
    shared_title: str
    shared_result: str
    shared_missing: str
    shared_winners: tuple[str, str, str, str]

    def winner(self, code: str) -> str:
        return dict(zip(("model_a", "model_b", "tie", "tie (bothbad)"), self.shared_winners)).get(code, code)


JA = Texts(
    language="ja",
    html_lang="ja",
    battle_tab="バトル",
    side_tab="モデルを選ぶ",
    board_tab="リーダーボード",
    battle_intro="何でも質問してください。匿名の2つのモデルが答えます。良い方に投票するとモデル名が表示されます。"
                 "会話の中でモデル名や開発元に触れたバトルの投票は、ランキングには入りません。",
    side_intro="比較するモデルを自分で選びます。ここでの投票は保存されますが、匿名ランキングには入りません。",
    model_a="モデル A",
    model_b="モデル B",
    model_a_named="モデル A: {name}",
    model_b_named="モデル B: {name}",
    pick_a="モデル A",
    pick_b="モデル B",
    prompt_placeholder="質問を入力して Enter",
    send="送信",
    new_round="新しいバトル",
    regenerate="もう一度生成",
    share="共有",
    share_link="共有リンク",
    vote_a="A の方が良い",
    vote_b="B の方が良い",
    vote_tie="引き分け",
    vote_bothbad="どちらも良くない",
    note="**お知らせ:** {message}",
    answering="回答中…",
    vote_now="投票してください。続けて質問することもできます。",
    battle_failed="**モデルの1つが回答できませんでした。このバトルは集計されません。** 新しいバトルを始めてください。",
    retried="応答しないモデルがあったため、同じ質問を別の組み合わせのモデルに送り直しました。",
    truncated_status="長すぎる回答は途中で打ち切りました。",
    thanks="投票ありがとうございました！ モデル A: **{a}** · モデル B: **{b}**。",
    flagged=" このバトルはモデル名や開発元に触れているため、ランキングには入りません。",
    regenerated="同じ2つのモデルにもう一度回答させました。",
    failed_pane="**エラー: このモデルは回答できませんでした。** このバトルは集計されません。",
    truncated_pane="*（回答が長すぎるため、ここで打ち切りました）*",
    thinking_pane="*（考え中…）*",
    image_link="画像",
    terms_title="### ご利用にあたって",
    terms_text="このアリーナで入力した質問と回答、および投票は保存され、モデルの評価と研究のために利用・公開される"
               "ことがあります。個人情報や機密情報は入力しないでください。モデルの回答は不正確な場合があります。",
    terms_accept="同意して始める",
    terms_required="はじめに利用条件に同意してください。",
    write_prompt="先に質問を入力してください。",
    prompt_too_long="質問が {length:,} 文字あります。上限は {limit:,} 文字です。",
    battle_over="このバトルは終了しました。新しいバトルを始めてください。",
    still_answering="まだ回答の途中です。",
    turns_reached="このバトルは上限の {limit} ターンに達しました。投票してから新しいバトルを始めてください。",
    pick_two_different="異なる2つのモデルを選んでください。",
    pick_both="先に両方のモデルを選んでください。",
    no_battle="投票できるバトルがまだありません。",
    nothing_to_regenerate="もう一度生成できる回答がありません（投票の前の、完了した回答だけが対象です）。",
    not_enough_models="いま回答できるモデルが足りません。しばらくしてからもう一度お試しください。",
    moderation_blocked="この内容は送信できません。別の質問を入力してください。",
    moderation_unavailable="内容の確認ができないため、いまは送信できません。しばらくしてからお試しください。",
    model_failed_not_counted="このバトルではモデルが回答できなかったため集計されません。新しいバトルを始めてください。",
    already_voted="このバトルにはすでに投票済みです。新しいバトルを始めてください。",
    wait_for_answers="両方の回答が終わるまでお待ちください。",
    vote_limit="1時間あたりの投票の上限（{limit} 票）に達しました。しばらくしてからお越しください。",
    address_vote_limit="このネットワークからの1時間あたりの投票の上限（{limit} 票）に達しました。"
                       "しばらくしてからお越しください。",
    user_vote_limit="このアカウントの1時間あたりの投票の上限（{limit} 票）に達しました。"
                    "しばらくしてからお越しください。",
    read_first="先に両方の回答を読んでください。投票は回答が終わってから {seconds} 秒後にできます（あと {wait} 秒）。",
    board_loading="このタブを開くとリーダーボードを読み込みます。",
    board_empty="集計できる投票はまだありません。",
    board_columns=("順位", "モデル", "レーティング", "95% 区間", "オンライン Elo", "バトル数", "勝-敗-分", "注意"),
    board_win_rates="勝率（行のモデルが列のモデルに勝った割合、引き分けを除く）",
    board_counts="バトル数（行と列のモデルの対戦数）",
    board_refresh="最新の集計を表示",
    board_note="集計対象のバトル {battles:,} 件（匿名・フラグなし）。Bradley-Terry レーティング、"
               "ブートストラップ {bootstrap} 回の {confidence}% 区間、比較用にオンライン Elo。",
    board_prior="少数の投票でもレーティングが有限で区間が正直になるよう、強さに事前分布（prior = {prior:g}、"
                "標準偏差 約 {sd:.0f} 点）を置いています。区間はブートストラップ区間と事前分布の下での事後分布の"
                "正規近似のうち広い方です。投票が増えるほど事前分布の影響は小さくなります。",
    board_updated="集計時刻 {time}（{votes:,} 票の時点、{every} 秒ごとに更新）。",
    board_warn_few="バトル {n} 件未満",
    board_warn_wide="区間の幅 {width:.0f} 点",
    board_warn_undefeated="無敗（負けなし）",
    board_warn_winless="未勝利（勝ちなし）",
    board_warnings_title="**注意:** {items}。これらの順位はまだ当てになりません。",
    shared_title="## 共有されたバトル",
    shared_result="結果: **{result}**",
    shared_missing="このリンクのバトルは見つからないか、まだ投票されていません。",
    shared_winners=("モデル A の勝ち", "モデル B の勝ち", "引き分け", "どちらも良くない"),
)

EN = Texts(
    language="en",
    html_lang="en",
    battle_tab="Battle",
    side_tab="Side-by-side",
    board_tab="Leaderboard",
    battle_intro="Ask anything. Two anonymous models answer; vote for the better one and their names are "
                 "revealed. Votes in battles whose text names a model or its maker are kept out of the rankings.",
    side_intro="Pick both models yourself. These votes are stored but never enter the anonymous rankings.",
    model_a="Model A",
    model_b="Model B",
    model_a_named="Model A: {name}",
    model_b_named="Model B: {name}",
    pick_a="Model A",
    pick_b="Model B",
    prompt_placeholder="Type your prompt and press Enter",
    send="Send",
    new_round="New round",
    regenerate="Regenerate",
    share="Share",
    share_link="Share link",
    vote_a="A is better",
    vote_b="B is better",
    vote_tie="Tie",
    vote_bothbad="Both are bad",
    note="**Note:** {message}",
    answering="Answering…",
    vote_now="Vote now, or keep the conversation going.",
    battle_failed="**A model failed to answer; this battle is not counted.** Start a new round.",
    retried="A model did not answer, so your prompt went to another pair of models.",
    truncated_status="An answer that ran too long was cut off.",
    thanks="Thanks for voting! Model A: **{a}** · Model B: **{b}**.",
    flagged=" This battle named a model or its maker, so it is kept out of the rankings.",
    regenerated="Both models answered again.",
    failed_pane="**Error: this model failed to answer.** The battle will not be counted; start a new round.",
    truncated_pane="*(the answer ran too long and was cut off here)*",
    thinking_pane="*(thinking…)*",
    image_link="image",
    terms_title="### Terms of use",
    terms_text="Your prompts, the answers and your votes are stored and may be used and published for model "
               "evaluation and research. Do not enter personal or confidential information. Answers may be wrong.",
    terms_accept="Accept and start",
    terms_required="Please accept the terms of use first.",
    write_prompt="write a prompt first",
    prompt_too_long="the prompt has {length} characters; the limit is {limit}",
    battle_over="this battle is over; start a new round",
    still_answering="the answers are still coming",
    turns_reached="this battle has reached its {limit} turns; vote, then start a new round",
    pick_two_different="pick two different models",
    pick_both="pick both models first",
    no_battle="there is no battle to vote on yet",
    nothing_to_regenerate="there is nothing to regenerate (only finished answers before the vote)",
    not_enough_models="not enough models are answering right now; please try again in a while",
    moderation_blocked="this prompt cannot be sent; please write another one",
    moderation_unavailable="prompts cannot be checked right now, so none can be sent; please try again later",
    model_failed_not_counted="a model failed in this battle, so it is not counted; start a new round",
    already_voted="this battle already has your vote; start a new round",
    wait_for_answers="wait until both answers are finished",
    vote_limit="you have reached the limit of {limit} votes per hour; please come back later",
    address_vote_limit="this network address has reached the limit of {limit} votes per hour; please come back later",
    user_vote_limit="your account has reached the limit of {limit} votes per hour; please come back later",
    read_first="please read both answers first: votes open {seconds} s after the answers finish (another {wait} s)",
    board_loading="Open this tab to load the leaderboard.",
    board_empty="No counted votes yet.",
    board_columns=("rank", "model", "rating", "95% CI", "online Elo", "battles", "W-L-T", "caveats"),
    board_win_rates="Win rate of row over column (decisive battles)",
    board_counts="Battle counts (row against column)",
    board_refresh="Show the latest summary",
    board_note="{battles:,} counted battles (anonymous, unflagged); Bradley-Terry ratings with {bootstrap} "
               "bootstrap rounds, {confidence}% intervals; online Elo for comparison.",
    board_prior="So that ratings stay finite and intervals honest with few votes, strengths have a prior "
                "(prior = {prior:g}, a standard deviation of about {sd:.0f} points). Each interval is the wider "
                "of the bootstrap interval and the normal approximation of the posterior under that prior; "
                "the prior matters less as votes accumulate.",
    board_updated="Computed at {time} (over {votes:,} votes; refreshed every {every} s).",
    board_warn_few="fewer than {n} battles",
    board_warn_wide="interval {width:.0f} points wide",
    board_warn_undefeated="undefeated (no losses)",
    board_warn_winless="winless (no wins)",
    board_warnings_title="**Caveats:** {items}. These places are not settled yet.",
    shared_title="## A shared battle",
    shared_result="Result: **{result}**",
    shared_missing="No voted battle has this link.",
    shared_winners=("Model A won", "Model B won", "Tie", "Both are bad"),
)


def texts_for(language: str) -> Texts:
    if language == "ja":
        return JA
    if language == "en":
        return EN
    raise JevalError(f"ui.language: {language!r} is not one of {', '.join(LANGUAGES)}")


def translate(message: str, texts: Texts) -> str:
    """An English message of the catalogue (raised without its key) in `texts`' language; a
    message the catalogue does not have stays as it is."""
    if texts is EN:
        return message
    for f in fields(Texts):
        english = getattr(EN, f.name)
        if not isinstance(english, str) or re.search(r"\{\w+:", english):
            continue
        names = re.findall(r"\{(\w+)\}", english)
        pattern = re.escape(english)
        for name in names:
            pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>.+?)", 1)
        found = re.fullmatch(pattern, message)
        if found:
            return str(getattr(texts, f.name)).format(**found.groupdict())
    return message
