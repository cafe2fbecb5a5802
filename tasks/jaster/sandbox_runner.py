"""The sandbox side of code_exec: run as `python -I -B -c <this source>` inside jeval.tasks.sandbox.

Reads one job (JSON) on stdin: the generated code, and for each test case the probe expressions
jeval split out of its assert (code_exec.py). For each test case, as llm-jp-eval does, it runs the
code again, then evaluates that test's probes and reduces each value to plain data (the tagged
form below). It writes one JSON report on the descriptor that was its stdout and exits.

Nothing here is trusted: the generated code runs in this process and can rewrite any of it. The
report only carries values, which jeval compares with the expected ones outside; the expected
values never enter the sandbox. Never imported by the harness.
"""

import builtins
import importlib
import json
import numbers
import os
import signal
import sys

MAX_DEPTH = 100


def encode(value, depth=0):
    """Plain data as tagged JSON. An object that is not plain data stays opaque (it equals
    nothing outside), so a custom `__eq__` can never decide a comparison."""
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
        return ["set" if isinstance(value, set) else "frozenset", [encode(v, inner) for v in frozenset(value)]]
    if isinstance(value, dict):
        return ["dict", [[encode(k, inner), encode(v, inner)] for k, v in dict.items(value)]]
    return ["opaque", type(value).__qualname__, bool(value)]


def namespaces(scope, upstream_globals):
    if scope == "upstream":
        globals_ = {"__builtins__": builtins, "__name__": "llm_jp_eval.utils"}
        for name in upstream_globals:
            globals_[name] = importlib.import_module(name)
        return globals_, {}
    namespace = {"__builtins__": builtins, "__name__": "__main__"}
    return namespace, namespace


def run(job):
    """One entry per test case, stopping at the first whose code run raises (as upstream stops at
    the first failing test): {"values": [...]} or {"error": exception name}."""
    globals_, locals_ = namespaces(job["scope"], job["upstream_globals"])
    results: list = []
    try:
        code = compile(job["code"], "<generated>", "exec")
        tests = [[compile(p, "<test>", "eval") for p in probes] for probes in job["probes"]]
    except BaseException as e:  # the code does not compile: every test fails
        return [{"error": type(e).__name__}]
    for probes in tests:
        try:
            exec(code, globals_, locals_)
        except BaseException as e:  # any failure of generated code fails the test
            results.append({"error": type(e).__name__})
            break
        values = []
        for probe in probes:
            try:
                values.append(encode(eval(probe, globals_, locals_)))
            except BaseException as e:  # recorded; jeval decides whether the assert needed it
                values.append(["error", type(e).__name__])
        results.append({"values": values})
    return results


def main():
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    report_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    signal.alarm(job["alarm_s"])
    data = json.dumps({"tests": run(job)}).encode()
    while data:
        data = data[os.write(report_fd, data):]
    os._exit(0)


if __name__ == "__main__":
    main()
