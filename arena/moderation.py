"""An optional check of each prompt before any model sees it.

Two kinds, one per arena (config `moderation`): a Python callable named `package.module:function`
(called with the prompt; a true result refuses it), or an OpenAI-compatible moderation endpoint
(`POST {url}/moderations` with `{"input": prompt}`; refused when any result is `flagged`).
A check that cannot be made (the endpoint is down, answers nonsense, the callable raises) refuses
the prompt as well: an arena that promised moderation does not silently drop it."""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from jeval.arena.config import Moderation
from jeval.errors import JevalError

log = logging.getLogger(__name__)


class ModerationUnavailable(Exception):
    """The check could not be made; the prompt is refused."""


def load_callable(path: str) -> Callable[[str], Any]:
    module_name, _, name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise JevalError(f"moderation.callable: cannot import {module_name!r} ({e})") from None
    found = getattr(module, name, None)
    if not callable(found):
        raise JevalError(f"moderation.callable: {module_name!r} has no function {name!r}")
    return found


@dataclass(frozen=True)
class Moderator:
    settings: Moderation
    check: Callable[[str], Any] | None = None

    @classmethod
    def build(cls, settings: Moderation) -> Moderator:
        if settings.callable:
            return cls(settings, load_callable(settings.callable))
        if settings.api_key_env and not os.environ.get(settings.api_key_env):
            raise JevalError(f"moderation: environment variable {settings.api_key_env} (its API key) is not set")
        return cls(settings)

    async def refuses(self, prompt: str) -> bool:
        """Whether `prompt` must not be sent; ModerationUnavailable when that cannot be told."""
        if self.check is not None:
            try:
                return bool(await asyncio.to_thread(self.check, prompt))
            except Exception as e:
                log.warning("arena: moderation callable failed: %s", " ".join(str(e).split())[:300])
                raise ModerationUnavailable(str(e)) from None
        return await self._ask_endpoint(prompt)

    async def _ask_endpoint(self, prompt: str) -> bool:
        url = f"{str(self.settings.url).rstrip('/')}/moderations"
        body: dict[str, Any] = {"input": prompt}
        if self.settings.model:
            body["model"] = self.settings.model
        headers = {}
        if self.settings.api_key_env:
            headers["Authorization"] = f"Bearer {os.environ.get(self.settings.api_key_env, '')}"
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout_s) as client:
                response = await client.post(url, json=body, headers=headers)
            response.raise_for_status()
            results = response.json()["results"]
            if not isinstance(results, list) or not results:
                raise ValueError("no results")
            return any(bool(r["flagged"]) for r in results)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            log.warning("arena: moderation endpoint %s failed: %s", url, " ".join(str(e).split())[:300])
            raise ModerationUnavailable(str(e)) from None
