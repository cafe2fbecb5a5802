"""Answers of reasoning models: a thinking block, then the answer that is scored.

A reasoning model writes its thinking between two markers (`<think>` … `</think>` by default)
before the answer. With reasoning handling on (`jeval run --reasoning`), every generation request
is sent with room for the thinking (`budget` tokens beyond the task's own answer length) and
without its stop sequences, which would otherwise cut the thinking short; the answer after the
block is then cut at those stop sequences, as the server would have cut it, and only the answer is
scored. The block is kept in the samples file.

How a block is found (`separate`):
- an end marker closes the block; everything before it is thinking, with or without a start
  marker (chat templates that open the block in the prompt leave only the end marker);
- a start marker with no end marker is a block the model did not finish (it ran out of tokens):
  everything from the marker on is thinking and the answer is what came before it, usually
  nothing, so the item is scored as an empty answer and counted as `unterminated`;
- a server that separates the thinking itself (vLLM's `--reasoning-parser`: `reasoning_content`
  beside `content`) has already done this; its answer is used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from jeval.errors import JevalError
from jeval.task import Request

DEFAULT_START = "<think>"
DEFAULT_END = "</think>"
DEFAULT_BUDGET = 8192


@dataclass(frozen=True)
class Reasoning:
    """How a run treats thinking blocks: their markers and the tokens allowed for thinking."""

    start: str = DEFAULT_START
    end: str = DEFAULT_END
    budget: int = DEFAULT_BUDGET

    def __post_init__(self) -> None:
        if not self.start.strip() or not self.end.strip() or self.start == self.end:
            raise JevalError(f"reasoning markers must be two different non-blank strings (got {self.start!r}, "
                             f"{self.end!r})")
        if self.budget < 0:
            raise JevalError(f"--reasoning-budget must be 0 or more tokens (got {self.budget})")

    def asked(self, request: Request) -> Request:
        """The request as sent: room for the thinking, no stop sequences (applied to the answer)."""
        return replace(request, max_tokens=request.max_tokens + self.budget, stop=())

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "budget": self.budget}


@dataclass(frozen=True)
class Separated:
    """One output split into its thinking (None: there was no block) and its answer."""

    reasoning: str | None
    answer: str
    terminated: bool = True
    by_server: bool = False


def separate(text: str, markers: Reasoning) -> Separated:
    """Split `text` at its thinking block (see the module docstring); a second block right after
    the first joins the thinking."""
    end_at = text.find(markers.end)
    if end_at < 0:
        start_at = text.find(markers.start)
        if start_at < 0:
            return Separated(None, text)
        return Separated(text[start_at + len(markers.start):].strip(), text[:start_at].strip(), terminated=False)
    thinking = text[:end_at]
    head, opened, inside = thinking.partition(markers.start)
    if opened and not head.strip():
        thinking = inside
    answer = text[end_at + len(markers.end):].lstrip()
    if answer.startswith(markers.start):
        more = separate(answer, markers)
        return Separated(f"{thinking.strip()}\n\n{more.reasoning or ''}", more.answer, more.terminated)
    return Separated(thinking.strip(), answer)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the earliest of the stop sequences, as a server cuts an answer."""
    found = [i for s in stop if s and (i := text.find(s)) >= 0]
    return text[:min(found)] if found else text


def answer_of(response: Mapping[str, Any], request: Request, markers: Reasoning | None) -> Separated:
    """The scored answer of a stored response: without reasoning handling, the text as it is; with
    it, the text after the thinking block cut at the request's stop sequences."""
    if "reasoning" in response:
        return Separated(response["reasoning"], cut_at_stop(response["text"], request.stop), by_server=True)
    if markers is None:
        return Separated(None, response["text"])
    found = separate(response["text"], markers)
    return replace(found, answer=cut_at_stop(found.answer, request.stop))


TokenCounter = Callable[[str], int]


def counts(found: Separated, response: Mapping[str, Any], count: TokenCounter | None) -> dict[str, Any]:
    """Per-sample thinking and answer lengths: tokens from the server's usage where it reports
    thinking tokens, else from the model's tokenizer where jeval has it (None where neither);
    characters always."""
    thinking = found.reasoning or ""
    tokens: tuple[int | None, int | None] = (None, None)
    source = None
    server = response.get("reasoning_tokens")
    total = response.get("completion_tokens")
    if isinstance(server, int) and isinstance(total, int):
        tokens, source = (server, max(total - server, 0)), "server"
    elif count is not None:
        tokens, source = (count(thinking) if thinking else 0, count(found.answer) if found.answer else 0), "tokenizer"
    return {"reasoning": found.reasoning, "reasoning_chars": len(thinking), "answer_chars": len(found.answer),
            "reasoning_tokens": tokens[0], "answer_tokens": tokens[1], "token_counts_from": source,
            "reasoning_unterminated": not found.terminated, "reasoning_by_server": found.by_server}


def summary(rows: Sequence[Mapping[str, Any]], markers: Reasoning | None) -> dict[str, Any] | None:
    """A task's thinking record: how many answers had a block, how many did not finish it, and the
    tokens spent on thinking and on answers (None where some sample's count is unknown)."""
    with_block = [r for r in rows if r.get("reasoning") is not None]
    if markers is None and not with_block:
        return None

    def total(field: str) -> int | None:
        values = [r.get(field) for r in rows if "failed" not in r]
        return sum(v for v in values if isinstance(v, int)) if all(isinstance(v, int) for v in values) else None

    sources = sorted({r["token_counts_from"] for r in rows if r.get("token_counts_from")})
    return {**(markers.as_dict() if markers is not None else {"handling": "separated by the server only"}),
            "blocks": len(with_block), "unterminated": sum(1 for r in rows if r.get("reasoning_unterminated")),
            "separated_by_server": sum(1 for r in rows if r.get("reasoning_by_server")),
            "reasoning_tokens": total("reasoning_tokens"), "answer_tokens": total("answer_tokens"),
            "token_counts_from": sources}
