"""Both sides of a JHumanEval check, each run as `python -I -B -c <this source> MODE` in its own
jeval.tasks.sandbox sandbox; the harness (scoring.py) imports this module only for its value
encoding (`encode`, `decode`), which both sides and the harness share.

- `trusted` (sandbox T): runs the problem's own code only, the prompt (its helpers, such as
  `poly` or `encode_cyclic`) and the test, then `check(candidate)` where `candidate` is a proxy
  that looks each call up in a table of answers read on stdin. A call the table lacks is recorded
  and answered with a `Pending` value: anything done with it raises `PendingError`, and every
  `assert` of the test is rewritten (`_Asserts`) to record pass, fail or pending and go on, so one
  round discovers every call that does not depend on another's answer. The report says `pass`
  (check returned, every assert held, no call was missing), `fail` (an assert failed or check
  raised while no answer was missing: the outcome cannot change) or `pending` (the missing calls).
- `candidate` (sandbox C): runs `prompt + completion`, the generated code, then the entry point on
  each requested argument tuple (decoded afresh for each call, so no call sees another's
  mutations), and reports each result as plain data, or the name of the exception it raised.

Nothing C says is a verdict: its report only carries values, which the harness checks and passes
to T; T never runs generated code. Values are tagged JSON (the tags of
jeval.tasks.jaster.sandbox_runner): None, bool, int, float (nan and infinities too), complex, str,
bytes, list, tuple, set, frozenset, dict, depth-bounded; anything else is `opaque` (its type name
and truth): in T an opaque value equals nothing but itself, so an object whose `__eq__` always
answers True passes nothing, and it cannot be passed back to the candidate.
"""

from __future__ import annotations

import ast
import builtins
import json
import numbers
import os
import random
import sys
from collections.abc import Callable
from typing import Any

MAX_DEPTH = 100
MAX_MISSING = 5000
"""Calls recorded as missing in one round; past this the round stops."""
NAME_CHARS = 100


# Values

def encode(value: Any, depth: int = 0) -> list[Any]:
    """Plain data as tagged JSON; set members in a canonical order (their JSON), so equal
    arguments give equal keys whatever the process's hash seed. Anything else is opaque."""
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
    return ["opaque", type(value).__qualname__[:NAME_CHARS], _truth(value)]


def _truth(value: Any) -> bool:
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
    """Whether an encoded value holds nothing opaque (so it can be sent to the other side)."""
    if not isinstance(item, list) or not item:
        return False
    if item[0] == "opaque":
        return False
    if item[0] in ("list", "tuple", "set", "frozenset"):
        return all(is_plain(x) for x in item[1])
    if item[0] == "dict":
        return all(is_plain(k) and is_plain(v) for k, v in item[1])
    return True


def call_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The text naming one call: its encoded arguments (T builds it, C decodes it)."""
    return json.dumps([encode(args), encode(kwargs)], separators=(",", ":"))


# Sandbox T: the problem's check against answers given on stdin

class PendingError(BaseException):
    """A value the candidate has not given yet was used: this round cannot go on here. A
    BaseException, so that no `except Exception` in a test swallows it."""


class Settled(BaseException):
    """The outcome is known whatever the missing answers would be (raised only while no answer was
    missing): `fail` with its reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Aborted(BaseException):
    """The candidate raised something that is not an Exception (SystemExit, KeyboardInterrupt):
    it goes through the test's `except Exception`, as the original would."""


class CandidateError(Exception):
    """The candidate raised an exception that is not a builtin one."""


def _wait(*_: Any, **__: Any) -> Any:
    raise PendingError


_WAITING = (
    "__bool__", "__len__", "__iter__", "__next__", "__reversed__", "__contains__", "__getitem__", "__setitem__",
    "__delitem__", "__getattr__", "__call__", "__hash__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__",
    "__index__", "__int__", "__float__", "__complex__", "__round__", "__trunc__", "__floor__", "__ceil__", "__abs__",
    "__neg__", "__pos__", "__invert__", "__str__", "__format__", "__bytes__", "__enter__", "__exit__", "__fspath__",
    *(f"__{p}{op}__" for op in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "divmod", "pow",
                                "lshift", "rshift", "and", "xor", "or") for p in ("", "r", "i")),
)
Pending: type = type("Pending", (), {"__slots__": (), "__repr__": lambda self: "<pending>",
                                     **dict.fromkeys(_WAITING, _wait)})
"""The answer to a call not in the table yet: every use of it raises PendingError."""


ASSERT_TEMPLATE = """
try:
    __jeval_value__ = None
except __jeval_pending__ as __jeval_error__:
    __jeval_assert__(__jeval_error__, 0, "pending")
except Exception as __jeval_error__:
    __jeval_assert__(__jeval_error__, 0, "raised")
else:
    __jeval_assert__(__jeval_value__, 0, "value")
"""


class _Asserts(ast.NodeTransformer):
    """`assert TEST, MSG` -> evaluate TEST, record what came of it, go on (MSG is never evaluated:
    it only matters to a failure, and a failure is recorded)."""

    def visit_Assert(self, node: ast.Assert) -> Any:
        [block] = ast.parse(ASSERT_TEMPLATE).body
        assert isinstance(block, ast.Try)
        first = block.body[0]
        assert isinstance(first, ast.Assign)
        first.value = node.test
        for handler in (*block.handlers, *block.orelse):
            call = handler.body[0] if isinstance(handler, ast.ExceptHandler) else handler
            assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
            call.value.args[1] = ast.Constant(node.lineno)
        ast.copy_location(block, node)
        return ast.fix_missing_locations(block)


