"""M-IFEval (Japanese) instruction checks: does a response follow each of an item's instructions?

A re-implementation of the rules of lightblue-tech/M-IFEval (Apache-2.0) @ 0bc3143 for its `ja:*`
instruction ids, with upstream's strict and loose modes (`evaluation_main.py`):

- strict: an instruction is followed when the response is not blank and its check passes on the
  response as it is;
- loose: an instruction is followed when its check passes on any non-blank variant of the response
  (`loose_variants`: as it is, without asterisks, without its first line, its last line, both, and
  those three without asterisks).

The checks themselves live in `instructions.py` (one class per id, its rule in its docstring) and
the language tools they count with (Janome, ja_sentence_segmenter, langdetect) in `japanese.py`.
None of M-IFEval's Japanese instructions takes a `prompt` argument, so the item's prompt is never
passed to a check (upstream passes it only to instructions that have one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jeval.errors import JevalError
from jeval.tasks.m_ifeval.instructions import BUILDERS, Args, BadInstructionArgs, Instruction

__all__ = [
    "INSTRUCTION_IDS",
    "BadInstructionArgs",
    "IfevalItem",
    "UnknownInstruction",
    "follows",
    "loose_variants",
    "validate",
]

INSTRUCTION_IDS: frozenset[str] = frozenset(BUILDERS)


class UnknownInstruction(JevalError):
    """An item names an instruction id this checker does not know."""


@dataclass(frozen=True)
class IfevalItem:
    """One M-IFEval prompt with its instructions; `kwargs[i]` holds the arguments of
    `instruction_ids[i]` (None values dropped)."""

    key: int
    prompt: str
    instruction_ids: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> IfevalItem:
        """An item from one line of upstream's `*_input_data.jsonl` (`key`, `prompt`,
        `instruction_id_list`, `kwargs`). Raises JevalError when a field is missing or malformed."""
        try:
            key, prompt = record["key"], record["prompt"]
            ids, kwargs = record["instruction_id_list"], record["kwargs"]
        except KeyError as missing:
            raise JevalError(f"M-IFEval item {record.get('key', '?')}: field {missing} is missing") from None
        if not isinstance(key, int) or not isinstance(prompt, str):
            raise JevalError(f"M-IFEval item {key!r}: 'key' must be an integer and 'prompt' a string")
        if (
            not isinstance(ids, list)
            or not isinstance(kwargs, list)
            or not all(isinstance(i, str) for i in ids)
            or not all(isinstance(k, dict) for k in kwargs)
        ):
            raise JevalError(
                f"M-IFEval item {key}: 'instruction_id_list' must be a list of strings and 'kwargs' a list of objects"
            )
        dropped = tuple({name: value for name, value in k.items() if value is not None} for k in kwargs)
        return cls(key=key, prompt=prompt, instruction_ids=tuple(ids), kwargs=dropped)


def _instructions(item: IfevalItem) -> list[Instruction]:
    if len(item.kwargs) != len(item.instruction_ids):
        raise JevalError(
            f"M-IFEval item {item.key}: {len(item.instruction_ids)} instruction ids "
            f"but {len(item.kwargs)} kwargs objects"
        )
    built = []
    for instruction_id, kwargs in zip(item.instruction_ids, item.kwargs):
        builder = BUILDERS.get(instruction_id)
        if builder is None:
            raise UnknownInstruction(
                f"M-IFEval item {item.key}: unknown instruction id {instruction_id!r} "
                f"(this checker knows the {len(INSTRUCTION_IDS)} Japanese ids 'ja:...')"
            )
        built.append(builder(Args(kwargs, f"M-IFEval item {item.key}, instruction {instruction_id!r}")))
    return built


def validate(item: IfevalItem) -> None:
    """Raise UnknownInstruction for an instruction id the checker does not know, and
    BadInstructionArgs (a JevalError) for arguments missing, of the wrong type, out of range or
    unexpected — where upstream would have drawn a random value, or crashed."""
    _instructions(item)


def loose_variants(response: str) -> list[str]:
    """The eight responses upstream's loose mode tries, in its order: the response; without `*`;
    without its first line; without its last line; without both; and the last three without `*`.
    Lines are split at `\\n`; a variant that drops lines is stripped. Variants may repeat."""
    lines = response.split("\n")
    without_first = "\n".join(lines[1:]).strip()
    without_last = "\n".join(lines[:-1]).strip()
    without_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        without_first,
        without_last,
        without_both,
        without_first.replace("*", ""),
        without_last.replace("*", ""),
        without_both.replace("*", ""),
    ]


def follows(item: IfevalItem, response: str, loose: bool = False) -> list[bool]:
    """Whether `response` follows each of `item`'s instructions (upstream's
    `follow_instruction_list`), strict or loose. A blank response follows nothing. Raises as
    `validate` does."""
    candidates = loose_variants(response) if loose else [response]
    candidates = [candidate for candidate in candidates if candidate.strip()]
    return [any(instruction.check(candidate) for candidate in candidates) for instruction in _instructions(item)]
