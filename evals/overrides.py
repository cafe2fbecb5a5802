"""Run-wide changes to how tasks ask the model: `jeval run --gen-kwargs` and `--system-prompt`.

lm-eval users expect `--gen_kwargs temperature=0.7,max_gen_toks=512` and a system instruction;
jeval takes both, but a task asked differently from its protocol is a different condition, so:

- the protocol of every task they change gets a suffix (`/gen:max_tokens=512,temperature=0.7`,
  keys sorted; `/system:<first 8 hex of the text's SHA-256>`), so its scores never share a
  leaderboard column or a suite mean with the protocol's own;
- the requests themselves change (temperature, max_tokens, the messages), so the payloads, and
  with them the generation cache keys, differ from a run without them;
- each changed task's `decoding` in results.json records what was overridden and the prompt text.

Only what jeval's engines carry end to end is accepted: temperature, max_tokens (lm-eval's
`max_gen_toks`), do_sample (false means greedy; true with no temperature means 1.0) and seed (the
run's `--seed`: sent with sampled requests, not part of the protocol name). Nucleus and top-k
sampling and repetition penalties are refused by name until the engines send them.

A system prompt goes only to chat requests (a task whose requests are chats: Jaster
`--variant chat`, MT-Bench and the judged benchmarks, M-IFEval); a run that would send any
plain-completion request is refused, naming those tasks, rather than evaluated half with it.
Log-likelihood tasks are not asked to generate, so neither option changes them. lm-eval's bridged
generation tasks decide their own `generation_kwargs`: the options are refused for them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.task import Request

ALIASES = {"max_gen_toks": "max_tokens", "max_new_tokens": "max_tokens"}
"""lm-eval's and transformers' names for the answer length."""
ACCEPTED = ("temperature", "max_tokens", "do_sample", "seed")
NOT_CARRIED = ("top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty")
"""Known sampling settings that jeval's engines (served and in-process) do not send yet."""
GEN_MARK = "/gen:"
SYSTEM_MARK = "/system:"
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class GenKwargs:
    """The generation settings given with `--gen-kwargs`, after lm-eval's names and do_sample
    were resolved (None: not given)."""

    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None

    def protocol_items(self) -> list[tuple[str, Any]]:
        """What changes the condition a task is asked under (a seed only draws other samples)."""
        found = [("max_tokens", self.max_tokens), ("temperature", self.temperature)]
        return [(k, v) for k, v in found if v is not None]

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (*self.protocol_items(), ("seed", self.seed)) if v is not None}


def _number(key: str, value: str) -> float:
    try:
        found = float(value)
    except ValueError:
        raise JevalError(f"--gen-kwargs {key}={value}: not a number") from None
    if not math.isfinite(found) or found < 0:
        raise JevalError(f"--gen-kwargs {key}={value}: must be a finite number, 0 or more")
    return found


def _integer(key: str, value: str, least: int) -> int:
    try:
        found = int(value)
    except ValueError:
        raise JevalError(f"--gen-kwargs {key}={value}: not a whole number") from None
    if found < least:
        raise JevalError(f"--gen-kwargs {key}={value}: must be {least} or more")
    return found


