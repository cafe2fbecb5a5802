"""What the programs jeval runs inside jeval.tasks.sandbox share: values as tagged JSON, and the
way a program reads its job and hands back its report.

Plain stdlib Python that never imports jeval: a program sent into a sandbox (the jaster code_exec
runner, JHumanEval's two sides) imports its names from here as
`from jeval.tasks.sandbox_values import ...`, and jeval.tasks.sandbox.program_source puts this
module's source in place of that line before sending it (`python -I` in the sandbox cannot import
jeval). The host imports the same names to read the values a program reports.

Values: None, bool, int, float (nan and infinities too), complex, str, bytes, list, tuple, set,
frozenset, dict, depth-bounded; anything else is `opaque` (its type name and truth), which the
reader rebuilds as an `Opaque` that equals nothing but itself, so an object whose `__eq__` always
answers True decides no comparison.
"""

import json
import numbers
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

MAX_DEPTH = 100
NAME_CHARS = 100


def encode(value: Any, depth: int = 0) -> list[Any]:
    """Plain data as tagged JSON; set members in a canonical order (their JSON), so equal values
    give equal text whatever the process's hash seed. Anything else is opaque."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    inner = depth + 1
    if value is None:
        return ["none"]
    if isinstance(value, bool):
        return ["bool", value is True]
    if isinstance(value, int):
        return ["int", hex(int.__int__(value))]
    if isinstance(value, numbers.Integral) and not isinstance(value, float):
        return ["int", hex(int(value))]
    if isinstance(value, float):
        return ["float", float.__repr__(value)]
    if isinstance(value, complex):
        return ["complex", float.__repr__(value.real), float.__repr__(value.imag)]
    if isinstance(value, str):
        return ["str", str.__str__(value)]
    if isinstance(value, bytes | bytearray):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, list):
        return ["list", [encode(v, inner) for v in list.copy(value)]]
    if isinstance(value, tuple):
        return ["tuple", [encode(v, inner) for v in tuple.__iter__(value)]]
    if isinstance(value, set | frozenset):
        members = sorted((encode(v, inner) for v in frozenset(value)), key=json.dumps)
        return ["set" if isinstance(value, set) else "frozenset", members]
    if isinstance(value, dict):
        return ["dict", [[encode(k, inner), encode(v, inner)] for k, v in dict.items(value)]]
    return ["opaque", type(value).__qualname__[:NAME_CHARS], truth_of(value)]


def truth_of(value: Any) -> bool:
    try:
        return bool(value)
    except Exception:  # an object whose truth cannot be had is false
        return False


class Opaque:
    """A value that was not plain data: equal only to itself; its truth is what its side said."""

    __slots__ = ("truth", "type_name")

    def __init__(self, type_name: str, truth: bool) -> None:
        self.type_name = type_name
        self.truth = truth

    def __bool__(self) -> bool:
        return self.truth

    def __repr__(self) -> str:
        return f"<opaque {self.type_name}>"


def decode(item: Any, depth: int = 0) -> Any:
    """A tagged value rebuilt from builtin types only (and `Opaque`); ValueError if malformed."""
    if depth > MAX_DEPTH or not isinstance(item, list) or not item or not isinstance(item[0], str):
        raise ValueError("malformed value")
    tag, args, inner = item[0], item[1:], depth + 1
    try:
        if tag == "none" and not args:
            return None
        if tag == "bool" and len(args) == 1 and isinstance(args[0], bool):
            return args[0]
        if tag == "int" and len(args) == 1 and isinstance(args[0], str):
            return int(args[0], 16)
        if tag == "float" and len(args) == 1 and isinstance(args[0], str):
            return float(args[0])
        if tag == "complex" and len(args) == 2 and all(isinstance(a, str) for a in args):
            return complex(float(args[0]), float(args[1]))
        if tag == "str" and len(args) == 1 and isinstance(args[0], str):
            return args[0]
        if tag == "bytes" and len(args) == 1 and isinstance(args[0], str):
            return bytes.fromhex(args[0])
        if tag == "opaque" and len(args) == 2 and isinstance(args[0], str) and isinstance(args[1], bool):
            return Opaque(args[0][:NAME_CHARS], args[1])
        if tag in ("list", "tuple", "set", "frozenset") and len(args) == 1 and isinstance(args[0], list):
            items = [decode(x, inner) for x in args[0]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "dict" and len(args) == 1 and isinstance(args[0], list):
            if not all(isinstance(p, list) and len(p) == 2 for p in args[0]):
                raise ValueError("malformed value (dict)")
            return {decode(k, inner): decode(v, inner) for k, v in args[0]}
    except (TypeError, OverflowError, RecursionError) as e:  # unhashable members, absurd numbers
        raise ValueError(f"malformed value ({type(e).__name__})") from None
    raise ValueError(f"malformed value (tag {tag[:20]!r})")


def is_plain(item: Any) -> bool:
    """Whether an encoded value holds nothing opaque (so it can be sent to another program)."""
    if not isinstance(item, list) or not item:
        return False
    if item[0] == "opaque":
        return False
    if item[0] in ("list", "tuple", "set", "frozenset"):
        return all(is_plain(x) for x in item[1])
    if item[0] == "dict":
        return all(is_plain(k) and is_plain(v) for k, v in item[1])
    return True


def serve(answer: Callable[[dict[str, Any]], Any]) -> NoReturn:
    """A sandboxed program's whole exchange: its job (JSON) from stdin; then stdin, stdout and
    stderr go to /dev/null, so that nothing the job runs writes into the report; then the report,
    `answer(job)` as JSON, on the descriptor that was stdout, and exit 0."""
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    report_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    data = json.dumps(answer(job)).encode()
    while data:
        data = data[os.write(report_fd, data):]
    os._exit(0)