class Round:
    """One run of check against the answers known so far."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.missing: list[str] = []
        self.waited = 0
        """Pending values handed out (once any is, no failure is final)."""
        self.passed = 0
        self.calls = 0

    def unsettled(self, reason: str) -> None:
        """A failure: final unless some answer was missing when it happened."""
        if not self.waited:
            raise Settled(reason)

    def record(self, value: Any, line: int, kind: str) -> None:
        if kind == "value":
            try:
                kind = "passed" if bool(value) else "failed"
            except PendingError:
                kind = "pending"
            except Exception as e:  # the truth of the value raised: the assert fails as in Python
                value, kind = e, "raised"
        if kind == "passed":
            self.passed += 1
        elif kind == "failed":
            self.unsettled(f"assertion failed (test line {line})")
        elif kind == "raised":
            self.unsettled(f"{_raised_reason(value)} (test line {line})")

    def proxy(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        try:
            key = call_key(args, kwargs)
        except ValueError:
            self.unsettled("an argument is nested too deeply to pass")
            raise PendingError from None
        answer = self.answers.get(key)
        if answer is None:
            if not is_plain(json.loads(key)):
                self.unsettled("an argument is not plain data, which cannot be passed to the candidate")
                raise PendingError
            if key not in self.missing:
                self.missing.append(key)
            self.waited += 1
            if len(self.missing) >= MAX_MISSING:
                raise PendingError
            return Pending()
        if answer[0] == "ok":
            return decode(answer[1])
        raise _exception(answer[1])


def _exception(name: str) -> BaseException:
    """The candidate's exception, rebuilt here: a builtin Exception type by its name, else
    CandidateError; anything that is not an Exception aborts the check."""
    found = getattr(builtins, name, None) if name.isidentifier() else None
    if isinstance(found, type) and issubclass(found, Exception):
        try:
            error = found("raised by the candidate")
        except Exception:  # a builtin exception that needs other arguments
            error = CandidateError(name)
        error.__jeval_candidate__ = name  # type: ignore[attr-defined]
        return error
    if isinstance(found, type) and issubclass(found, BaseException):
        return Aborted(name)
    error = CandidateError(name)
    error.__jeval_candidate__ = name  # type: ignore[attr-defined]
    return error


def _raised_reason(error: BaseException) -> str:
    name = getattr(error, "__jeval_candidate__", None)
    if isinstance(error, Aborted):
        return f"the candidate raised {error.args[0]}"
    if isinstance(name, str):
        return f"the candidate raised {name}"
    return f"the test raised {type(error).__name__}"


def trusted(job: dict[str, Any]) -> dict[str, Any]:
    answers = dict(job["answers"])
    state = Round(answers)
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    try:
        prompt = compile(job["prompt"], "<prompt>", "exec")
        test = compile(ast.fix_missing_locations(_Asserts().visit(ast.parse(job["test"], "<test>"))), "<test>", "exec")
    except (SyntaxError, ValueError) as e:
        return {"status": "error", "reason": f"the problem does not compile ({type(e).__name__})"}
    try:
        random.seed(job["seed"])
        exec(prompt, namespace)
        namespace[job["entry_point"]] = state.proxy
        namespace.update(__jeval_assert__=state.record, __jeval_pending__=PendingError)
        exec(test, namespace)
        random.seed(job["seed"])
        namespace["check"](state.proxy)
    except Settled as e:
        return _report(state, "fail", e.reason)
    except PendingError:
        pass
    except BaseException as e:  # check itself raised
        if not state.waited:
            return _report(state, "fail", _raised_reason(e))
    if state.waited:
        return _report(state, "pending", "waiting for the candidate's answers")
    return _report(state, "pass", "passed")


def _report(state: Round, status: str, reason: str) -> dict[str, Any]:
    return {"status": status, "reason": reason, "missing": state.missing, "asserts_passed": state.passed,
            "calls": state.calls}


# Sandbox C: the generated program, called on each requested argument tuple

def candidate(job: dict[str, Any]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(job["program"], "<candidate>", "exec"), namespace)
    except BaseException as e:  # any failure of the generated program fails every call
        return {"loaded": False, "error": type(e).__name__[:NAME_CHARS]}
    function = namespace.get(job["entry_point"])
    if not callable(function):
        return {"loaded": False, "error": f"no function {job['entry_point']}"}
    results: list[Any] = []
    for key in job["calls"]:
        args, kwargs = (decode(part) for part in json.loads(key))
        try:
            value = function(*args, **kwargs)
        except BaseException as e:  # recorded; T decides what it means
            results.append(["raised", type(e).__name__[:NAME_CHARS]])
            continue
        try:
            results.append(["ok", encode(value)])
        except BaseException:  # nested too deeply: not plain data
            results.append(["ok", ["opaque", "deep value", _truth(value)]])
    return {"loaded": True, "results": results}


def main() -> None:
    mode = sys.argv[1]
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    report_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    sides: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"trusted": trusted, "candidate": candidate}
    data = json.dumps(sides[mode](job)).encode()
    while data:
        data = data[os.write(report_fd, data):]
    os._exit(0)


if __name__ == "__main__":
    main()
