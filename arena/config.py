"""The arena's configuration file (YAML), read into typed records with one-line errors."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jeval.errors import JevalError

_Number = TypeVar("_Number", int, float)

GENERATION_KEYS = {"max_tokens", "temperature", "top_p", "top_k", "frequency_penalty", "presence_penalty",
                   "repetition_penalty", "stop", "seed"}


@dataclass(frozen=True)
class Thinking:
    """A model that writes a thinking block before its answer: the panes show only the answer."""

    start: str = "<think>"
    end: str = "</think>"


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
    max_answer_chars: int = 20_000
    thinking: Thinking | None = None
    leak_words: tuple[str, ...] = ()

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise JevalError(f"model {self.name!r}: environment variable {self.api_key_env} (its API key) is not set")
        return value


@dataclass(frozen=True)
class Limits:
    """Prompt and vote limits. Votes are counted per browser session, per client address (an IPv6
    address counts by its /64 network) and per logged-in user over the last hour, and a vote is
    accepted only `min_read_s` seconds after the battle's answers finished: one client opening
    fresh sessions, or a script voting as soon as the answers arrive, meets a limit. Raise
    `votes_per_address_per_hour` where many people share one address (an office, a campus)."""

    max_prompt_chars: int = 4000
    max_turns: int = 5
    votes_per_session_per_hour: int = 60
    request_timeout_s: float = 120.0
    concurrency: int = 16
    votes_per_address_per_hour: int = 20
    votes_per_user_per_hour: int = 60
    min_read_s: float = 2.0


@dataclass(frozen=True)
class Proxies:
    """Reverse proxies in front of the arena (addresses or networks, e.g. 10.0.0.0/8). Their
    X-Forwarded-For is believed, and only theirs; `user_header` (e.g. X-Forwarded-User, set by a
    proxy that logs people in) names the user when the request comes from one of them."""

    trusted: tuple[str, ...] = ()
    user_header: str | None = None


@dataclass(frozen=True)
class LeaderboardSettings:
    """The leaderboard tab's ratings. `prior` 1.0 (a standard deviation of about 174 rating points
    on each strength) keeps an undefeated model finite and its interval honest in a small arena;
    with thousands of votes it moves ratings by a point or less. `jeval arena ratings` keeps
    FastChat's 1e-6 unless told otherwise."""

    bootstrap: int = 100
    prior: float = 1.0
    seed: int = 0
    refresh_s: float = 60.0
    min_battles: int = 30
    max_interval: float = 200.0


@dataclass(frozen=True)
class Interface:
    """`language`: ja or en, for every label, note and Gradio's own texts. `terms`: the notice a
    visitor accepts before the first prompt (None: the built-in one; an empty text: none)."""

    language: str = "ja"
    terms: str | None = None


@dataclass(frozen=True)
class Moderation:
    """An optional check of every prompt before it is sent: a Python callable
    (`package.module:function`, called with the prompt, true when it must be refused) or an
    OpenAI-compatible moderation endpoint (`url` is the API root, e.g. http://host/v1)."""

    callable: str | None = None
    url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Health:
    """A model whose endpoint fails is left out of the draw for `cooldown_s`; a prompt that met a
    failing model is sent again to a new pair up to `retries` times."""

    cooldown_s: float = 120.0
    retries: int = 2


@dataclass(frozen=True)
class ArenaConfig:
    models: tuple[ArenaModel, ...]
    store: str = "sqlite:///arena.sqlite"
    title: str = "jeval Chatbot Arena"
    limits: Limits = Limits()
    leaderboard: LeaderboardSettings = LeaderboardSettings()
    login_env: str | None = None
    vendor_terms: tuple[str, ...] = ()
    ui: Interface = Interface()
    moderation: Moderation | None = None
    health: Health = Health()
    proxies: Proxies = Proxies()

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
    _keys(raw, {"name", "base_url", "model", "api_key_env", "weight", "aliases", "params", "system_prompt",
                "max_answer_chars", "thinking", "leak_words"}, where)
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
                      weight, tuple(aliases), params, raw.get("system_prompt"),
                      _number(raw, "max_answer_chars", ArenaModel.max_answer_chars, where, int, 1),
                      _thinking(raw.get("thinking"), f"{where}.thinking"),
                      leak_words=_words(raw.get("leak_words"), f"{where}.leak_words"))


def _words(value: Any, where: str) -> tuple[str, ...]:
    words = value or []
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise JevalError(f"{where}: expected a list of words")
    return tuple(w.strip() for w in words)


