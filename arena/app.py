"""The arena's Gradio pages: Battle (anonymous), Side-by-side (named), Leaderboard, and the read-only
view of a shared battle (`?share=…`).

Nothing that names the battle's models is sent to the browser before the vote: identities stay
in `gr.State` (server-side), model names for the side-by-side pickers and the leaderboard are
loaded only when those tabs are opened, and a failing endpoint's error is logged, not shown.

Every text is in the arena's language (`ui.language`, see `jeval.arena.texts`); prompts and
answers are rendered to safe HTML on the server (`jeval.arena.render`). A visitor accepts the
terms notice before the first prompt (checked on the server, not only by the disabled box). The
panes have no clear button of their own: a battle's two sides are one record, and a clear that
reaches the server anyway redraws the panes from the battle."""

from __future__ import annotations

import html
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
import pandas as pd
from gradio.components import Component
from starlette.middleware import Middleware

from jeval.arena.board import Board, BoardKeeper
from jeval.arena.clients import from_request, keep_peer_address
from jeval.arena.page import CSS, PageLanguage
from jeval.arena.render import Renderer
from jeval.arena.service import ArenaService, BattleState, Progress, UserError
from jeval.arena.texts import Texts
from jeval.errors import JevalError

VOTES = (("model_a", "vote_a", "vote-a"), ("model_b", "vote_b", "vote-b"),
         ("tie", "vote_tie", "vote-tie"), ("tie (bothbad)", "vote_bothbad", "vote-bothbad"))
STREAM_EVERY_S = 0.05

Pane = list[dict[str, str]]


def _session(service: ArenaService, request: gr.Request) -> str:
    return service.session_key(request.username or request.session_hash or "anonymous")


def terms_text(service: ArenaService) -> str | None:
    """The notice to accept before the first prompt: the configured one, the built-in one, or none."""
    configured = service.config.ui.terms
    if configured == "":
        return None
    return configured or service.texts.terms_text


def side_messages(renderer: Renderer, texts: Texts, prompts: Sequence[str], answers: Sequence[str],
                  truncated: Sequence[bool], failed: bool = False, thinking: bool = False) -> Pane:
    """One pane: every turn, with notes under answers that were cut off, a failure or a model still
    thinking under the last one."""
    out: Pane = []
    for i, prompt in enumerate(prompts):
        out.append({"role": "user", "content": renderer.html(prompt)})
        if i >= len(answers):
            continue
        notes = []
        if i < len(truncated) and truncated[i]:
            notes.append(texts.truncated_pane)
        if i == len(prompts) - 1 and failed:
            notes.append(texts.failed_pane)
        if i == len(prompts) - 1 and thinking and not answers[i]:
            notes.append(texts.thinking_pane)
        parts = [renderer.html(answers[i])] + [renderer.html(n) for n in notes]
        out.append({"role": "assistant", "content": "\n".join(p for p in parts if p)})
    return out


def panes(renderer: Renderer, texts: Texts, state: BattleState | None,
          progress: Progress | None = None) -> tuple[Pane, Pane]:
    """Both panes of a battle; with a Progress not yet done, the answers being streamed."""
    if state is None:
        return [], []
    answers_a, answers_b = list(state.answers_a), list(state.answers_b)
    truncated_a, truncated_b = list(state.truncated_a), list(state.truncated_b)
    failed_a, failed_b = "a" in state.failed_sides, "b" in state.failed_sides
    thinking_a = thinking_b = False
    if progress is not None:
        failed_a, failed_b = progress.failed_a, progress.failed_b
        if not progress.done:
            answers_a.append(progress.answer_a)
            answers_b.append(progress.answer_b)
            truncated_a.append(progress.truncated_a)
            truncated_b.append(progress.truncated_b)
            thinking_a, thinking_b = progress.thinking_a, progress.thinking_b
    return (side_messages(renderer, texts, state.prompts, answers_a, truncated_a, failed_a, thinking_a),
            side_messages(renderer, texts, state.prompts, answers_b, truncated_b, failed_b, thinking_b))


