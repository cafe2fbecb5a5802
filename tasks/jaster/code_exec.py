"""Runs generated Python code against assert-style test cases, in jeval.tasks.sandbox, and decides
pass/fail outside it.

Threat model: the generated code is hostile. It runs in the same interpreter as whatever jeval
sends into the sandbox, so it can read and rewrite anything there (walk frames, patch builtins,
replace AssertionError, write to any descriptor, exit with any status). Therefore nothing the
sandboxed process says is taken as a verdict. Each test case, a single `assert EXPR`, is split here
(`Check`):

- `probes`: the maximal sub-expressions that need the program (`add(1, 2)`), sent into the sandbox;
- the rest, evaluated here: constants (`3`, `set((4, 5))`, `-1.5`), comparisons, `and`/`or`/`not`,
  `math.isclose(...)`, over the probe values the sandbox reports.

The sandbox reduces each probe value to plain data (jeval.tasks.sandbox_values, `encode`); anything
else stays opaque and equals nothing, so an object whose `__eq__` always answers True passes nothing.
Expected values never enter the sandbox, so a program that forges its report (frame walking,
`os._exit`, writing the report itself) can only claim values; it passes only if it claims the
right ones, which is what a program that hard-codes the answers does anyway. A test passes when
its expression is true here; a probe that raised fails the test when the expression needs it.

Limits of this split: a comparison between two probes (`f(x) == g(y)`), or an assertion that is a
single probe (`assert all(f(x) == x for x in xs)`), is decided by values the program reports, and a
constant inside a probe (`abs(f(x) - 2.5) < 1e-6`) is visible to it. Names in the expression
outside (`set`, `math.isclose`) mean the builtins, even if the code rebinds them. Every probe of a
test is evaluated, even one that `and`/`or` would have skipped (its error is ignored if unneeded).
"""

from __future__ import annotations

import ast
import json
import math
import operator
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.tasks.sandbox import Limits, Sandbox, program_source
from jeval.tasks.sandbox_values import decode

RUNNER = Path(__file__).with_name("sandbox_runner.py")

UPSTREAM_GLOBAL_NAMES: tuple[str, ...] = (
    "ast", "functools", "json", "logging", "math", "os", "re", "subprocess", "time", "unicodedata",
    "warnings",
)
"""Modules visible to functions defined by the generated code under scope="upstream".

llm-jp-eval v1.4.1 (utils.py, `get_evaluation_result`, metric "code_exec") runs `exec(y_pred)` then
`exec(test_case)` with no namespace arguments inside a function: the code's top-level names land in
that function's locals, while functions it defines resolve globals in llm_jp_eval.utils. So a
function can call neither itself recursively nor a helper it defined, and sees only the modules
utils.py imported. This is jeval's best reading of that module's stdlib imports; its third-party
imports are not reproduced."""


