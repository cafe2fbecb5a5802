"""Multiple choice by log-likelihood in process: `jeval run --backend local --batch-size auto`
against lm-eval's own HF model (`HFLM(batch_size=16)`), the same checkpoint, the same lm-eval
task config, each from a fresh process (imports and model load included, as a user waits).

The task is written here: N questions of 4 choices over the trainer's example sentences (a
sentence's first half, its own second half and three others'), 4N log-likelihood requests. The
two sides run alternately, `--rounds` times; median wall times and their ratio are printed, and the
accuracies (acc, acc_norm) must be equal bit for bit.

    python tests/benchmarks/bench_local_batching.py [CHECKPOINT] [--items 400] [--rounds 3]
        [--batch-size auto] [--lm-eval-batch-size 16] [--hidden 512 --layers 8]

CHECKPOINT defaults to $JEVAL_TEST_CHECKPOINT. On the tiny checkpoint the forward passes are a
small part of both wall times (imports, lm-eval's task building and the model load are the same
work on both sides); `--hidden H --layers L` scores with a randomly initialised model of that size
over the checkpoint's tokenizer instead (512 and 8: 31 M parameters), where the passes are the work.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "models" / "train" / "examples" / "data" / "ja_web.jsonl"
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
CONFIG = """task: bench_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {items}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
  - metric: acc_norm
"""
LM_EVAL = """
import json, sys
import lm_eval
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
checkpoint, folder, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
lm = HFLM(pretrained=checkpoint, device="cpu", batch_size=batch)
out = lm_eval.simple_evaluate(model=lm, tasks=["bench_mc"], task_manager=TaskManager(include_path=folder,
                              include_defaults=False))
print(json.dumps(out["results"]["bench_mc"]))
"""


def sentences() -> list[str]:
    found = []
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        found += [s + "。" for s in re.split("。", json.loads(line)["text"]) if len(s) >= 8]
    return sorted(set(found))


def write_task(folder: Path, n_items: int) -> int:
    rng = random.Random(0)
    pool = sentences()
    rows = []
    for i in range(n_items):
        own = pool[i % len(pool)]
        cut = len(own) // 2
        others = rng.sample([s for s in pool if s != own], 3)
        choices = [own[cut:]] + [s[len(s) // 2:] for s in others]
        rng.shuffle(choices)
        rows.append({"question": own[:cut], "choices": choices, "label": choices.index(own[cut:])})
    items = folder / "items.jsonl"
    items.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (folder / "bench_mc.yaml").write_text(CONFIG.format(items=items), encoding="utf-8")
    return 4 * n_items


def widened(checkpoint: str, folder: Path, hidden: int, layers: int) -> str:
    """A randomly initialised Llama of `hidden` width and `layers` layers (seeded), with the
    checkpoint's tokenizer, saved under `folder`."""
    import shutil

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig.from_pretrained(checkpoint)
    heads = max(1, hidden // 64)
    config.update({"hidden_size": hidden, "intermediate_size": 3 * hidden, "num_hidden_layers": layers,
                   "num_attention_heads": heads, "num_key_value_heads": heads, "head_dim": hidden // heads})
    torch.manual_seed(0)
    out = folder / f"llama-{hidden}x{layers}"
    LlamaForCausalLM(config).save_pretrained(out)
    for name in Path(checkpoint).iterdir():
        if name.name.startswith(("tokenizer", "chat_template", "special_tokens")):
            shutil.copy(name, out / name.name)
    return str(out)


def run_jeval(checkpoint: str, folder: Path, work: Path, batch: str) -> tuple[float, dict]:
    out = work / f"out-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "jeval", "run", "--model", checkpoint, "--backend", "local",
               "--batch-size", batch, "--tasks", "lm-eval:bench_mc", "--task-arg", f"lm-eval.include={folder}",
               "--cache", str(out / "cache.sqlite"), "--output", str(out)]
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **OFFLINE})
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"jeval failed: {proc.stderr[-3000:]}")
    results = json.loads(next(out.rglob("results.json")).read_text())
    return elapsed, results["tasks"]["lm-eval:bench_mc"]["metrics"]


def run_lm_eval(checkpoint: str, folder: Path, batch: int) -> tuple[float, dict]:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", LM_EVAL, checkpoint, str(folder), str(batch)],
                          capture_output=True, text=True, env={**os.environ, **OFFLINE})
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"lm-eval failed: {proc.stderr[-3000:]}")
    return elapsed, json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", nargs="?", default=os.environ.get("JEVAL_TEST_CHECKPOINT"))
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--lm-eval-batch-size", type=int, default=16)
    parser.add_argument("--hidden", type=int, help="score with a random model this wide (see above)")
    parser.add_argument("--layers", type=int, default=8)
    args = parser.parse_args()
    if not args.checkpoint:
        sys.exit("give a checkpoint folder (or set JEVAL_TEST_CHECKPOINT)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.hidden:
            args.checkpoint = widened(args.checkpoint, work, args.hidden, args.layers)
            print(f"model: random Llama, hidden {args.hidden}, {args.layers} layers")
        requests = write_task(work, args.items)
        ours, theirs = [], []
        for _ in range(args.rounds):
            seconds, metrics = run_jeval(args.checkpoint, work, work, args.batch_size)
            ours.append(seconds)
            seconds, reference = run_lm_eval(args.checkpoint, work, args.lm_eval_batch_size)
            theirs.append(seconds)
    same = all(metrics[k] == reference[k] for k in ("acc,none", "acc_norm,none"))
    print(f"{requests} log-likelihood requests ({args.items} questions of 4 choices), {args.rounds} rounds")
    print(f"jeval --backend local --batch-size {args.batch_size}: median {statistics.median(ours):.1f} s "
          f"({', '.join(f'{s:.1f}' for s in ours)})")
    print(f"lm-eval HFLM batch_size={args.lm_eval_batch_size}:       median {statistics.median(theirs):.1f} s "
          f"({', '.join(f'{s:.1f}' for s in theirs)})")
    print(f"wall-time ratio jeval / lm-eval: {statistics.median(ours) / statistics.median(theirs):.2f}x")
    print(f"acc {metrics['acc,none']!r} vs {reference['acc,none']!r}, acc_norm {metrics['acc_norm,none']!r} vs "
          f"{reference['acc_norm,none']!r}: {'equal' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