def board_view(board: Board | None, texts: Texts) -> tuple[str, pd.DataFrame, str, pd.DataFrame, pd.DataFrame]:
    """The leaderboard tab's five outputs from the stored board: note, ratings, caveats, win rates
    and battle counts (matrices headed by model names)."""
    columns = list(texts.board_columns)
    empty = pd.DataFrame(columns=columns)
    if board is None:
        return texts.board_loading, empty, "", pd.DataFrame(), pd.DataFrame()
    s = board.settings
    updated = texts.board_updated.format(time=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(board.computed_at)),
                                         votes=board.votes, every=f"{s.refresh_s:g}")
    if not board.rows:
        return f"{texts.board_empty}\n\n{updated}", empty, "", pd.DataFrame(), pd.DataFrame()
    words = {"few": texts.board_warn_few.format(n=s.min_battles), "undefeated": texts.board_warn_undefeated,
             "winless": texts.board_warn_winless}
    sep = "、" if texts.language == "ja" else ", "

    def caveat_text(row: Any) -> str:
        return sep.join(texts.board_warn_wide.format(width=row.upper - row.lower) if c == "wide" else words[c]
                        for c in row.caveats)

    rows = [[r.rank, r.model, round(r.rating, 1), f"{r.lower - r.rating:+.0f} / {r.upper - r.rating:+.0f}",
             round(r.elo, 1), r.battles, f"{r.wins}-{r.losses}-{r.ties}", caveat_text(r)] for r in board.rows]
    unsettled = [f"{r.model}（{caveat_text(r)}）" if texts.language == "ja" else f"{r.model} ({caveat_text(r)})"
                 for r in board.rows if r.caveats]
    warnings = texts.board_warnings_title.format(items="; ".join(unsettled)) if unsettled else ""
    corner = columns[1]
    rates = pd.DataFrame([[m, *["" if v is None else round(v, 2) for v in row]]
                          for m, row in zip(board.models, board.win_rates)], columns=[corner, *board.models])
    counts = pd.DataFrame([[m, *row] for m, row in zip(board.models, board.counts)], columns=[corner, *board.models])
    sd = 400.0 / 2.302585092994046 / s.prior ** 0.5 if s.prior > 0 else float("inf")
    note = "\n\n".join([texts.board_note.format(battles=board.battles, bootstrap=s.bootstrap, confidence=95),
                        texts.board_prior.format(prior=s.prior, sd=sd), updated])
    return note, pd.DataFrame(rows, columns=columns), warnings, rates, counts


def shared_html(service: ArenaService, renderer: Renderer, battle_id: str) -> str:
    """A voted battle as read-only HTML (the models' names and the vote included)."""
    texts = service.texts
    found = service.store.shared_battle(battle_id) if battle_id else None
    if found is None:
        return f"<div class='arena-shared'>{renderer.html(texts.shared_missing)}</div>"
    parts = [renderer.html(texts.shared_title),
             renderer.html(texts.shared_result.format(result=texts.winner(found["winner"])))]
    a = html.escape(texts.model_a_named.format(name=found["model_a"]))
    b = html.escape(texts.model_b_named.format(name=found["model_b"]))
    for prompt, answer_a, answer_b in zip(found["prompts"], found["answers_a"], found["answers_b"]):
        parts.append(f"<div class='arena-shared-prompt'>{renderer.html(prompt)}</div>")
        parts.append(f"<h4>{a}</h4>{renderer.html(answer_a)}<h4>{b}</h4>{renderer.html(answer_b)}<hr>")
    return f"<div class='arena-shared' id='shared-battle'>{''.join(parts)}</div>"


