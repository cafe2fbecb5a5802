"""Per-program cost of code_exec's bubblewrap sandbox against the runner it replaced.

The old runner (a `python -I` child confining itself with rlimits, an unshared network namespace and
an audit hook) is read from git at OLD_COMMIT, the last commit that had it, and imported from a
temporary folder. Both score the same programs (correct, wrong, raising, three tests each), one after
another and then in a pool of `--workers`; the figures are milliseconds per program and the ratio
new / old. Needs bubblewrap and the project's git history.

    python tests/benchmarks/bench_sandbox.py [--n 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from jeval.tasks.jaster.code_exec import CodeExecConfig, run_batch, run_one
from jeval.tasks.sandbox import Sandbox

OLD_COMMIT = "a99836aca1926ed4ea21187da259c9b4b455a3a5"
ROOT = Path(__file__).resolve().parents[2]


def old_runner(folder: Path) -> ModuleType:
    for name in ("code_exec.py", "sandbox_runner.py"):
        text = subprocess.run(["git", "show", f"{OLD_COMMIT}:tasks/jaster/{name}"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout
        (folder / name).write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_code_exec", folder / "code_exec.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_code_exec"] = module
    spec.loader.exec_module(module)
    return module


def programs(n: int) -> list[tuple[str, list[str]]]:
    tests = ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"]
    bodies = ["return a + b", "return a - b", "raise ValueError(a)"]
    return [(f"def add(a, b):\n    {bodies[i % 3]}\n# {i}", tests) for i in range(n)]


def per_program_ms(score: Callable[[], list[bool]], n: int) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    passed = score()
    return (time.perf_counter() - start) / n * 1000, passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    items = programs(args.n)
    sandbox = Sandbox.create()
    print(f"sandbox: {sandbox.version}, python {sys.version.split()[0]}, {args.n} programs of 3 tests each")
    with tempfile.TemporaryDirectory(prefix="jeval-old-runner-") as tmp:
        old = old_runner(Path(tmp))
        old_config = old.CodeExecConfig(timeout_s=10.0, workers=args.workers)
        new_config = CodeExecConfig(timeout_s=10.0, workers=args.workers)
        old.run_one(*items[0], old_config)
        run_one(*items[0], new_config, sandbox)
        rows = [
            ("one at a time",
             lambda: [old.run_one(c, t, old_config).passed for c, t in items],
             lambda: [run_one(c, t, new_config, sandbox).passed for c, t in items]),
            (f"pool of {args.workers}",
             lambda: [o.passed for o in old.run_batch(items, old_config)],
             lambda: [o.passed for o in run_batch(items, new_config, sandbox)]),
        ]
        print(f"{'':<14} {'old ms/program':>15} {'new ms/program':>15} {'new/old':>8}  same verdicts")
        for name, run_old, run_new in rows:
            old_ms, old_passed = per_program_ms(run_old, args.n)
            new_ms, new_passed = per_program_ms(run_new, args.n)
            print(f"{name:<14} {old_ms:>15.1f} {new_ms:>15.1f} {new_ms / old_ms:>7.2f}x  {old_passed == new_passed}")


if __name__ == "__main__":
    main()
