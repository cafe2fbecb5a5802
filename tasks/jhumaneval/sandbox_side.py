"""Both sides of a JHumanEval check, each run as `python -I -B -c <this source> MODE` in its own
jeval.tasks.sandbox sandbox (sent as jeval.tasks.sandbox.program_source makes it: the value
encoding of jeval.tasks.sandbox_values, which both sides and the harness share, in place of the
import of it).

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
to T; T never runs generated code. Values are tagged JSON (jeval.tasks.sandbox_values, as the
jaster code_exec runner has them): anything that is not plain data is `opaque` (its type name and
truth): in T an opaque value equals nothing but itself, so an object whose `__eq__` always answers
True passes nothing, and it cannot be passed back to the candidate.
"""

from __future__ import annotations

import ast
import builtins
import json
import random
import sys
from collections.abc import Callable
from typing import Any

from jeval.tasks.sandbox_values import NAME_CHARS, decode, encode, is_plain, serve, truth_of

MAX_MISSING = 5000
"""Calls recorded as missing in one round; past this the round stops."""


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
            results.append(["ok", ["opaque", "deep value", truth_of(value)]])
    return {"loaded": True, "results": results}


def main() -> None:
    sides: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"trusted": trusted, "candidate": candidate}
    serve(sides[sys.argv[1]])


if __name__ == "__main__":
    main()