def build_app(service: ArenaService, keeper: BoardKeeper | None = None) -> gr.Blocks:
    config = service.config
    texts = service.texts
    renderer = Renderer(texts.image_link)
    keeper = keeper or BoardKeeper(service.store, config.leaderboard)
    notice = terms_text(service)
    with gr.Blocks(title=config.title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {html.escape(config.title)}", elem_id="arena-title")
        with gr.Column(visible=False, elem_id="shared-view") as shared_column:
            shared = gr.HTML("", elem_id="shared-html")
        accepted = gr.State(notice is None)
        terms = accept = None
        if notice is not None:
            with gr.Column(elem_id="terms") as terms:
                gr.Markdown(f"{texts.terms_title}\n\n{notice}", elem_id="terms-text")
                accept = gr.Button(texts.terms_accept, elem_id="accept-terms", variant="primary")
        with gr.Tabs():
            with gr.Tab(texts.battle_tab, id="battle"):
                battle = _battle_tab(service, renderer, accepted, notice is not None, prefix="")
            with gr.Tab(texts.side_tab, id="side") as side_tab:
                side = _battle_tab(service, renderer, accepted, notice is not None, prefix="side-")
            with gr.Tab(texts.board_tab, id="leaderboard") as board_tab:
                board = _leaderboard_tab(texts)
        if terms is not None and accept is not None:
            on = gr.update(interactive=True)
            accept.click(lambda: [True, gr.update(visible=False), on, on, on, on],
                         outputs=[accepted, terms, battle.prompt, battle.send, side.prompt, side.send],
                         api_name="accept_terms", queue=False)
        assert side.pickers is not None
        side_tab.select(lambda: [gr.update(choices=service.model_names)] * 2, outputs=list(side.pickers),
                        api_name="side_models", queue=False)
        show_board = _board_reader(keeper, texts)
        board_tab.select(show_board, outputs=board.outputs, api_name="leaderboard_on_open", queue=False)
        board.refresh.click(show_board, outputs=board.outputs, api_name="leaderboard", queue=False)

        def open_shared(request: gr.Request) -> list[Any]:
            battle_id = (request.query_params or {}).get("share", "") if request else ""
            if not battle_id:
                return [gr.update(visible=False), ""]
            return [gr.update(visible=True), shared_html(service, renderer, str(battle_id)[:64])]

        demo.load(open_shared, outputs=[shared_column, shared], api_name="shared", queue=False)
    return demo


def _board_reader(keeper: BoardKeeper, texts: Texts) -> Callable[[], tuple[Any, ...]]:
    def show() -> tuple[Any, ...]:
        return board_view(keeper.read(), texts)
    return show


@dataclass(frozen=True)
class _Tab:
    """The components of one battle tab that other parts of the page wire to."""

    prompt: gr.Textbox
    send: gr.Button
    pickers: tuple[gr.Dropdown, gr.Dropdown] | None


@dataclass(frozen=True)
class _Board:
    outputs: list[Component]
    refresh: gr.Button


def _battle_tab(service: ArenaService, renderer: Renderer, accepted: gr.State, gated: bool, prefix: str) -> _Tab:
    """One battle tab; with `gated`, its prompt opens once the terms notice is accepted."""
    texts = service.texts
    side_by_side = prefix == "side-"
    with gr.Column(elem_classes=["arena-body"]):
        gr.Markdown(texts.side_intro if side_by_side else texts.battle_intro, elem_classes=["arena-intro"])
        pickers = None
        if side_by_side:
            with gr.Row():
                pickers = (gr.Dropdown(choices=[], label=texts.pick_a, elem_id="side-pick-a"),
                           gr.Dropdown(choices=[], label=texts.pick_b, elem_id="side-pick-b"))
        state = gr.State(None)
        with gr.Row(elem_classes=["arena-panes"]):
            chat_a, chat_b = (gr.Chatbot(label=label, elem_id=f"{prefix}chat-{side}", elem_classes=["arena-pane"],
                                         render_markdown=False, sanitize_html=True, allow_tags=False,
                                         latex_delimiters=[], feedback_options=None, buttons=[], height=440)
                              for label, side in ((texts.model_a, "a"), (texts.model_b, "b")))
        status = gr.Markdown("", elem_id=f"{prefix}battle-status" if not side_by_side else "side-status")
        with gr.Row(elem_classes=["arena-votes"]):
            votes = [gr.Button(getattr(texts, key), elem_id=f"{prefix}{eid}", interactive=False)
                     for _, key, eid in VOTES]
        with gr.Row(elem_classes=["arena-input"]):
            prompt = gr.Textbox(placeholder=texts.prompt_placeholder, show_label=False, elem_id=f"{prefix}prompt",
                                scale=5, max_lines=6, interactive=not gated)
            send = gr.Button(texts.send, elem_id=f"{prefix}send", variant="primary", scale=1, interactive=not gated,
                             min_width=80)
        with gr.Row():
            regenerate = gr.Button(texts.regenerate, elem_id=f"{prefix}regenerate", interactive=False)
            new_round = gr.Button(texts.new_round, elem_id=f"{prefix}new-round")
            share = gr.Button(texts.share, elem_id=f"{prefix}share", interactive=False)
        share_box = gr.Textbox(label=texts.share_link, elem_id=f"{prefix}share-link", visible=False,
                               interactive=False, buttons=["copy"])
    _wire(service, renderer, state, accepted, chat_a, chat_b, status, votes, prompt, send, regenerate, new_round,
          share, share_box, pickers, prefix.rstrip("-") or "battle")
    return _Tab(prompt, send, pickers)


def _leaderboard_tab(texts: Texts) -> _Board:
    note = gr.Markdown(texts.board_loading, elem_id="board-note")
    table = gr.Dataframe(headers=list(texts.board_columns), elem_id="board-table", interactive=False, wrap=True)
    warnings = gr.Markdown("", elem_id="board-warnings")
    gr.Markdown(f"#### {texts.board_win_rates}")
    rates = gr.Dataframe(elem_id="board-winrates", interactive=False)
    gr.Markdown(f"#### {texts.board_counts}")
    counts = gr.Dataframe(elem_id="board-counts", interactive=False)
    refresh = gr.Button(texts.board_refresh, elem_id="board-refresh")
    return _Board([note, table, warnings, rates, counts], refresh)


def _wire(service: ArenaService, renderer: Renderer, state: gr.State, accepted: gr.State, chat_a: gr.Chatbot,
          chat_b: gr.Chatbot, status: gr.Markdown, votes: list[gr.Button], prompt: gr.Textbox, send: gr.Button,
          regenerate: gr.Button, new_round: gr.Button, share: gr.Button, share_box: gr.Textbox,
          pickers: tuple[gr.Dropdown, gr.Dropdown] | None, prefix: str) -> None:
    texts = service.texts
    off, on, same = gr.update(interactive=False), gr.update(interactive=True), gr.update()
    turn_outputs: list[Component] = [state, chat_a, chat_b, status, prompt, send, *votes, regenerate]
    if pickers:
        turn_outputs += list(pickers)
    lock = [off] * 2 if pickers else []

    def note(message: str) -> str:
        return texts.note.format(message=message)

    def keep(battle: BattleState | None, message: str) -> list[Any]:
        """The page as it was, with a note: nothing about the battle changes."""
        a, b = panes(renderer, texts, battle)
        votable = battle is not None and battle.status == "ready"
        pick = ([off] * 2 if battle is not None else [same] * 2) if pickers else []
        return [battle, a, b, note(message), same, same, *([on if votable else off] * 4),
                on if votable else off, *pick]

    def frames(battle: BattleState | None, updates: AsyncIterator[Progress], text: str,
               done_message: Callable[[Progress], str]) -> AsyncIterator[list[Any]]:
        async def run() -> AsyncIterator[list[Any]]:
            last = 0.0
            current = battle
            async for p in updates:
                current = p.state or current
                now = time.monotonic()
                if not p.done and now - last < STREAM_EVERY_S:
                    continue
                last = now
                a, b = panes(renderer, texts, current, p)
                if not p.done:
                    message = texts.retried if p.retried else texts.answering
                    yield [current, a, b, message, gr.update(value="", interactive=False), off, *([off] * 4), off,
                           *lock]
                    continue
                failed = p.failed_a or p.failed_b
                if failed:
                    # the prompt goes back into the box: after a new round it is sent as it is
                    yield [current, a, b, texts.battle_failed, gr.update(value=text, interactive=True), off,
                           *([off] * 4), off, *lock]
                else:
                    yield [current, a, b, done_message(p), gr.update(value="", interactive=True), on,
                           *([on] * 4), on, *lock]
        return run()

    def finished(p: Progress) -> str:
        extra = [texts.retried] if p.retried else []
        if p.truncated_a or p.truncated_b:
            extra.append(texts.truncated_status)
        return " ".join([*extra, texts.vote_now])

    async def turn(text: str, battle: BattleState | None, ok: bool, picked: tuple[Any, ...],
                   request: gr.Request) -> AsyncIterator[list[Any]]:
        if not ok:
            yield keep(battle, texts.terms_required)
            return
        session = _session(service, request)
        pair = None
        try:
            if pickers and battle is None:
                if not all(picked):
                    raise UserError.of("pick_both")
                pair = (picked[0], picked[1])
            async for frame in frames(battle, service.play(session, battle, text, pair), text, finished):
                yield frame
        except UserError as e:
            yield keep(battle, e.shown(texts))
        except JevalError as e:
            yield keep(battle, str(e))

    async def again(battle: BattleState | None) -> AsyncIterator[list[Any]]:
        try:
            async for frame in frames(battle, service.regenerate(battle), "",
                                      lambda p: f"{texts.regenerated} {finished(p)}"):
                yield frame
        except UserError as e:
            yield keep(battle, e.shown(texts))

    async def on_send_picked(text: str, battle: BattleState | None, ok: bool, pick_a: Any, pick_b: Any,
                             request: gr.Request) -> AsyncIterator[list[Any]]:
        async for update in turn(text, battle, ok, (pick_a, pick_b), request):
            yield update

    async def on_send_drawn(text: str, battle: BattleState | None, ok: bool,
                            request: gr.Request) -> AsyncIterator[list[Any]]:
        async for update in turn(text, battle, ok, (), request):
            yield update

    on_send: Callable[..., AsyncIterator[list[Any]]] = on_send_picked if pickers else on_send_drawn
    inputs = [prompt, state, accepted, *(pickers or [])]
    send.click(on_send, inputs=inputs, outputs=turn_outputs, api_name=f"{prefix}_send")
    prompt.submit(on_send, inputs=inputs, outputs=turn_outputs, api_name=f"{prefix}_submit")
    regenerate.click(again, inputs=[state], outputs=turn_outputs, api_name=f"{prefix}_regenerate")

    vote_outputs: list[Component] = [state, status, chat_a, chat_b, prompt, send, *votes, regenerate, share]

    def on_vote(winner: str) -> Callable[[BattleState | None, gr.Request], list[Any]]:
        def vote(battle: BattleState | None, request: gr.Request) -> list[Any]:
            session = _session(service, request)
            try:
                reveal = service.vote(battle, session, winner, from_request(request, service.config.proxies))
            except (UserError, JevalError) as e:
                shown = e.shown(texts) if isinstance(e, UserError) else str(e)
                return [battle, note(shown), *([same] * 4), *([same] * 4), same, same]
            message = texts.thanks.format(a=reveal.model_a, b=reveal.model_b)
            if reveal.flagged:
                message += texts.flagged
            return [battle, message, gr.update(label=texts.model_a_named.format(name=reveal.model_a)),
                    gr.update(label=texts.model_b_named.format(name=reveal.model_b)), off, off, *([off] * 4), off, on]
        return vote

    for (winner, _, eid), button in zip(VOTES, votes):
        button.click(on_vote(winner), inputs=[state], outputs=vote_outputs,
                     api_name=f"{prefix}_{eid.replace('-', '_')}")

    def restore(battle: BattleState | None) -> tuple[Pane, Pane]:
        return panes(renderer, texts, battle)

    for chat in (chat_a, chat_b):
        chat.clear(restore, inputs=[state], outputs=[chat_a, chat_b], api_visibility="private", queue=False)

    def share_link(battle: BattleState | None) -> Any:
        if battle is None or battle.status != "voted":
            return gr.update(visible=False, value="")
        return gr.update(visible=True, value=f"?share={battle.battle_id}")

    share.click(share_link, inputs=[state], outputs=[share_box], api_name=f"{prefix}_share", queue=False).then(
        None, inputs=[share_box], outputs=[share_box],
        js="(t) => t && t.startsWith('?') ? new URL(t, window.location.href).href : t")

    def reset(ok: bool) -> list[Any]:
        unlock = [on] * 2 if pickers else []
        return [None, gr.update(value=[], label=texts.model_a), gr.update(value=[], label=texts.model_b), "",
                gr.update(interactive=ok), gr.update(interactive=ok), *([off] * 4), off, *unlock, off,
                gr.update(visible=False, value="")]

    new_round.click(reset, inputs=[accepted], outputs=[*turn_outputs, share, share_box],
                    api_name=f"{prefix}_new_round", queue=False)


def launch(service: ArenaService, host: str, port: int, block: bool = True) -> tuple[gr.Blocks, str]:
    keeper = BoardKeeper(service.store, service.config.leaderboard)
    keeper.start()
    demo = build_app(service, keeper)
    demo.queue(default_concurrency_limit=service.config.limits.concurrency)
    keep_peer_address()
    _, local_url, _ = demo.launch(server_name=host, server_port=port, auth=service.config.logins(),
                                  prevent_thread_lock=True, show_error=False, quiet=True, ssr_mode=False,
                                  footer_links=[], mcp_server=False, css=CSS,
                                  app_kwargs={"middleware": [Middleware(PageLanguage,
                                                                        language=service.texts.html_lang)]})
    return demo, local_url