@dataclass(frozen=True)
class CodeExecConfig:
    timeout_s: float = 10.0
    memory_bytes: int = 1 << 30
    file_size_bytes: int = 16 << 20
    open_files: int = 64
    processes: int = 1
    """1: the code can start no process or thread (see jeval.tasks.sandbox.Limits)."""
    output_bytes: int = 1 << 20
    """Bound on the report of one sample's values."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    scope: str = "upstream"
    """"upstream": llm-jp-eval's namespace split (see UPSTREAM_GLOBAL_NAMES); "module": the code
    and its tests share one module namespace, as a script would."""

    def __post_init__(self) -> None:
        if self.scope not in ("upstream", "module"):
            raise ValueError(f"scope must be 'upstream' or 'module', not {self.scope!r}")
        if self.timeout_s <= 0 or self.workers < 1:
            raise ValueError("timeout_s must be positive and workers at least 1")

    def limits(self) -> Limits:
        return Limits.for_timeout(self.timeout_s, memory_bytes=self.memory_bytes, file_size_bytes=self.file_size_bytes,
                                  open_files=self.open_files, processes=self.processes,
                                  output_bytes=self.output_bytes)


@dataclass(frozen=True)
class Outcome:
    passed: bool
    reason: str


# Splitting a test case

CONSTANT_CALLS: dict[str, Callable[..., Any]] = {
    f.__name__: f for f in (set, frozenset, tuple, list, dict, sorted, float, int, str, bool, complex, abs, len,
                            round, min, max)}
MATH_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "nan": math.nan}
ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
MAX_OPERAND_BITS = 256
UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert, ast.Not: operator.not_}


class _NotConstant(Exception):
    pass


def _small_number(value: Any) -> bool:
    if isinstance(value, int):
        return value.bit_length() <= MAX_OPERAND_BITS
    return isinstance(value, float | complex)


def _constant(node: ast.expr) -> Any:
    """The value of an expression that needs no program: literals, bounded arithmetic on numbers,
    builtin constructors over constants, math.pi and the like. Evaluated here, never eval'd."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple | ast.List | ast.Set) and not any(isinstance(e, ast.Starred) for e in node.elts):
        items = [_constant(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items if isinstance(node, ast.List) else set(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_constant(k): _constant(v) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        operand = _constant(node.operand)
        if isinstance(node.op, ast.Not) or _small_number(operand):
            return UNARY[type(node.op)](operand)
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        left, right = _constant(node.left), _constant(node.right)
        if _small_number(left) and _small_number(right) and not (isinstance(node.op, ast.Pow) and abs(right) > 64):
            return ARITHMETIC[type(node.op)](left, right)
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math"
            and node.attr in MATH_CONSTANTS):
        return MATH_CONSTANTS[node.attr]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in CONSTANT_CALLS
            and not any(isinstance(a, ast.Starred) for a in node.args) and all(k.arg for k in node.keywords)):
        args = [_constant(a) for a in node.args]
        kwargs = {str(k.arg): _constant(k.value) for k in node.keywords}
        return CONSTANT_CALLS[node.func.id](*args, **kwargs)
    raise _NotConstant


def _is_isclose(node: ast.expr) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "isclose"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "math" and len(node.args) == 2
            and not any(isinstance(a, ast.Starred) for a in node.args)
            and all(k.arg in ("rel_tol", "abs_tol") for k in node.keywords))


@dataclass(frozen=True)
class Check:
    """One test case split in two: `probes`, evaluated by the program in the sandbox, and `expr`,
    the assertion evaluated here (a probe site is `ast.Name(id="#i")`)."""

    source: str
    probes: tuple[str, ...]
    expr: ast.expr

    @classmethod
    def parse(cls, test: str) -> Check:
        try:
            body = ast.parse(test).body
        except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
            raise JevalError(f"code_exec: the test case does not parse ({type(e).__name__}): {test[:80]!r}") from e
        if len(body) != 1 or not isinstance(body[0], ast.Assert):
            raise JevalError(f"code_exec: a test case must be one assert statement: {test[:80]!r}")
        probes: list[str] = []
        expr = _split(body[0].test, probes)
        return cls(test, tuple(probes), expr)

    def holds(self, values: Sequence[Any]) -> bool:
        """Whether the assertion is true for these probe values; raises where Python would."""
        return bool(_evaluate(self.expr, values))


def _split(node: ast.expr, probes: list[str]) -> ast.expr:
    try:
        return ast.Constant(_constant(node))
    except Exception:  # not a constant, or one that raises: the program evaluates it, as upstream would
        pass
    if isinstance(node, ast.Compare):
        return ast.Compare(_split(node.left, probes), node.ops, [_split(c, probes) for c in node.comparators])
    if isinstance(node, ast.BoolOp):
        return ast.BoolOp(node.op, [_split(v, probes) for v in node.values])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ast.UnaryOp(node.op, _split(node.operand, probes))
    if _is_isclose(node):
        assert isinstance(node, ast.Call)
        return ast.Call(node.func, [_split(a, probes) for a in node.args],
                        [ast.keyword(k.arg, _split(k.value, probes)) for k in node.keywords])
    probes.append(ast.unparse(node))
    return ast.Name(id=f"#{len(probes) - 1}")


