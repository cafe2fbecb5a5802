"""The arena's Gradio pages: Battle (anonymous), Side-by-side (named) and Leaderboard.

Nothing that names the battle's models is sent to the browser before the vote: identities stay
in `gr.State` (server-side), model names for the side-by-side pickers and the leaderboard are
loaded only when those tabs are opened, and a failing endpoint's error is logged, not shown."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from gradio.components import Component

from jeval.arena.battles import select
from jeval.arena.ratings import RatingOptions, compute
from jeval.arena.render import chat_messages
from jeval.arena.service import FAILED_PANE, ArenaService, BattleState, UserError
from jeval.errors import JevalError

VOTES = (("model_a", "A is better", "vote-a"), ("model_b", "B is better", "vote-b"),
         ("tie", "Tie", "vote-tie"), ("tie (bothbad)", "Both are bad", "vote-bothbad"))
STREAM_EVERY_S = 0.05

Pane = list[dict[str, str]]


def _session(service: ArenaService, request: gr.Request) -> str:
    return service.session_key(request.username or request.session_hash or "anonymous")


def _panes(state: BattleState | None, failed_a: bool = False, failed_b: bool = False) -> tuple[Pane, Pane]:
    if state is None:
        return [], []
    return (chat_messages(state.prompts, state.answers_a, FAILED_PANE if failed_a else None),
            chat_messages(state.prompts, state.answers_b, FAILED_PANE if failed_b else None))


def _streaming(state: BattleState, a: str, b: str, failed_a: bool, failed_b: bool) -> tuple[Pane, Pane]:
    done_a, done_b = [*state.answers_a, a], [*state.answers_b, b]
    return (chat_messages(state.prompts, done_a, FAILED_PANE if failed_a else None),
            chat_messages(state.prompts, done_b, FAILED_PANE if failed_b else None))


def leaderboard_tables(service: ArenaService) -> tuple[str, list[list[Any]], list[list[Any]], list[list[Any]]]:
    battles = select(service.store.battles())
    if not battles:
        return "No counted votes yet.", [], [], []
    s = service.config.leaderboard
    report = compute(battles, RatingOptions(bootstrap=s.bootstrap, prior=s.prior, seed=s.seed))
    rows = [[r.rank, r.model, round(r.rating, 1), f"{r.lower - r.rating:+.1f} / {r.upper - r.rating:+.1f}",
             round(r.elo, 1), r.battles, f"{r.wins}-{r.losses}-{r.ties}"] for r in report.rows]
    rates = [[m, *["" if i == j or report.win_rates[i, j] != report.win_rates[i, j]
                   else round(float(report.win_rates[i, j]), 2) for j in range(len(report.models))]]
             for i, m in enumerate(report.models)]
    counts = [[m, *[int(report.battle_counts[i, j]) for j in range(len(report.models))]]
              for i, m in enumerate(report.models)]
    note = (f"{report.battles} counted battles (anonymous, unflagged); Bradley-Terry ratings with "
            f"{s.bootstrap} bootstrap rounds, 95% intervals; online Elo for comparison.")
    return note, rows, rates, counts


def build_app(service: ArenaService) -> gr.Blocks:
    config = service.config
    with gr.Blocks(title=config.title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {config.title}")
        with gr.Tabs():
            with gr.Tab("Battle", id="battle"):
                _battle_tab(service)
            with gr.Tab("Side-by-side", id="side") as side_tab:
                side_pickers = _side_tab(service)
            with gr.Tab("Leaderboard", id="leaderboard") as board_tab:
                board = _leaderboard_tab(service)
        side_tab.select(lambda: [gr.update(choices=service.model_names)] * 2, outputs=side_pickers,
                        api_name="side_models", queue=False)
        board_tab.select(lambda: leaderboard_tables(service), outputs=board, api_name="leaderboard_on_open")
    return demo


def _vote_buttons() -> list[gr.Button]:
    with gr.Row():
        return [gr.Button(label, elem_id=eid, interactive=False) for _, label, eid in VOTES]


def _battle_tab(service: ArenaService) -> None:
    gr.Markdown("Ask anything. Two anonymous models answer; vote for the better one and their names are "
                "revealed. Votes in battles whose text names a model or its maker are kept out of the rankings.")
    state = gr.State(None)
    with gr.Row():
        chat_a = gr.Chatbot(label="Model A", elem_id="chat-a", allow_tags=False, feedback_options=None,
                         buttons=["copy"])
        chat_b = gr.Chatbot(label="Model B", elem_id="chat-b", allow_tags=False, feedback_options=None,
                         buttons=["copy"])
    status = gr.Markdown("", elem_id="battle-status")
    buttons = _vote_buttons()
    with gr.Row():
        prompt = gr.Textbox(placeholder="Type your prompt and press Enter", show_label=False, elem_id="prompt",
                            scale=5)
        send = gr.Button("Send", elem_id="send", variant="primary", scale=1)
    new_round = gr.Button("New round", elem_id="new-round")
    _wire(service, state, chat_a, chat_b, status, buttons, prompt, send, new_round, pickers=None, prefix="battle")


def _side_tab(service: ArenaService) -> list[gr.Dropdown]:
    gr.Markdown("Pick both models yourself. These votes are stored but never enter the anonymous rankings.")
    state = gr.State(None)
    with gr.Row():
        pick_a = gr.Dropdown(choices=[], label="Model A", elem_id="side-pick-a")
        pick_b = gr.Dropdown(choices=[], label="Model B", elem_id="side-pick-b")
    with gr.Row():
        chat_a = gr.Chatbot(label="Model A", elem_id="side-chat-a", allow_tags=False, feedback_options=None,
                         buttons=["copy"])
        chat_b = gr.Chatbot(label="Model B", elem_id="side-chat-b", allow_tags=False, feedback_options=None,
                         buttons=["copy"])
    status = gr.Markdown("", elem_id="side-status")
    buttons = _vote_buttons_side()
    with gr.Row():
        prompt = gr.Textbox(placeholder="Type your prompt and press Enter", show_label=False, elem_id="side-prompt",
                            scale=5)
        send = gr.Button("Send", elem_id="side-send", variant="primary", scale=1)
    new_round = gr.Button("New round", elem_id="side-new-round")
    _wire(service, state, chat_a, chat_b, status, buttons, prompt, send, new_round, pickers=(pick_a, pick_b),
          prefix="side")
    return [pick_a, pick_b]


def _vote_buttons_side() -> list[gr.Button]:
    with gr.Row():
        return [gr.Button(label, elem_id=f"side-{eid}", interactive=False) for _, label, eid in VOTES]


def _leaderboard_tab(service: ArenaService) -> list[Component]:
    note = gr.Markdown("Open this tab to load the leaderboard.", elem_id="board-note")
    table = gr.Dataframe(headers=["rank", "model", "rating", "95% CI", "online Elo", "battles", "W-L-T"],
                         elem_id="board-table", interactive=False)
    gr.Markdown("Win rate of row over column (decisive battles)")
    rates = gr.Dataframe(elem_id="board-winrates", interactive=False)
    gr.Markdown("Battle counts")
    counts = gr.Dataframe(elem_id="board-counts", interactive=False)
    refresh = gr.Button("Refresh", elem_id="board-refresh")
    outputs: list[Component] = [note, table, rates, counts]
    refresh.click(lambda: leaderboard_tables(service), outputs=outputs, api_name="leaderboard")
    return outputs


def _wire(service: ArenaService, state: gr.State, chat_a: gr.Chatbot, chat_b: gr.Chatbot, status: gr.Markdown,
          buttons: list[gr.Button], prompt: gr.Textbox, send: gr.Button, new_round: gr.Button,
          pickers: tuple[gr.Dropdown, gr.Dropdown] | None, prefix: str) -> None:
    off, on = gr.update(interactive=False), gr.update(interactive=True)
    turn_outputs: list[Component] = [state, chat_a, chat_b, status, prompt, send, *buttons]
    if pickers:
        turn_outputs += list(pickers)

    def keep(state: BattleState | None, message: str, votes_open: bool = False) -> list[Any]:
        a, b = _panes(state)
        votable = votes_open and state is not None and state.status == "ready"
        locked = [off] * 2 if pickers and state is not None else ([gr.update()] * 2 if pickers else [])
        return [state, a, b, message, gr.update(), gr.update(), *([on if votable else off] * 4), *locked]

    async def turn(text: str, battle: BattleState | None, picked: tuple[Any, ...],
                   request: gr.Request) -> AsyncIterator[list[Any]]:
        session = _session(service, request)
        try:
            text = service.check_prompt(battle, text)
            if battle is None:
                pair = None
                if pickers:
                    if not all(picked):
                        raise UserError("pick both models first")
                    pair = (picked[0], picked[1])
                battle = service.new_battle(session, pair)
        except (UserError, JevalError) as e:
            yield keep(battle, f"**Note:** {e}", votes_open=True)
            return
        lock = [off] * 2 if pickers else []
        last = 0.0
        async for p in service.run_turn(battle, text):
            now = time.monotonic()
            if not p.done and now - last < STREAM_EVERY_S:
                continue
            last = now
            if p.done:
                a, b = _panes(battle, p.failed_a, p.failed_b)
                failed = p.failed_a or p.failed_b
                message = ("**A model failed to answer; this battle is not counted.** Start a new round." if failed
                           else "Vote now, or keep the conversation going.")
                votes = [off if failed else on] * 4
                yield [battle, a, b, message, gr.update(value="", interactive=not failed),
                       gr.update(interactive=not failed), *votes, *lock]
            else:
                a, b = _streaming(battle, p.answer_a, p.answer_b, p.failed_a, p.failed_b)
                yield [battle, a, b, "Answering…", gr.update(value="", interactive=False), off, *([off] * 4), *lock]

    def on_vote(winner: str) -> Callable[[BattleState | None, gr.Request], list[Any]]:
        def vote(battle: BattleState | None, request: gr.Request) -> list[Any]:
            session = _session(service, request)
            try:
                reveal = service.vote(battle, session, winner)
            except (UserError, JevalError) as e:
                return [battle, f"**Note:** {e}", gr.update(), gr.update(), gr.update(), gr.update(),
                        *([gr.update()] * 4)]
            note = (" This battle named a model or its maker, so it is kept out of the rankings." if reveal.flagged
                    else "")
            message = f"Thanks for voting! Model A: **{reveal.model_a}** · Model B: **{reveal.model_b}**.{note}"
            return [battle, message, gr.update(label=f"Model A: {reveal.model_a}"),
                    gr.update(label=f"Model B: {reveal.model_b}"), off, off, *([off] * 4)]
        return vote

    for (winner, _, eid), button in zip(VOTES, buttons):
        button.click(on_vote(winner), inputs=[state], outputs=[state, status, chat_a, chat_b, prompt, send, *buttons],
                     api_name=f"{prefix}_{eid.replace('-', '_')}")

    async def on_send_picked(text: str, battle: BattleState | None, pick_a: Any, pick_b: Any,
                             request: gr.Request) -> AsyncIterator[list[Any]]:
        async for update in turn(text, battle, (pick_a, pick_b), request):
            yield update

    async def on_send_drawn(text: str, battle: BattleState | None, request: gr.Request) -> AsyncIterator[list[Any]]:
        async for update in turn(text, battle, (), request):
            yield update

    on_send: Callable[..., AsyncIterator[list[Any]]] = on_send_picked if pickers else on_send_drawn

    inputs = [prompt, state, *(pickers or [])]
    send.click(on_send, inputs=inputs, outputs=turn_outputs, api_name=f"{prefix}_send")
    prompt.submit(on_send, inputs=inputs, outputs=turn_outputs, api_name=f"{prefix}_submit")

    def reset() -> list[Any]:
        unlock = [on] * 2 if pickers else []
        return [None, gr.update(value=[], label="Model A"), gr.update(value=[], label="Model B"), "",
                gr.update(value="", interactive=True), on, *([off] * 4), *unlock]

    new_round.click(reset, outputs=turn_outputs, api_name=f"{prefix}_new_round", queue=False)


def launch(service: ArenaService, host: str, port: int, block: bool = True) -> tuple[gr.Blocks, str]:
    demo = build_app(service)
    demo.queue(default_concurrency_limit=service.config.limits.concurrency)
    _, local_url, _ = demo.launch(server_name=host, server_port=port, auth=service.config.logins(),
                                  prevent_thread_lock=True, show_error=False, quiet=True, ssr_mode=False,
                                  footer_links=[], mcp_server=False)
    return demo, local_url
