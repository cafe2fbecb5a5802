"""jeval's overhead over calling lm-eval directly: wall time of `jeval run --tasks jglue` (in-process
transformers, a fresh generation cache) against `lm_eval.simple_evaluate` with lm-eval's own HF model
on the same checkpoint and the same rendered task folder, one run each, printed as a ratio.

    python tests/benchmarks/bench_lmeval_overhead.py [CHECKPOINT] [--limit N]

CHECKPOINT defaults to $JEVAL_TEST_CHECKPOINT; the data are the test fixtures, prepared here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmeval_support import OFFLINE, make_mirror

JEVAL = [sys.executable, "-m", "jeval"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", nargs="?", default=os.environ.get("JEVAL_TEST_CHECKPOINT"))
    parser.add_argument("--limit", type=int, default=-1)
    args = parser.parse_args()
    if not args.checkpoint:
        sys.exit("give a checkpoint folder (or set JEVAL_TEST_CHECKPOINT)")
    os.environ.update(OFFLINE)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mirror = make_mirror(root / "mirror")
        subprocess.run([*JEVAL, "data", "prepare", "jglue", "--mirror", str(mirror), "--data-dir", str(root / "data")],
                       check=True, capture_output=True)
        limit = [] if args.limit == -1 else ["--limit", str(args.limit)]
        t0 = time.perf_counter()
        subprocess.run([*JEVAL, "run", "--model", args.checkpoint, "--backend", "local", "--tasks", "jglue",
                        "--data-dir", str(root / "data"), "--cache", str(root / "cache.sqlite"),
                        "--output", str(root / "out"), *limit], check=True, capture_output=True)
        jeval_s = time.perf_counter() - t0
        folder = subprocess.run([*JEVAL, "tasks", "path", "--data-dir", str(root / "data")], check=True,
                                capture_output=True, text=True).stdout.strip()
        script = (
            "import lm_eval\nfrom lm_eval.models.huggingface import HFLM\nfrom lm_eval.tasks import TaskManager\n"
            f"lm = HFLM(pretrained={args.checkpoint!r}, device='cpu', batch_size=1, add_bos_token=True)\n"
            f"lm_eval.simple_evaluate(model=lm, tasks=['jglue'], limit={None if args.limit == -1 else args.limit},"
            f" task_manager=TaskManager(include_path={folder!r}, include_defaults=False))\n"
        )
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
        direct_s = time.perf_counter() - t0
    print(f"jeval run --tasks jglue (local backend, fresh cache): {jeval_s:.1f} s")
    print(f"lm-eval simple_evaluate, HF model, same folder:       {direct_s:.1f} s")
    print(f"jeval overhead ratio: {jeval_s / direct_s:.2f}x")


if __name__ == "__main__":
    main()
