"""The sandbox side of code_exec: run as `python -I -B -c <this source>` inside jeval.tasks.sandbox
(sent as jeval.tasks.sandbox.program_source makes it: jeval.tasks.sandbox_values in place of the
import of it).

Reads one job (JSON) on stdin: the generated code, and for each test case the probe expressions
jeval split out of its assert (code_exec.py). For each test case, as llm-jp-eval does, it runs the
code again, then evaluates that test's probes and reduces each value to plain data (the tagged form
of jeval.tasks.sandbox_values, `encode`). It writes one JSON report on the descriptor that was its
stdout and exits.

Nothing here is trusted: the generated code runs in this process and can rewrite any of it. The
report only carries values, which jeval compares with the expected ones outside; the expected
values never enter the sandbox. Never imported by the harness.
"""

import builtins
import importlib
import signal

from jeval.tasks.sandbox_values import encode, serve


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


def answer(job):
    signal.alarm(job["alarm_s"])
    return {"tests": run(job)}


if __name__ == "__main__":
    serve(answer)
