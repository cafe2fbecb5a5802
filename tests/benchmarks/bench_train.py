"""Training throughput of the tiny preset through jeval's trainer (HF Trainer, mixture dataset,
spike guard and JSONL logging callbacks) against a plain PyTorch loop over the same model, the
same batches in the same order, AdamW with the same settings and schedule, and gradient
clipping. Each side runs in its own child process so that peak RSS (torch on CPU) is its own;
tokenizer training and data packing happen in both but are not timed.

    python tests/benchmarks/bench_train.py [--steps 30]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def config(steps: int):
    from jeval.models.train.presets import preset, with_max_steps

    return with_max_steps(preset("tiny"), steps)


def run_trainer(steps: int) -> dict:
    from jeval.models.train.logs import read_jsonl
    from jeval.models.train.pretrain import pretrain

    cfg = config(steps)
    with tempfile.TemporaryDirectory() as tmp:
        pretrain(cfg, Path(tmp))
        end = [r for r in read_jsonl(Path(tmp) / "train_log.jsonl") if "train_runtime" in r][-1]
    return {"seconds": end["train_runtime"]}


def run_plain(steps: int) -> dict:
    import torch

    from jeval.models.train.pretrain import build_dataset, build_model, build_tokenizer, lr_factor

    cfg = config(steps)
    torch.manual_seed(cfg.seed)
    tokenizer = build_tokenizer(cfg)
    data = build_dataset(cfg, tokenizer)
    model = build_model(cfg, tokenizer)
    o = cfg.optim
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "norm" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "norm" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": o.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=o.lr, betas=(o.beta1, o.beta2))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg))
    model.train()
    started = time.perf_counter()
    for step in range(cfg.total_steps):
        rows = [data[i] for i in range(step * o.batch_size, (step + 1) * o.batch_size)]
        ids = torch.stack([r["input_ids"] for r in rows])
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), o.max_grad_norm)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
    return {"seconds": time.perf_counter() - started, "final_loss": loss.item()}


def child(mode: str, steps: int) -> dict:
    result = run_trainer(steps) if mode == "trainer" else run_plain(steps)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--child", choices=["trainer", "plain"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps)))
        return
    cfg = config(args.steps)
    tokens = cfg.total_steps * cfg.optim.batch_size * cfg.optim.grad_accum * cfg.optim.seq_len
    results = {}
    for mode in ("plain", "trainer"):
        proc = subprocess.run([sys.executable, __file__, "--child", mode, "--steps", str(args.steps)],
                              capture_output=True, text=True, check=True)
        results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"tiny preset, {cfg.total_steps} steps x {cfg.optim.batch_size} x {cfg.optim.seq_len} tokens = "
          f"{tokens:,} tokens")
    for mode, r in results.items():
        print(f"  {mode:8s} {tokens / r['seconds']:>10,.0f} tokens/s  ({r['seconds']:.1f} s)  "
              f"peak RSS {r['peak_rss_mib']:,.0f} MiB")
    ratio = (tokens / results["trainer"]["seconds"]) / (tokens / results["plain"]["seconds"])
    print(f"  trainer / plain PyTorch throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
