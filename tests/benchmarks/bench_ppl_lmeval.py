"""jeval's perplexity against lm-eval's rolling log-likelihood (`HFLM.loglikelihood_rolling`) on the
same checkpoint and corpus, in both of jeval's conventions:

- `jeval` (default) against lm-eval with `add_bos_token=False` and `max_length` one less than
  jeval's context length;
- `lm-eval` against lm-eval with its defaults and the same `max_length`.

Every measurement runs in a process of its own (model loaded there, on the CPU), and its peak
resident memory is that process's `ru_maxrss` (read by the parent from `wait4`). Rounds alternate
the two sides, and the order within a round flips each round (the machine may be shared); the
figures printed are medians over rounds. Printed per convention: bits per byte of each side and
their relative difference, the wall-time ratio of the scoring itself and of the whole process
(jeval / lm-eval; target at most 0.5), and the peak-memory ratio (target at most 1.0).

The jeval side is `jeval.tasks.ppl.score.evaluate_corpus` (the scoring code of `jeval run --tasks
ppl --backend local`), or with `--jeval-cli` the whole `jeval run` command, fresh cache each time.

    python tests/benchmarks/bench_ppl_lmeval.py --checkpoint CKPT [--docs 120] [--max-length 255]
        [--rounds 3] [--batch-size 8|auto] [--lm-eval-batch-size 1] [--jeval-cli]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "models" / "train" / "examples" / "data"
PAIRS = (("jeval", "no_bos"), ("lm-eval", "defaults"))
"""jeval's convention and the lm-eval settings it equals."""


def corpus(n_docs: int) -> list[str]:
    """The trainer's example texts: short Japanese documents and one long English file, repeated."""
    ja = [json.loads(line)["text"] for line in (EXAMPLES / "ja_web.jsonl").read_text(encoding="utf-8").splitlines()]
    en = (EXAMPLES / "en_web.txt").read_text(encoding="utf-8")
    texts: list[str] = []
    while len(texts) < n_docs:
        texts.extend(ja[:19])
        texts.append(en)
    return texts[:n_docs]


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker(args: argparse.Namespace) -> None:
    """One measurement in this process; prints one JSON line."""
    texts = corpus(args.docs)
    t0 = time.perf_counter()
    if args.worker == "jeval":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from jeval.tasks.ppl.score import evaluate_corpus

        model = AutoModelForCausalLM.from_pretrained(args.checkpoint, dtype="auto").eval()
        tokenizer = AutoTokenizer.from_pretrained(args.checkpoint)
        length = args.max_length + 1 if args.convention == "jeval" else args.max_length
        loaded_s, loaded_kib = time.perf_counter() - t0, peak_kib()
        t1 = time.perf_counter()
        found = evaluate_corpus(model, tokenizer, texts, max_length=length, batch_size=int(args.batch_size),
                                convention=args.convention)
        nll, tokens = found.nll, found.tokens
    else:
        from lm_eval.api.instance import Instance
        from lm_eval.models.huggingface import HFLM

        settings = {"add_bos_token": False} if args.lm_eval_settings == "no_bos" else {}
        lm = HFLM(pretrained=str(args.checkpoint), device="cpu", batch_size=args.lm_eval_batch_size,
                  max_length=args.max_length, **settings)
        loaded_s, loaded_kib = time.perf_counter() - t0, peak_kib()
        t1 = time.perf_counter()
        requests = [Instance("loglikelihood_rolling", {}, (text,), i) for i, text in enumerate(texts)]
        nll = -sum(lm.loglikelihood_rolling(requests, disable_tqdm=True))
        tokens = None
    score_s = time.perf_counter() - t1
    size = sum(len(t.encode("utf-8")) for t in texts)
    print(json.dumps({"bits_per_byte": nll / math.log(2) / size, "tokens": tokens, "score_s": score_s,
                      "load_s": loaded_s, "loaded_kib": loaded_kib, "peak_kib": peak_kib()}))


