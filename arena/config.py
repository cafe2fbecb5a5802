"""The arena's configuration file (YAML), read into typed records with one-line errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jeval.errors import JevalError

_Number = TypeVar("_Number", int, float)

GENERATION_KEYS = {"max_tokens", "temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty",
                   "repetition_penalty", "stop", "seed"}


@dataclass(frozen=True)
class ArenaModel:
    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    weight: float = 1.0
    aliases: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=lambda: {"max_tokens": 512, "temperature": 0.7})
    system_prompt: str | None = None

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise JevalError(f"model {self.name!r}: environment variable {self.api_key_env} (its API key) is not set")
        return value


@dataclass(frozen=True)
class Limits:
    max_prompt_chars: int = 4000
    max_turns: int = 5
    votes_per_session_per_hour: int = 60
    request_timeout_s: float = 120.0
    concurrency: int = 16


@dataclass(frozen=True)
class LeaderboardSettings:
    bootstrap: int = 100
    prior: float = 1e-6
    seed: int = 0


@dataclass(frozen=True)
class ArenaConfig:
    models: tuple[ArenaModel, ...]
    store: str = "sqlite:///arena.sqlite"
    title: str = "jeval Chatbot Arena"
    limits: Limits = Limits()
    leaderboard: LeaderboardSettings = LeaderboardSettings()
    login_env: str | None = None
    vendor_terms: tuple[str, ...] = ()

    def model(self, name: str) -> ArenaModel:
        for m in self.models:
            if m.name == name:
                return m
        raise JevalError(f"no model named {name!r} in the arena")

    def logins(self) -> list[tuple[str, str]] | None:
        """`user:password` pairs, comma-separated, from the environment variable `login_env`."""
        if not self.login_env:
            return None
        raw = os.environ.get(self.login_env, "")
        pairs = [p.strip() for p in raw.split(",") if p.strip()]
        if not pairs or any(":" not in p or not p.split(":", 1)[0] or not p.split(":", 1)[1] for p in pairs):
            raise JevalError(f"login_env: environment variable {self.login_env} must hold user:password pairs "
                             "separated by commas")
        return [(user, password) for user, _, password in (p.partition(":") for p in pairs)]


def _keys(section: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise JevalError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise JevalError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _number(section: dict[str, Any], key: str, default: float, where: str, kind: type[_Number],
            minimum: float | None = None) -> _Number:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise JevalError(f"{where}.{key}: expected {'an integer' if kind is int else 'a number'}, got {value!r}")
    if minimum is not None and value < minimum:
        raise JevalError(f"{where}.{key}: must be at least {minimum}, got {value!r}")
    return kind(value)


def _model(raw: Any, i: int, source: str) -> ArenaModel:
    where = f"{source}: models[{i}]"
    raw = _mapping(raw, where)
    _keys(raw, {"name", "base_url", "model", "api_key_env", "weight", "aliases", "params", "system_prompt"}, where)
    for key in ("name", "base_url", "model"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise JevalError(f"{where}: `{key}` is required (a non-empty string)")
    params = _mapping(raw.get("params"), f"{where}.params") or {"max_tokens": 512, "temperature": 0.7}
    _keys(params, GENERATION_KEYS, f"{where}.params")
    params.setdefault("max_tokens", 512)
    if not isinstance(params["max_tokens"], int) or params["max_tokens"] < 1:
        raise JevalError(f"{where}.params.max_tokens: must be a positive integer, got {params['max_tokens']!r}")
    aliases = raw.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise JevalError(f"{where}.aliases: expected a list of names")
    weight = _number(raw, "weight", 1.0, where, float)
    if weight <= 0:
        raise JevalError(f"{where}.weight: must be above 0, got {weight}")
    return ArenaModel(raw["name"].strip(), raw["base_url"].strip(), raw["model"].strip(), raw.get("api_key_env"),
                      weight, tuple(aliases), params, raw.get("system_prompt"))


def parse_config(raw: Any, source: str = "config") -> ArenaConfig:
    raw = _mapping(raw, source)
    _keys(raw, {"models", "store", "title", "limits", "leaderboard", "login_env", "vendor_terms"}, source)
    models_raw = raw.get("models")
    if not isinstance(models_raw, list) or len(models_raw) < 2:
        raise JevalError(f"{source}: `models` must list at least two models")
    models = tuple(_model(m, i, source) for i, m in enumerate(models_raw))
    names = [m.name for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise JevalError(f"{source}: model names must be unique; repeated: {', '.join(duplicates)}")
    lim = _mapping(raw.get("limits"), f"{source}: limits")
    _keys(lim, set(Limits.__dataclass_fields__), f"{source}: limits")
    limits = Limits(
        _number(lim, "max_prompt_chars", Limits.max_prompt_chars, "limits", int, 1),
        _number(lim, "max_turns", Limits.max_turns, "limits", int, 1),
        _number(lim, "votes_per_session_per_hour", Limits.votes_per_session_per_hour, "limits", int, 1),
        _number(lim, "request_timeout_s", Limits.request_timeout_s, "limits", float, 1),
        _number(lim, "concurrency", Limits.concurrency, "limits", int, 1),
    )
    lb = _mapping(raw.get("leaderboard"), f"{source}: leaderboard")
    _keys(lb, set(LeaderboardSettings.__dataclass_fields__), f"{source}: leaderboard")
    leaderboard = LeaderboardSettings(_number(lb, "bootstrap", 100, "leaderboard", int, 0),
                                      _number(lb, "prior", 1e-6, "leaderboard", float, 0),
                                      _number(lb, "seed", 0, "leaderboard", int))
    store = raw.get("store", ArenaConfig.store)
    if not isinstance(store, str) or not store.strip():
        raise JevalError(f"{source}: `store` must be a database URL (e.g. sqlite:///arena.sqlite)")
    terms = raw.get("vendor_terms") or []
    if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
        raise JevalError(f"{source}: vendor_terms must be a list of words")
    return ArenaConfig(models, store.strip(), str(raw.get("title", ArenaConfig.title)), limits, leaderboard,
                       raw.get("login_env"), tuple(terms))


def load_config(path: Path) -> ArenaConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JevalError(f"{path}: arena config not found") from None
    except yaml.YAMLError as e:
        raise JevalError(f"{path}: not valid YAML ({' '.join(str(e).split())})") from None
    config = parse_config(raw, str(path))
    if config.store.startswith("sqlite:///") and not config.store.startswith("sqlite:////"):
        relative = config.store[len("sqlite:///"):]
        if relative and relative != ":memory:":
            config = ArenaConfig(config.models, f"sqlite:///{(path.parent / relative).resolve()}", config.title,
                                 config.limits, config.leaderboard, config.login_env, config.vendor_terms)
    return config
