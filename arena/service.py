"""What the arena does, apart from its pages: draw a pair, stream both answers concurrently,
store turns, accept one vote per battle and reveal the names. The Gradio app only renders this.

A battle's identities live in `BattleState`, which the app keeps in `gr.State` (server-side only).

Answers are bounded and cleaned as they stream: each model's answer stops at its
`max_answer_chars` (an endpoint that ignores max_tokens cannot stream without end), and a model
configured with `thinking` shows only the answer after its thinking block. A model whose endpoint
fails is left out of the draw for a while (`health.cooldown_s`), and a first prompt that met it
goes to a new pair by itself (`play`)."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from jeval.arena.clients import ClientInfo
from jeval.arena.config import ArenaConfig, ArenaModel
from jeval.arena.identity import FLAG, IdentityDetector, names_for
from jeval.arena.moderation import ModerationUnavailable, Moderator
from jeval.arena.sampling import draw_pair
from jeval.arena.store import Turn, VoteLimits, VoteRejected, VoteStore
from jeval.arena.texts import EN, Texts, texts_for, translate
from jeval.errors import JevalError
from jeval.models.client import ClientConfig, OpenAIClient
from jeval.reasoning import Reasoning, separate

log = logging.getLogger(__name__)

FAILED_PANE = EN.failed_pane
_CAPPED = object()


@dataclass
class BattleState:
    battle_id: str
    mode: str
    model_a: str
    model_b: str
    prompts: list[str] = field(default_factory=list)
    answers_a: list[str] = field(default_factory=list)
    answers_b: list[str] = field(default_factory=list)
    status: str = "idle"
    flags: list[str] = field(default_factory=list)
    truncated_a: list[bool] = field(default_factory=list)
    truncated_b: list[bool] = field(default_factory=list)
    failed_sides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Progress:
    """Both answers of the turn so far (thinking blocks left out). `thinking_*`: the model is still
    inside its thinking block; `truncated_*`: its answer reached the cap; `state`: the battle this
    belongs to and `retried`: a new battle replaced one whose model failed (see `play`)."""

    answer_a: str
    answer_b: str
    failed_a: bool = False
    failed_b: bool = False
    done: bool = False
    thinking_a: bool = False
    thinking_b: bool = False
    truncated_a: bool = False
    truncated_b: bool = False
    state: BattleState | None = None
    retried: bool = False


@dataclass(frozen=True)
class Reveal:
    model_a: str
    model_b: str
    winner: str
    flagged: bool


class UserError(JevalError):
    """Something the person in front of the page should be told (too long, limit reached, ...).
    The message is English; with `key` (a field of `Texts`) and its `fields`, the page shows it
    in the arena's language."""

    def __init__(self, message: str, key: str | None = None, **fields: Any):
        super().__init__(message)
        self.key = key
        self.fields = fields

    @classmethod
    def of(cls, key: str, **fields: Any) -> UserError:
        return cls(getattr(EN, key).format(**fields), key, **fields)

    def shown(self, texts: Texts) -> str:
        return getattr(texts, self.key).format(**self.fields) if self.key else translate(str(self), texts)


class Outages:
    """Models whose endpoint failed recently, left out of the draw until their cooldown ends."""

    def __init__(self, cooldown_s: float):
        self.cooldown_s = cooldown_s
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def failed(self, name: str) -> None:
        with self._lock:
            self._until[name] = time.monotonic() + self.cooldown_s

    def answered(self, name: str) -> None:
        with self._lock:
            self._until.pop(name, None)

    def down(self) -> set[str]:
        now = time.monotonic()
        with self._lock:
            return {name for name, until in self._until.items() if until > now}