# Evaluating a test case outside the sandbox

class ProbeRaised(Exception):
    """The program raised while evaluating a probe the assertion needs."""


COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
    ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: operator.contains(b, a), ast.NotIn: lambda a, b: not operator.contains(b, a)}


def _evaluate(node: ast.expr, values: Sequence[Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        value = values[int(node.id[1:])]
        if isinstance(value, ProbeRaised):
            raise value
        return value
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, values)
        for op, comparator in zip(node.ops, node.comparators):
            right = _evaluate(comparator, values)
            if not COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        result: Any = None
        for item in node.values:
            result = _evaluate(item, values)
            if bool(result) != isinstance(node.op, ast.And):
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        return not _evaluate(node.operand, values)
    assert isinstance(node, ast.Call)
    return math.isclose(*(_evaluate(a, values) for a in node.args),
                        **{str(k.arg): _evaluate(k.value, values) for k in node.keywords})


def _decode(item: Any) -> Any:
    """A probe's value as sandbox_runner reports it: the tagged plain data of
    jeval.tasks.sandbox_values, or ["error", name] where the probe raised."""
    if isinstance(item, list) and len(item) == 2 and item[0] == "error":
        return ProbeRaised(str(item[1]))
    return decode(item)


def _verdict(checks: Sequence[Check], report: bytes) -> Outcome:
    try:
        results = json.loads(report)["tests"]
    except (ValueError, TypeError, KeyError, RecursionError) as e:
        return Outcome(False, f"unreadable report ({type(e).__name__})")
    if not isinstance(results, list):
        return Outcome(False, "unreadable report")
    for i, check in enumerate(checks):
        entry = results[i] if i < len(results) else {"error": "no result"}
        if not isinstance(entry, dict) or "values" not in entry:
            error = entry.get("error") if isinstance(entry, dict) else None
            return Outcome(False, f"test {i + 1}: {str(error)[:80]}")
        try:
            values = [_decode(v) for v in entry["values"]]
            if len(values) != len(check.probes):
                return Outcome(False, f"test {i + 1}: wrong number of values")
            if not check.holds(values):
                return Outcome(False, f"test {i + 1}: assertion false")
        except ProbeRaised as e:
            return Outcome(False, f"test {i + 1}: {str(e)[:80]}")
        except Exception as e:  # anything the reported data makes Python raise fails the test
            return Outcome(False, f"test {i + 1}: {type(e).__name__}")
    return Outcome(True, "pass")


def run_one(code: str, tests: Sequence[str], config: CodeExecConfig = CodeExecConfig(),
            sandbox: Sandbox | None = None) -> Outcome:
    """Run `code` followed by each test (llm-jp-eval re-executes the code before every test case);
    passed when every assertion holds. Raises SandboxUnavailable when no sandbox can run here."""
    checks = [Check.parse(t) for t in tests]
    sandbox = sandbox or Sandbox.create()
    job = {"code": code, "probes": [list(c.probes) for c in checks], "scope": config.scope,
           "upstream_globals": list(UPSTREAM_GLOBAL_NAMES), "alarm_s": max(1, math.ceil(config.timeout_s))}
    run = sandbox.run_python(program_source(RUNNER), json.dumps(job).encode(), config.limits())
    if run.reason != "exited":
        return Outcome(False, run.reason)
    if run.status != 0:
        return Outcome(False, f"exit status {run.status}")
    return _verdict(checks, run.stdout)


def run_batch(items: Sequence[tuple[str, Sequence[str]]], config: CodeExecConfig = CodeExecConfig(),
              sandbox: Sandbox | None = None) -> list[Outcome]:
    """Each (code, tests) in its own sandbox, `config.workers` at a time; results in input order."""
    if not items:
        return []
    sandbox = sandbox or Sandbox.create()
    with ThreadPoolExecutor(max_workers=min(config.workers, len(items))) as pool:
        return list(pool.map(lambda item: run_one(item[0], item[1], config, sandbox), items))
