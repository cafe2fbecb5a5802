"""Run-wide changes to how tasks ask the model: `jeval run --gen-kwargs` and `--system-prompt`.

lm-eval users expect `--gen_kwargs temperature=0.7,top_p=0.9,max_gen_toks=512` and a system
instruction; jeval takes both, but a task asked differently from its protocol is a different
condition, so:

- the protocol of every task they change gets a suffix (`/gen:max_tokens=512,temperature=0.7,top_p=0.9`,
  keys sorted; `/system:<first 8 hex of the text's SHA-256>`), so its scores never share a
  leaderboard column or a suite mean with the protocol's own;
- the requests themselves change (their settings, the messages), so the payloads, and with them the
  generation cache keys, differ from a run without them; a run without them sends exactly what it
  sent before these options existed, and meets its old cache entries;
- each changed task's `decoding` in results.json records what was overridden and the prompt text.

Accepted: temperature, max_tokens (lm-eval's `max_gen_toks`), do_sample (false means greedy; true
with no temperature means 1.0), seed (the run's `--seed`: sent with sampled requests, not part of
the protocol name), and the sampling settings of jeval.task.SAMPLING under vLLM's and the OpenAI
API's names: top_p, top_k, min_p (which only narrow what sampling draws from: they go with sampled
requests only, and a task whose requests all decode greedily refuses them), repetition_penalty,
presence_penalty and frequency_penalty. Each reaches the model end to end or is refused on one
line, before anything starts where the engine is the reason (`check_engine`):

- `vllm serve`, an OpenAI-compatible URL and vLLM in process carry all of them (top_k, min_p and
  repetition_penalty go to a server as fields beyond the OpenAI API's, which vLLM reads; a server
  that refuses a field refuses those requests);
- in-process transformers carries all but the presence and frequency penalties, which
  transformers' generate() does not have;
- `transformers serve` (the CPU server jeval starts) carries top_p only: it answers 422 to top_k,
  min_p and repetition_penalty, ignores presence_penalty, and reads frequency_penalty as a
  repetition penalty of 1 + the value, another penalty.

lm-eval's bridged generation tasks (`lm-eval:<task>`, the japanese_leaderboard generation tasks)
take the options as lm-eval's `--gen_kwargs` does: they update the task's own generation_kwargs,
which keep what is not given (`until`, and `max_gen_toks` and `do_sample` unless given); a
temperature given sets `do_sample` with it, so that it means what it means for jeval's tasks. Their
protocol gets the same suffix and their `decoding` the same record; the run's seed goes with their
sampled requests. Whether they sample is known only once lm-eval builds their requests, so narrowing
settings for bridged tasks that all decode greedily are refused then, before any is sent.

A system prompt goes only to chat requests (a task whose requests are chats: Jaster
`--variant chat`, MT-Bench and the judged benchmarks, M-IFEval); a run that would send any
plain-completion request is refused, naming those tasks, rather than evaluated half with it. The
bridged tasks refuse it too: they send plain prompts, and lm-eval's `--system_instruction` without
a chat template is pasted into that prompt text, which jeval does for no completion task.
Log-likelihood tasks are not asked to generate, so neither option changes them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.task import SAMPLING, TRUNCATION, Request

ALIASES = {"max_gen_toks": "max_tokens", "max_new_tokens": "max_tokens"}
"""lm-eval's and transformers' names for the answer length."""
ACCEPTED = ("temperature", "max_tokens", "do_sample", "seed", *SAMPLING)
GEN_MARK = "/gen:"
SYSTEM_MARK = "/system:"
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")

SERVE_REFUSES = "`transformers serve` answers 422 to it (not a field it takes)"
ENGINE_CANNOT: dict[str, dict[str, str]] = {
    "transformers-serve": {"top_k": SERVE_REFUSES, "min_p": SERVE_REFUSES, "repetition_penalty": SERVE_REFUSES,
                           "presence_penalty": "`transformers serve` ignores it",
                           "frequency_penalty": "`transformers serve` reads it as repetition_penalty=1+value, "
                                                "another penalty"},
    "transformers": {"presence_penalty": "transformers' generate() has no such setting",
                     "frequency_penalty": "transformers' generate() has no such setting"},
}
"""Engine -> the sampling settings it would not apply as asked, and why (see the module notes)."""


@dataclass(frozen=True)
class GenKwargs:
    """The generation settings given with `--gen-kwargs`, after lm-eval's names and do_sample
    were resolved (None: not given)."""

    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    def protocol_items(self) -> list[tuple[str, Any]]:
        """What changes the condition a task is asked under (a seed only draws other samples), by name."""
        return sorted((k, v) for k, v in asdict(self).items() if v is not None and k != "seed")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (*self.protocol_items(), ("seed", self.seed)) if v is not None}

    def sampling(self) -> dict[str, float]:
        """The settings among jeval.task.SAMPLING that were given."""
        return {k: v for k in SAMPLING if (v := getattr(self, k)) is not None}

    def narrowing(self) -> list[str]:
        """The given settings that only narrow what sampling draws from (no-ops when greedy)."""
        return [k for k in TRUNCATION if getattr(self, k) is not None]

    def lm_eval(self) -> dict[str, Any]:
        """As lm-eval's `gen_kwargs` (merged into a generation task's generation_kwargs): its own
        names, and a temperature with the `do_sample` that makes lm-eval's models use it."""
        out: dict[str, Any] = {}
        if self.temperature is not None:
            out.update(temperature=self.temperature, do_sample=self.temperature > 0)
        if self.max_tokens is not None:
            out["max_gen_toks"] = self.max_tokens
        return {**out, **self.sampling()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> GenKwargs:
        """The settings as `as_dict` recorded them."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


def _number(key: str, value: str, accepts: Callable[[float], bool] = lambda x: x >= 0,
            span: str = "0 or more") -> float:
    try:
        found = float(value)
    except ValueError:
        raise JevalError(f"--gen-kwargs {key}={value}: not a number") from None
    if not math.isfinite(found) or not accepts(found):
        raise JevalError(f"--gen-kwargs {key}={value}: must be a finite number, {span}")
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


def _sampling(given: Mapping[str, str]) -> dict[str, Any]:
    """The sampling settings among `given`, each checked against the range vLLM accepts."""
    checks: dict[str, Callable[[str], Any]] = {
        "top_p": lambda v: _number("top_p", v, lambda x: 0 < x <= 1, "in (0, 1]"),
        "top_k": lambda v: _integer("top_k", v, 0),
        "min_p": lambda v: _number("min_p", v, lambda x: 0 <= x <= 1, "in [0, 1]"),
        "repetition_penalty": lambda v: _number("repetition_penalty", v, lambda x: x > 0, "above 0"),
        "presence_penalty": lambda v: _number("presence_penalty", v, lambda x: -2 <= x <= 2, "in [-2, 2]"),
        "frequency_penalty": lambda v: _number("frequency_penalty", v, lambda x: -2 <= x <= 2, "in [-2, 2]"),
    }
    return {name: checks[name](given[name]) for name in SAMPLING if name in given}


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
    found = GenKwargs(temperature=temperature,
                      max_tokens=_integer("max_tokens", given["max_tokens"], 1) if "max_tokens" in given else None,
                      seed=_integer("seed", given["seed"], 0) if "seed" in given else None, **_sampling(given))
    if temperature == 0 and found.narrowing():
        raise JevalError(f"--gen-kwargs {_narrows(found)}, and temperature 0 (do_sample=false) decodes greedily")
    return found


def _narrows(gen: GenKwargs) -> str:
    names = gen.narrowing()
    return f"{', '.join(names)} only {'narrows' if len(names) == 1 else 'narrow'} what sampling draws from"


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


def greedy_refusal(gen: GenKwargs, task: str) -> JevalError:
    """The error for narrowing settings given where `task` (or several, comma-joined) decodes greedily."""
    verb = "decode" if ", " in task else "decodes"
    return JevalError(f"--gen-kwargs {_narrows(gen)}, and {task} {verb} greedily (temperature 0): add "
                      "temperature=T (or do_sample=true), or leave them out")


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
        """The request as this run sends it. Settings that only narrow sampling go to a sampled
        request only: on a greedy one they are no-ops, and it stays what it was."""
        changed = request
        if self.gen is not None:
            if self.gen.temperature is not None:
                changed = replace(changed, temperature=self.gen.temperature)
            if self.gen.max_tokens is not None:
                changed = replace(changed, max_tokens=self.gen.max_tokens)
            sampling = {k: v for k, v in self.gen.sampling().items()
                        if changed.temperature > 0 or k not in TRUNCATION}
            if sampling:
                changed = replace(changed, sampling={**changed.sampling, **sampling})
        if self.system_prompt is not None and changed.is_chat:
            changed = replace(changed, messages=with_system(changed.messages, self.system_prompt))
        return changed

    def apply_all(self, requests: Sequence[Request]) -> tuple[Request, ...]:
        """A task's requests as this run sends them (`apply`); narrowing settings given for a task
        whose requests all stay greedy are refused: they would change its protocol's name and
        nothing else. A task that samples some requests (MT-Bench's categories) takes them there."""
        changed = tuple(self.apply(r) for r in requests)
        if self.gen is not None and self.gen.narrowing() and changed and all(r.temperature == 0 for r in changed):
            raise greedy_refusal(self.gen, changed[0].task)
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


def check_engine(overrides: Overrides, engine: str) -> None:
    """Refuse, before anything starts, sampling settings the run's engine would not apply as asked."""
    if overrides.gen is None:
        return
    cannot = ENGINE_CANNOT.get(engine, {})
    refused = [f"{name} ({cannot[name]})" for name in overrides.gen.sampling() if name in cannot]
    if refused:
        raise JevalError(f"--gen-kwargs {'; '.join(refused)}: the {engine} engine cannot apply "
                         f"{'it' if len(refused) == 1 else 'them'}; a vLLM engine (`vllm serve` or --base-url of "
                         "one, or --backend local --engine vllm) applies every sampling setting")


def unreached(overrides: Overrides, generating: Mapping[str, bool], completion: Sequence[str],
              bridged: Sequence[str], unapplied: Sequence[str] = ()) -> None:
    """Refuse a run where an option would not reach a task it should: `bridged` tasks generate
    through a harness of their own (lm-eval), which sends plain text prompts (no system message);
    `unapplied`, those among them whose harness does not apply --gen-kwargs; `completion` tasks send
    plain text prompts.
    `generating`: every task of the run -> whether jeval asks it to generate (False: scored by
    log-likelihoods, unchanged by either option)."""
    if not overrides:
        return
    if overrides.gen is not None and unapplied:
        raise JevalError(f"--gen-kwargs cannot reach {', '.join(unapplied)} (their harness decides its own "
                         "generation settings); run them without it")
    if overrides.system_prompt is not None and bridged:
        raise JevalError(f"--system-prompt cannot reach lm-eval's bridged generation tasks ({', '.join(bridged)}: "
                         "they send plain-text prompts, where lm-eval's --system_instruction would be pasted into the "
                         "prompt text); run them without it")
    if overrides.system_prompt is not None and completion:
        raise JevalError(f"--system-prompt applies to chat requests only; these tasks send plain completions: "
                         f"{', '.join(completion)} (run them separately, or with --variant chat where offered)")
