"""Tokens per second of jeval's in-process perplexity path (`evaluate_corpus`) against a plain loop
over the same windows with the same batch size: windows in document order, right-padded, each
batch through `model(input_ids, attention_mask, labels)` as the transformers docs show.

Both sides score the same tokens (the summed losses are checked to agree); in one run, the two
sides alternate for a few rounds (on a shared machine single timings are noisy) and the ratio of
median tokens/s is printed (jeval / plain). The corpus mixes short and long documents,
as real corpora do: jeval batches windows longest first, so batches pad little.

    python tests/benchmarks/bench_ppl.py --checkpoint CKPT [--context-length 256] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from jeval.tasks.ppl.score import document_ids, evaluate_corpus
from jeval.tasks.ppl.windows import plan_windows

EXAMPLES = Path(__file__).parents[2] / "models" / "train" / "examples" / "data"


def corpus(n_docs: int) -> list[str]:
    """The trainer's example texts: short Japanese documents and one long English file, repeated."""
    ja = [json.loads(line)["text"] for line in (EXAMPLES / "ja_web.jsonl").read_text(encoding="utf-8").splitlines()]
    en = (EXAMPLES / "en_web.txt").read_text(encoding="utf-8")
    texts = []
    while len(texts) < n_docs:
        texts.extend(ja[:19])
        texts.append(en)
    return texts[:n_docs]


@torch.inference_mode()
def plain_loop(model, tokenizer, texts: list[str], length: int, stride: int, batch_size: int) -> tuple[float, int]:
    windows = []
    for text in texts:
        ids = document_ids(tokenizer, text)
        windows.extend((ids[w.start:w.end], w.first - w.start) for w in plan_windows(len(ids), length, stride))
    nll, tokens = 0.0, 0
    for at in range(0, len(windows), batch_size):
        batch = windows[at:at + batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros_like(input_ids)
        labels = torch.full_like(input_ids, -100)
        for row, (ids, first) in enumerate(batch):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            mask[row, :len(ids)] = 1
            labels[row, first:len(ids)] = torch.tensor(ids[first:])
        scored = int((labels[:, 1:] != -100).sum())
        nll += float(model(input_ids=input_ids, attention_mask=mask, labels=labels).loss) * scored
        tokens += scored
    return nll, tokens


def padded(lengths: list[int], batch_size: int) -> int:
    """Positions a forward pass computes when windows of these lengths are batched in this order."""
    return sum(max(lengths[at:at + batch_size]) * len(lengths[at:at + batch_size])
               for at in range(0, len(lengths), batch_size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--context-length", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (the machine may be shared)")
    args = parser.parse_args()
    model = AutoModelForCausalLM.from_pretrained(args.checkpoint).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.checkpoint)
    texts = corpus(args.docs)
    stride = args.context_length - 1

    plain_times, jeval_times = [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        plain_nll, plain_tokens = plain_loop(model, tokenizer, texts, args.context_length, stride, args.batch_size)
        plain_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        found = evaluate_corpus(model, tokenizer, texts, max_length=args.context_length, batch_size=args.batch_size)
        jeval_times.append(time.perf_counter() - t0)
        assert found.tokens == plain_tokens, (found.tokens, plain_tokens)
        assert abs(found.nll - plain_nll) <= 1e-4 * abs(plain_nll), (found.nll, plain_nll)
    print(f"corpus: {len(texts)} documents, {found.windows} windows of up to {args.context_length} tokens, "
          f"{found.tokens} scored tokens, batch size {args.batch_size}, device {next(model.parameters()).device}, "
          f"{torch.get_num_threads()} threads")
    for i, (p, j) in enumerate(zip(plain_times, jeval_times, strict=True), 1):
        print(f"round {i}: plain loop {found.tokens / p:,.0f} tokens/s, jeval {found.tokens / j:,.0f} tokens/s, "
              f"ratio {p / j:.2f}")
    lengths = [w.length for text in texts
               for w in plan_windows(len(document_ids(tokenizer, text)), args.context_length, stride)]
    print(f"positions computed (with padding): plain loop {padded(lengths, args.batch_size):,}, "
          f"jeval {padded(sorted(lengths, reverse=True), args.batch_size):,}, real {sum(lengths):,}")
    plain_s, jeval_s = statistics.median(plain_times), statistics.median(jeval_times)
    print(f"median: plain loop {found.tokens / plain_s:,.0f} tokens/s, jeval {found.tokens / jeval_s:,.0f} tokens/s")
    print(f"ratio jeval / plain (tokens/s, medians): {plain_s / jeval_s:.2f}")

if __name__ == "__main__":
    main()