def run_child(command: list[str]) -> tuple[dict, float, int]:
    """The child's JSON line, its wall time, and its peak resident memory (KiB) from wait4."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            sys.exit(f"{' '.join(command[:6])} ... failed:\n{err.read().decode()[-3000:]}")
        lines = out.read().decode().strip().splitlines()
    return (json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}), wall, usage.ru_maxrss


def jeval_cli(args: argparse.Namespace, convention: str, tmp: Path) -> dict:
    """The whole `jeval run --tasks ppl` (fresh cache): bits per byte from its results.json."""
    corpus_file = tmp / "corpus.jsonl"
    if not corpus_file.exists():
        corpus_file.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in corpus(args.docs)),
                               encoding="utf-8")
    stamp = f"{convention}-{time.perf_counter_ns()}"
    length = args.max_length + 1 if convention == "jeval" else args.max_length
    command = [sys.executable, "-m", "jeval", "run", "--model", str(args.checkpoint), "--backend", "local",
               "--tasks", "ppl", "--corpus", str(corpus_file), "--context-length", str(length),
               "--task-arg", f"ppl.convention={convention}", "--batch-size", str(args.batch_size),
               "--cache", str(tmp / f"{stamp}.sqlite"), "--output", str(tmp / stamp)]
    _, wall, peak = run_child(command)
    (results,) = (tmp / stamp).rglob("results.json")
    task = json.loads(results.read_text())["tasks"]["ppl"]
    return {"bits_per_byte": task["metrics"]["bits_per_byte"], "tokens": task["counts"]["tokens"], "score_s": None,
            "wall_s": wall, "peak_kib": peak}


def measure(args: argparse.Namespace, side: str, convention: str, settings: str, tmp: Path) -> dict:
    if side == "jeval" and args.jeval_cli:
        return jeval_cli(args, convention, tmp)
    command = [sys.executable, __file__, "--worker", side, "--checkpoint", str(args.checkpoint),
               "--docs", str(args.docs), "--max-length", str(args.max_length), "--batch-size", str(args.batch_size),
               "--lm-eval-batch-size", str(args.lm_eval_batch_size), "--convention", convention,
               "--lm-eval-settings", settings]
    found, wall, peak = run_child(command)
    return {**found, "wall_s": wall, "peak_kib": peak}


def median(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--docs", type=int, default=120)
    parser.add_argument("--max-length", type=int, default=255,
                        help="lm-eval's max_length (jeval's convention uses one more as its context length)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", default="8",
                        help="jeval's windows per batch (auto: jeval run's default, with --jeval-cli only)")
    parser.add_argument("--lm-eval-batch-size", type=int, default=1, help="lm-eval's batch_size (its default: 1)")
    parser.add_argument("--jeval-cli", action="store_true", help="measure the whole `jeval run` command")
    parser.add_argument("--worker", choices=("jeval", "lm-eval"), help=argparse.SUPPRESS)
    parser.add_argument("--convention", default="jeval", help=argparse.SUPPRESS)
    parser.add_argument("--lm-eval-settings", default="defaults", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.batch_size == "auto" and not (args.jeval_cli or args.worker):
        parser.error("--batch-size auto applies to the whole command only: add --jeval-cli")
    if args.worker:
        worker(args)
        return

    found: dict[tuple[str, str], list[dict]] = {(c, side): [] for c, _ in PAIRS for side in ("jeval", "lm-eval")}
    with tempfile.TemporaryDirectory() as folder:
        for round_number in range(args.rounds):
            for convention, settings in PAIRS:
                sides = ("jeval", "lm-eval") if round_number % 2 == 0 else ("lm-eval", "jeval")
                for side in sides:
                    row = measure(args, side, convention, settings, Path(folder))
                    found[(convention, side)].append(row)
                    print(f"round {round_number + 1} {convention:<8} {side:<8} bits/byte {row['bits_per_byte']:.9f} "
                          f"wall {row['wall_s']:.2f} s"
                          + (f", scoring {row['score_s']:.2f} s" if row.get("score_s") is not None else "")
                          + f", peak RSS {row['peak_kib'] / 1024:.0f} MiB", flush=True)
    jeval_what = "`jeval run` (whole command)" if args.jeval_cli else f"evaluate_corpus, batch size {args.batch_size}"
    print(f"\ncorpus: {args.docs} documents, lm-eval max_length {args.max_length}; jeval: {jeval_what}; "
          f"lm-eval: HFLM batch size {args.lm_eval_batch_size}; {args.rounds} rounds, medians")
    for convention, settings in PAIRS:
        ours, theirs = found[(convention, "jeval")], found[(convention, "lm-eval")]
        a, b = ours[0]["bits_per_byte"], theirs[0]["bits_per_byte"]
        lm_eval_name = "add_bos_token=False" if settings == "no_bos" else "defaults"
        print(f"{convention} convention vs lm-eval {lm_eval_name}:")
        print(f"  bits per byte: jeval {a:.9f}, lm-eval {b:.9f}, relative difference {abs(a - b) / abs(b):.2e}")
        if not args.jeval_cli:
            print(f"  scoring time: jeval {median(ours, 'score_s'):.2f} s, lm-eval {median(theirs, 'score_s'):.2f} s, "
                  f"ratio {median(ours, 'score_s') / median(theirs, 'score_s'):.2f}")
        print(f"  process wall time: jeval {median(ours, 'wall_s'):.2f} s, lm-eval {median(theirs, 'wall_s'):.2f} s, "
              f"ratio {median(ours, 'wall_s') / median(theirs, 'wall_s'):.2f}")
        ours_kib, theirs_kib = median(ours, "peak_kib"), median(theirs, "peak_kib")
        print(f"  peak RSS: jeval {ours_kib / 1024:.0f} MiB, lm-eval {theirs_kib / 1024:.0f} MiB, "
              f"ratio {ours_kib / theirs_kib:.3f}")
        if not args.jeval_cli:
            print(f"  peak RSS after imports and model load: jeval {median(ours, 'loaded_kib') / 1024:.0f} MiB, "
                  f"lm-eval {median(theirs, 'loaded_kib') / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