def _proxies(raw: Any, source: str) -> Proxies:
    import ipaddress

    where = f"{source}: proxies"
    section = _mapping(raw, where)
    _keys(section, {"trusted", "user_header"}, where)
    trusted = _words(section.get("trusted"), f"{where}.trusted")
    for entry in trusted:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise JevalError(f"{where}.trusted: {entry!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
    header = _text(section, "user_header", "proxies")
    if header is not None and not trusted:
        raise JevalError(f"{where}.user_header: needs `trusted` proxies (the header is believed only from them)")
    return Proxies(trusted, header)


def _thinking(value: Any, where: str) -> Thinking | None:
    """`thinking: true` (the `<think>` markers), `false`/absent, or `{start: ..., end: ...}`."""
    if value is None or value is False:
        return None
    if value is True:
        return Thinking()
    section = _mapping(value, where)
    _keys(section, {"start", "end"}, where)
    start, end = section.get("start", Thinking.start), section.get("end", Thinking.end)
    if not isinstance(start, str) or not isinstance(end, str) or not start.strip() or not end.strip() or start == end:
        raise JevalError(f"{where}: start and end must be two different non-blank strings")
    return Thinking(start, end)


def _text(section: dict[str, Any], key: str, where: str) -> str | None:
    value = section.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise JevalError(f"{where}.{key}: expected a non-empty string")
    return value.strip() if isinstance(value, str) else None


def _interface(raw: Any, source: str) -> Interface:
    section = _mapping(raw, f"{source}: ui")
    _keys(section, {"language", "terms"}, f"{source}: ui")
    language = section.get("language", Interface.language)
    if language not in ("ja", "en"):
        raise JevalError(f"{source}: ui.language must be ja or en, got {language!r}")
    terms = section.get("terms")
    if terms is not None and not isinstance(terms, str):
        raise JevalError(f"{source}: ui.terms must be a text (empty for no notice)")
    return Interface(language, terms.strip() if isinstance(terms, str) else None)


def _moderation(raw: Any, source: str) -> Moderation | None:
    if raw is None:
        return None
    where = f"{source}: moderation"
    section = _mapping(raw, where)
    _keys(section, {"callable", "url", "model", "api_key_env", "timeout_s"}, where)
    found = Moderation(_text(section, "callable", "moderation"), _text(section, "url", "moderation"),
                       _text(section, "model", "moderation"), _text(section, "api_key_env", "moderation"),
                       _number(section, "timeout_s", Moderation.timeout_s, "moderation", float, 0.1))
    if (found.callable is None) == (found.url is None):
        raise JevalError(f"{where}: give exactly one of `callable` (package.module:function) or `url` "
                         "(an OpenAI-compatible API root)")
    if found.callable is not None and ":" not in found.callable:
        raise JevalError(f"{where}.callable: expected package.module:function, got {found.callable!r}")
    return found


def _health(raw: Any, source: str) -> Health:
    section = _mapping(raw, f"{source}: health")
    _keys(section, set(Health.__dataclass_fields__), f"{source}: health")
    return Health(_number(section, "cooldown_s", Health.cooldown_s, "health", float, 0),
                  _number(section, "retries", Health.retries, "health", int, 0))


def parse_config(raw: Any, source: str = "config") -> ArenaConfig:
    raw = _mapping(raw, source)
    _keys(raw, {"models", "store", "title", "limits", "leaderboard", "login_env", "vendor_terms", "ui", "moderation",
                "health", "proxies"}, source)
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
        _number(lim, "votes_per_address_per_hour", Limits.votes_per_address_per_hour, "limits", int, 1),
        _number(lim, "votes_per_user_per_hour", Limits.votes_per_user_per_hour, "limits", int, 1),
        _number(lim, "min_read_s", Limits.min_read_s, "limits", float, 0),
    )
    lb = _mapping(raw.get("leaderboard"), f"{source}: leaderboard")
    _keys(lb, set(LeaderboardSettings.__dataclass_fields__), f"{source}: leaderboard")
    leaderboard = LeaderboardSettings(_number(lb, "bootstrap", 100, "leaderboard", int, 0),
                                      _number(lb, "prior", LeaderboardSettings.prior, "leaderboard", float, 0),
                                      _number(lb, "seed", 0, "leaderboard", int),
                                      _number(lb, "refresh_s", LeaderboardSettings.refresh_s, "leaderboard", float, 1),
                                      _number(lb, "min_battles", LeaderboardSettings.min_battles, "leaderboard",
                                              int, 0),
                                      _number(lb, "max_interval", LeaderboardSettings.max_interval, "leaderboard",
                                              float, 0))
    store = raw.get("store", ArenaConfig.store)
    if not isinstance(store, str) or not store.strip():
        raise JevalError(f"{source}: `store` must be a database URL (e.g. sqlite:///arena.sqlite)")
    terms = raw.get("vendor_terms") or []
    if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
        raise JevalError(f"{source}: vendor_terms must be a list of words")
    return ArenaConfig(models, store.strip(), str(raw.get("title", ArenaConfig.title)), limits, leaderboard,
                       raw.get("login_env"), tuple(terms), _interface(raw.get("ui"), source),
                       _moderation(raw.get("moderation"), source), _health(raw.get("health"), source),
                       proxies=_proxies(raw.get("proxies"), source))


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
            config = replace(config, store=f"sqlite:///{(path.parent / relative).resolve()}")
    return config