def _flag(key: str, value: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise JevalError(f"--gen-kwargs {key}={value}: expected true or false")


def parse_gen_kwargs(text: str) -> GenKwargs:
    """`KEY=VALUE,KEY=VALUE` as lm-eval's `--gen_kwargs` takes it; a clear error for anything else."""
    given: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise JevalError(f"--gen-kwargs {item!r}: expected KEY=VALUE,... (e.g. temperature=0.7,max_gen_toks=512)")
        name = ALIASES.get(key, key)
        if name in NOT_CARRIED:
            raise JevalError(f"--gen-kwargs {key}: jeval's engines do not send {key} yet (accepted: "
                             f"{', '.join(ACCEPTED)}, max_gen_toks)")
        if name not in ACCEPTED:
            raise JevalError(f"--gen-kwargs {key}: unknown generation setting (accepted: {', '.join(ACCEPTED)}, "
                             "max_gen_toks)")
        if name in given:
            raise JevalError(f"--gen-kwargs: {name} is given twice")
        given[name] = value
    if not given:
        raise JevalError("--gen-kwargs is empty (expected KEY=VALUE,..., e.g. temperature=0.7)")
    temperature = _number("temperature", given["temperature"]) if "temperature" in given else None
    if "do_sample" in given:
        sample = _flag("do_sample", given["do_sample"])
        if not sample and temperature:
            raise JevalError(f"--gen-kwargs: do_sample=false (greedy) contradicts temperature={temperature:g}")
        if sample and temperature == 0:
            raise JevalError("--gen-kwargs: do_sample=true needs a temperature above 0")
        temperature = (1.0 if temperature is None else temperature) if sample else 0.0
    return GenKwargs(temperature=temperature,
                     max_tokens=_integer("max_tokens", given["max_tokens"], 1) if "max_tokens" in given else None,
                     seed=_integer("seed", given["seed"], 0) if "seed" in given else None)


def read_system_prompt(text: str) -> str:
    """`--system-prompt TEXT`, or `@FILE` for the text of a UTF-8 file (trailing newlines dropped)."""
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            text = path.read_text(encoding="utf-8").rstrip("\n")
        except (OSError, UnicodeDecodeError) as e:
            raise JevalError(f"--system-prompt @{path}: cannot read it ({type(e).__name__}: {e})") from None
    if not text.strip():
        raise JevalError("--system-prompt is empty")
    return text


@dataclass(frozen=True)
class Overrides:
    """What `--gen-kwargs` and `--system-prompt` change in a run's generation requests."""

    gen: GenKwargs | None = None
    system_prompt: str | None = None

    def __bool__(self) -> bool:
        return self.gen is not None or self.system_prompt is not None

    @property
    def system_digest(self) -> str:
        return hashlib.sha256((self.system_prompt or "").encode()).hexdigest()

    def suffix(self) -> str:
        """What the protocol of a task these overrides change ends in."""
        gen = self.gen.protocol_items() if self.gen is not None else []
        out = GEN_MARK + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in gen) if gen else ""
        return out + (SYSTEM_MARK + self.system_digest[:8] if self.system_prompt is not None else "")

    def apply(self, request: Request) -> Request:
        """The request as this run sends it."""
        changed = request
        if self.gen is not None:
            if self.gen.temperature is not None:
                changed = replace(changed, temperature=self.gen.temperature)
            if self.gen.max_tokens is not None:
                changed = replace(changed, max_tokens=self.gen.max_tokens)
        if self.system_prompt is not None and changed.is_chat:
            changed = replace(changed, messages=with_system(changed.messages, self.system_prompt))
        return changed

    def record(self) -> dict[str, Any]:
        """The task's `decoding.overrides` in results.json."""
        out: dict[str, Any] = {}
        if self.gen is not None:
            out["gen_kwargs"] = self.gen.as_dict()
        if self.system_prompt is not None:
            out["system_prompt"] = self.system_prompt
            out["system_prompt_sha256"] = self.system_digest
        return out


def with_system(messages: Sequence[Mapping[str, str]], text: str) -> tuple[dict[str, str], ...]:
    """The messages with `text` as the system message: first, before the task's own system
    message where it has one (joined by a blank line)."""
    found = [dict(m) for m in messages]
    if found and found[0].get("role") == "system":
        return ({"role": "system", "content": f"{text}\n\n{found[0]['content']}"}, *found[1:])
    return ({"role": "system", "content": text}, *found)


def unreached(overrides: Overrides, generating: Mapping[str, bool], completion: Sequence[str],
              bridged: Sequence[str]) -> None:
    """Refuse a run where an option would not reach a task it should: `bridged` tasks generate
    through lm-eval (its own generation settings); `completion` tasks send plain text prompts,
    which have no system message. `generating`: every task of the run -> whether jeval asks it to
    generate (False: scored by log-likelihoods, unchanged by either option)."""
    if not overrides:
        return
    named = [opt for opt, on in (("--gen-kwargs", overrides.gen is not None),
                                 ("--system-prompt", overrides.system_prompt is not None)) if on]
    if bridged:
        raise JevalError(f"{' and '.join(named)} cannot reach lm-eval's bridged generation tasks "
                         f"({', '.join(bridged)}: lm-eval's own generation_kwargs decide them); run them without it")
    if overrides.system_prompt is not None and completion:
        raise JevalError(f"--system-prompt applies to chat requests only; these tasks send plain completions: "
                         f"{', '.join(completion)} (run them separately, or with --variant chat where offered)")