class ArenaService:
    def __init__(self, config: ArenaConfig, store: VoteStore, rng: random.Random | None = None):
        self.config = config
        self.store = store
        self.rng = rng or random.SystemRandom()
        self.detector = IdentityDetector.build(
            [n for m in config.models for n in names_for(m.name, m.model, (*m.aliases, *m.leak_words))],
            config.vendor_terms)
        self._clients: dict[tuple[int, str], OpenAIClient] = {}
        self.texts = texts_for(config.ui.language)
        self.outages = Outages(config.health.cooldown_s)
        self.moderator = Moderator.build(config.moderation) if config.moderation else None

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.config.models]

    def client(self, model: ArenaModel) -> OpenAIClient:
        """One client per model and event loop (the SDK's connections belong to the loop that made them)."""
        key = (id(asyncio.get_running_loop()), model.name)
        if key not in self._clients:
            self._clients[key] = OpenAIClient(ClientConfig(
                (model.base_url,), model.model, model.api_key(), concurrency=self.config.limits.concurrency,
                timeout_s=self.config.limits.request_timeout_s, max_retries=1, backoff_s=0.2))
        return self._clients[key]

    async def aclose(self) -> None:
        loop = id(asyncio.get_running_loop())
        for key in [k for k in self._clients if k[0] == loop]:
            await self._clients.pop(key).aclose()

    def session_key(self, raw: str) -> str:
        return self.store.hash_session(raw)

    def health(self) -> dict[str, str]:
        """Each model's state in the draw: "up", or "down" while its cooldown after a failure lasts."""
        down = self.outages.down()
        return {name: "down" if name in down else "up" for name in self.model_names}

    def new_battle(self, session: str, pair: tuple[str, str] | None = None) -> BattleState:
        """An anonymous battle (pair drawn by weight among the models not down, sides random) or,
        with `pair`, a side-by-side one."""
        if pair is None:
            down = self.outages.down()
            live = [m for m in self.config.models if m.name not in down]
            if len(live) < 2:
                raise UserError.of("not_enough_models")
            a, b = draw_pair([m.name for m in live], [m.weight for m in live], self.rng)
            mode = "anony"
        else:
            a, b = pair
            if a == b:
                raise UserError.of("pick_two_different")
            self.config.model(a), self.config.model(b)
            mode = "side_by_side"
        state = BattleState(uuid.uuid4().hex, mode, a, b)
        self.store.create_battle(state.battle_id, mode, a, b, session)
        return state

    def check_prompt(self, state: BattleState | None, prompt: str) -> str:
        prompt = (prompt or "").strip()
        limits = self.config.limits
        if not prompt:
            raise UserError.of("write_prompt")
        if len(prompt) > limits.max_prompt_chars:
            raise UserError.of("prompt_too_long", length=len(prompt), limit=limits.max_prompt_chars)
        if state is not None:
            if state.status in ("voted", "failed"):
                raise UserError.of("battle_over")
            if state.status == "streaming":
                raise UserError.of("still_answering")
            if len(state.prompts) >= limits.max_turns:
                raise UserError.of("turns_reached", limit=limits.max_turns)
        return prompt

    async def moderate(self, prompt: str) -> None:
        """Refuse a prompt the configured moderation flags (or cannot check); nothing without one."""
        if self.moderator is None:
            return
        try:
            refused = await self.moderator.refuses(prompt)
        except ModerationUnavailable:
            raise UserError.of("moderation_unavailable") from None
        if refused:
            log.info("arena: a prompt was refused by moderation")
            raise UserError.of("moderation_blocked")

    def _messages(self, model: ArenaModel, prompts: list[str], answers: list[str]) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": model.system_prompt}] if model.system_prompt else []
        for p, a in zip(prompts, answers):
            messages += [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": prompts[len(answers)]})
        return messages

    async def _pump(self, side: str, model: ArenaModel, messages: list, queue: asyncio.Queue) -> None:
        """Stream one model's answer into `queue` as (side, text) items, then (side, _CAPPED) if the
        answer reached the model's cap (the stream is closed there), (side, error) if it failed,
        and always (side, None) last."""
        params = {k: v for k, v in model.params.items() if k not in ("max_tokens", "temperature", "stop")}
        room = model.max_answer_chars
        stream = None
        try:
            stream = self.client(model).stream_chat(
                messages, max_tokens=model.params["max_tokens"], temperature=model.params.get("temperature", 0.7),
                stop=model.params.get("stop"), **params)
            async for piece in stream:
                if len(piece) >= room:
                    await queue.put((side, piece[:room]))
                    await queue.put((side, _CAPPED))
                    log.info("arena: model %s reached its answer cap of %d characters", model.name,
                             model.max_answer_chars)
                    break
                room -= len(piece)
                await queue.put((side, piece))
            self.outages.answered(model.name)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("arena: model %s failed: %s", model.name, " ".join(str(e).split())[:300])
            self.outages.failed(model.name)
            await queue.put((side, e))
        finally:
            if isinstance(stream, AsyncGenerator):
                await stream.aclose()
            await queue.put((side, None))

    @staticmethod
    def _shown(model: ArenaModel, raw: str) -> tuple[str, bool]:
        """The answer as the panes show it, and whether the model is inside an unfinished thinking block."""
        if model.thinking is None:
            return raw, False
        found = separate(raw, Reasoning(model.thinking.start, model.thinking.end, budget=0))
        return found.answer, not found.terminated

    async def run_turn(self, state: BattleState, prompt: str) -> AsyncIterator[Progress]:
        """Stream both answers to `prompt`; the last Progress has done=True and the turn is stored."""
        prompt = self.check_prompt(state, prompt)
        state.status = "streaming"
        state.prompts.append(prompt)
        started = time.time()
        models = {"a": self.config.model(state.model_a), "b": self.config.model(state.model_b)}
        raw = {"a": "", "b": ""}
        shown = {"a": ("", False), "b": ("", False)}
        capped: set[str] = set()
        errors: dict[str, str] = {}
        queue: asyncio.Queue = asyncio.Queue()

        def progress(done: bool = False) -> Progress:
            return Progress(shown["a"][0], shown["b"][0], "a" in errors, "b" in errors, done,
                            shown["a"][1] and not done, shown["b"][1] and not done, "a" in capped, "b" in capped,
                            state)

        yield progress()
        messages_a = self._messages(models["a"], state.prompts, state.answers_a)
        messages_b = self._messages(models["b"], state.prompts, state.answers_b)
        tasks = [asyncio.create_task(self._pump("a", models["a"], messages_a, queue)),
                 asyncio.create_task(self._pump("b", models["b"], messages_b, queue))]
        try:
            open_sides = 2
            while open_sides:
                side, item = await queue.get()
                if item is None:
                    open_sides -= 1
                    continue
                if item is _CAPPED:
                    capped.add(side)
                    continue
                if isinstance(item, Exception):
                    errors[side] = f"{type(item).__name__}: {' '.join(str(item).split())[:500]}"
                    continue
                raw[side] += item
                shown[side] = self._shown(models[side], raw[side])
                yield progress()
        finally:
            for task in tasks:
                task.cancel()
            if open_sides:
                state.status = "failed"
        texts = {side: shown[side][0] for side in ("a", "b")}
        state.answers_a.append(texts["a"])
        state.answers_b.append(texts["b"])
        state.truncated_a.append("a" in capped)
        state.truncated_b.append("b" in capped)
        found = self.detector.find([*state.prompts, *state.answers_a, *state.answers_b])
        state.flags = [FLAG] if found else []
        if found:
            log.info("arena: battle %s names %s; its vote will be flagged", state.battle_id, ", ".join(found))
        await asyncio.to_thread(self.store.add_turn, state.battle_id, len(state.prompts) - 1,
                                Turn(prompt, texts["a"], texts["b"], errors.get("a"), errors.get("b")),
                                started, state.flags)
        state.status = "failed" if errors else "ready"
        state.failed_sides = tuple(sorted(errors))
        yield progress(done=True)

    async def play(self, session: str, state: BattleState | None, prompt: str,
                   pair: tuple[str, str] | None = None) -> AsyncIterator[Progress]:
        """One turn of `state`, or the first of a new battle (drawn, or `pair` side by side).

        When a model fails on the first turn of a drawn battle, that battle stays uncounted, the
        model is out of the draw for its cooldown, and the same prompt goes to a new pair (up to
        `health.retries` times): the person does not retype it. Every Progress names its battle."""
        prompt = self.check_prompt(state, prompt)
        await self.moderate(prompt)
        if state is None:
            state = self.new_battle(session, pair)
        retries = self.config.health.retries
        retried = False
        while True:
            last = None
            async for p in self.run_turn(state, prompt):
                if p.done:
                    last = replace(p, retried=retried)
                else:
                    yield replace(p, retried=retried)
            assert last is not None
            failed = last.failed_a or last.failed_b
            if not failed or state.mode != "anony" or len(state.prompts) > 1 or retries <= 0:
                yield last
                return
            retries -= 1
            try:
                state = self.new_battle(session)
            except UserError:
                yield last
                return
            log.info("arena: a model failed; the prompt goes to a new pair (battle %s)", state.battle_id)
            retried = True

    async def regenerate(self, state: BattleState | None) -> AsyncIterator[Progress]:
        """Both answers of the last turn again, from the same two models, before the vote: the turn
        is taken back (also from the store) and asked once more."""
        if state is None or state.status != "ready" or not state.prompts:
            raise UserError.of("nothing_to_regenerate")
        try:
            await asyncio.to_thread(self.store.drop_turn, state.battle_id, len(state.prompts) - 1)
        except VoteRejected:
            raise UserError.of("already_voted") from None
        prompt = state.prompts.pop()
        state.answers_a.pop()
        state.answers_b.pop()
        state.truncated_a.pop()
        state.truncated_b.pop()
        state.status = "idle"
        async for p in self.run_turn(state, prompt):
            yield p

    def vote(self, state: BattleState | None, session: str, winner: str, client: ClientInfo | None = None) -> Reveal:
        """Store the vote with its client (address, user, browser; hashed) and the model names its
        battle mentions. Refused, with nothing changed, when the battle is not votable or a limit
        is reached: votes per hour of this session, client address and user, or too soon after
        the answers finished (`limits.min_read_s`)."""
        if state is None or not state.prompts:
            raise UserError("there is no battle to vote on yet")
        if state.status == "failed":
            raise UserError("a model failed in this battle, so it is not counted; start a new round")
        if state.status == "voted":
            raise UserError("this battle already has your vote; start a new round")
        if state.status != "ready":
            raise UserError("wait until both answers are finished")
        client = client or ClientInfo()
        limits = self.config.limits
        leaks = self.detector.find([*state.prompts, *state.answers_a, *state.answers_b])
        try:
            self.store.record_vote(
                state.battle_id, session, winner, state.flags, leaks=leaks,
                voter=self.store.voter(client.address, client.user, client.agent),
                limits=VoteLimits(limits.votes_per_session_per_hour, limits.votes_per_address_per_hour,
                                  limits.votes_per_user_per_hour, limits.min_read_s))
        except VoteRejected as e:
            known = e.key is not None and hasattr(self.texts, e.key)
            raise UserError(str(e), e.key if known else None, **(e.fields if known else {})) from None
        state.status = "voted"
        return Reveal(state.model_a, state.model_b, winner, bool(state.flags))
