"""What the arena does, apart from its pages: draw a pair, stream both answers concurrently,
store turns, accept one vote per battle and reveal the names. The Gradio app only renders this.

A battle's identities live in `BattleState`, which the app keeps in `gr.State` (server-side only)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from jeval.arena.config import ArenaConfig, ArenaModel
from jeval.arena.identity import FLAG, IdentityDetector, names_for
from jeval.arena.sampling import draw_pair
from jeval.arena.store import Turn, VoteRejected, VoteStore
from jeval.errors import JevalError
from jeval.models.client import ClientConfig, OpenAIClient

log = logging.getLogger(__name__)

FAILED_PANE = "**Error: this model failed to answer.** The battle will not be counted; start a new round."


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


@dataclass(frozen=True)
class Progress:
    answer_a: str
    answer_b: str
    failed_a: bool = False
    failed_b: bool = False
    done: bool = False


@dataclass(frozen=True)
class Reveal:
    model_a: str
    model_b: str
    winner: str
    flagged: bool


class UserError(JevalError):
    """Something the person in front of the page should be told (too long, limit reached, ...)."""


class ArenaService:
    def __init__(self, config: ArenaConfig, store: VoteStore, rng: random.Random | None = None):
        self.config = config
        self.store = store
        self.rng = rng or random.SystemRandom()
        self.detector = IdentityDetector.build(
            [n for m in config.models for n in names_for(m.name, m.model, m.aliases)], config.vendor_terms)
        self._clients: dict[tuple[int, str], OpenAIClient] = {}

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

    def new_battle(self, session: str, pair: tuple[str, str] | None = None) -> BattleState:
        """An anonymous battle (pair drawn by weight, sides random) or, with `pair`, a side-by-side one."""
        if pair is None:
            a, b = draw_pair(self.model_names, [m.weight for m in self.config.models], self.rng)
            mode = "anony"
        else:
            a, b = pair
            if a == b:
                raise UserError("pick two different models")
            self.config.model(a), self.config.model(b)
            mode = "side_by_side"
        state = BattleState(uuid.uuid4().hex, mode, a, b)
        self.store.create_battle(state.battle_id, mode, a, b, session)
        return state

    def check_prompt(self, state: BattleState | None, prompt: str) -> str:
        prompt = (prompt or "").strip()
        limits = self.config.limits
        if not prompt:
            raise UserError("write a prompt first")
        if len(prompt) > limits.max_prompt_chars:
            raise UserError(f"the prompt has {len(prompt)} characters; the limit is {limits.max_prompt_chars}")
        if state is not None:
            if state.status in ("voted", "failed"):
                raise UserError("this battle is over; start a new round")
            if state.status == "streaming":
                raise UserError("the answers are still coming")
            if len(state.prompts) >= limits.max_turns:
                raise UserError(f"this battle has reached its {limits.max_turns} turns; vote, then start a new round")
        return prompt

    def _messages(self, model: ArenaModel, prompts: list[str], answers: list[str]) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": model.system_prompt}] if model.system_prompt else []
        for p, a in zip(prompts, answers):
            messages += [{"role": "user", "content": p}, {"role": "assistant", "content": a}]
        messages.append({"role": "user", "content": prompts[len(answers)]})
        return messages

    async def _pump(self, side: str, model: ArenaModel, messages: list, queue: asyncio.Queue) -> None:
        try:
            params = {k: v for k, v in model.params.items() if k not in ("max_tokens", "temperature", "stop")}
            async for piece in self.client(model).stream_chat(
                    messages, max_tokens=model.params["max_tokens"], temperature=model.params.get("temperature", 0.7),
                    stop=model.params.get("stop"), **params):
                await queue.put((side, piece))
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("arena: model %s failed: %s", model.name, " ".join(str(e).split())[:300])
            await queue.put((side, e))
        finally:
            await queue.put((side, None))

    async def run_turn(self, state: BattleState, prompt: str) -> AsyncIterator[Progress]:
        """Stream both answers to `prompt`; the last Progress has done=True and the turn is stored."""
        prompt = self.check_prompt(state, prompt)
        state.status = "streaming"
        state.prompts.append(prompt)
        started = time.time()
        model_a, model_b = self.config.model(state.model_a), self.config.model(state.model_b)
        texts = {"a": "", "b": ""}
        errors: dict[str, str] = {}
        queue: asyncio.Queue = asyncio.Queue()
        yield Progress("", "")
        messages_a = self._messages(model_a, state.prompts, state.answers_a)
        messages_b = self._messages(model_b, state.prompts, state.answers_b)
        tasks = [asyncio.create_task(self._pump("a", model_a, messages_a, queue)),
                 asyncio.create_task(self._pump("b", model_b, messages_b, queue))]
        try:
            open_sides = 2
            while open_sides:
                side, item = await queue.get()
                if item is None:
                    open_sides -= 1
                    continue
                if isinstance(item, Exception):
                    errors[side] = f"{type(item).__name__}: {' '.join(str(item).split())[:500]}"
                    continue
                texts[side] += item
                yield Progress(texts["a"], texts["b"], "a" in errors, "b" in errors)
        finally:
            for task in tasks:
                task.cancel()
            if open_sides:
                state.status = "failed"
        state.answers_a.append(texts["a"])
        state.answers_b.append(texts["b"])
        found = self.detector.find([*state.prompts, *state.answers_a, *state.answers_b])
        state.flags = [FLAG] if found else []
        if found:
            log.info("arena: battle %s names %s; its vote will be flagged", state.battle_id, ", ".join(found))
        await asyncio.to_thread(self.store.add_turn, state.battle_id, len(state.prompts) - 1,
                                Turn(prompt, texts["a"], texts["b"], errors.get("a"), errors.get("b")),
                                started, state.flags)
        state.status = "failed" if errors else "ready"
        yield Progress(texts["a"], texts["b"], "a" in errors, "b" in errors, done=True)

    def vote(self, state: BattleState | None, session: str, winner: str) -> Reveal:
        if state is None or not state.prompts:
            raise UserError("there is no battle to vote on yet")
        if state.status == "failed":
            raise UserError("a model failed in this battle, so it is not counted; start a new round")
        if state.status == "voted":
            raise UserError("this battle already has your vote; start a new round")
        if state.status != "ready":
            raise UserError("wait until both answers are finished")
        limit = self.config.limits.votes_per_session_per_hour
        if self.store.votes_since(session, time.time() - 3600) >= limit:
            raise UserError(f"you have reached the limit of {limit} votes per hour; please come back later")
        try:
            self.store.record_vote(state.battle_id, session, winner, state.flags)
        except VoteRejected as e:
            raise UserError(str(e)) from None
        state.status = "voted"
        return Reveal(state.model_a, state.model_b, winner, bool(state.flags))
