"""How in-process forward passes are grouped: by length, under a size and token budget, and
smaller again when the device runs out of memory.

A batch is as wide as its longest sequence, so sequences are taken longest first: neighbours are
alike in length, and a scoring batch ends before a sequence that would be mostly padding.
`--batch-size N` caps a batch at N sequences; `--batch-size auto` caps it by a token budget
instead (sequences × width), read from the memory the device has free, so that short requests go
many to a batch and long ones few. Where a batch
still does not fit, it is split in halves and the budget lowered for the rest of the run
(lm-eval's `find_executable_batch_size` halves the same way).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from jeval.errors import JevalError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

BatchSize = int | Literal["auto"]
AUTO_MAX_SEQUENCES = 64
"""The most sequences one auto-sized batch holds: beyond this, a CPU gains nothing and a GPU
gains little on the short requests of evaluation tasks."""
CPU_TOKEN_BUDGET = 4096
"""Tokens per batch (sequences × width) on a CPU: larger batches stop paying on a few cores
(measured in tests/benchmarks/bench_local_batching.py), whatever memory is free."""
CPU_ACTIVATION_BUDGET = 16 * 2**20
"""Bytes of a layer's activations one batch may hold on a CPU (`layer_bytes_per_token`). A
batch's tokens pay off on a CPU only by spreading the per-pass overhead, which a wider model
spreads over fewer tokens, while its activations grow with the width: on 2 cores a 2 M parameter
Llama takes 7 % longer over 1,600 multiple-choice requests at 512 tokens a batch than at 4,096,
and a 29 M one scores perplexity windows of 256 tokens no faster at 4,096 than at 512, with a
peak memory of 659 MiB against 549 (lm-eval's rolling log-likelihood: 560). This budget gives
them 2,520 and 679 tokens: the wall times of 4,096 within noise (+2 % and +1 % over 5 and 6
alternating rounds), and 547 MiB for the perplexity run."""
MEMORY_SHARE = 0.25
"""The share of free memory one batch's activations may take."""
MIN_FILL = 0.75
"""The shortest sequence a batch takes, as a share of its widest: a batch ends before a sequence
that would be more than a quarter padding. On 400 four-choice questions whose rows run from 7 to
45 tokens, this cuts the tokens fed from 6,812 to 5,385 (4,918 without padding) and the scoring
time by 18 % (tests/benchmarks/bench_local_batching.py)."""


def parse_batch_size(value: str) -> BatchSize:
    """`--batch-size`: a positive whole number or `auto`."""
    if value == "auto":
        return "auto"
    try:
        size = int(value)
    except ValueError:
        size = 0
    if size < 1:
        raise JevalError(f"--batch-size must be a positive whole number or auto, got {value!r}")
    return size


@dataclass
class Budget:
    """What one batch may hold: at most `sequences`, and at most `tokens` (sequences × width)."""

    sequences: int
    tokens: int | None = None

    def fits(self, count: int, width: int) -> bool:
        return count <= self.sequences and (self.tokens is None or count * width <= self.tokens)

    def shrink(self, count: int, width: int) -> None:
        """After a batch of `count` sequences `width` wide ran out of memory: no batch that large again."""
        self.sequences = max(1, min(self.sequences, count // 2 or 1))
        if self.tokens is not None:
            self.tokens = max(width, min(self.tokens, count * width // 2))


def free_memory_bytes(device: str) -> int | None:
    """Free memory on the device: CUDA's own count, or MemAvailable of /proc/meminfo for a CPU."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def layer_bytes_per_token(config: Any, element_size: int) -> int:
    """Memory one token of a batch holds inside a layer: its hidden states and MLP activations
    (the model runs without a cache)."""
    hidden = int(getattr(config, "hidden_size", 4096))
    intermediate = int(getattr(config, "intermediate_size", 4 * hidden))
    return element_size * (4 * hidden + 3 * intermediate)


def bytes_per_token(config: Any, element_size: int) -> int:
    """Activation memory one token of a batch needs at the widest point of a forward pass: the
    logits row (kept in float32 for log-softmax, twice: logits and their log-probabilities) and
    a layer's activations."""
    vocab = int(getattr(config, "vocab_size", 32000))
    return 2 * 4 * vocab + layer_bytes_per_token(config, element_size)


def budget_for(size: BatchSize, device: str, config: Any, element_size: int) -> Budget:
    """The batch budget for `--batch-size`: N sequences, or for `auto` a token budget from the
    device's free memory (and on a CPU at most CPU_TOKEN_BUDGET tokens and CPU_ACTIVATION_BUDGET
    bytes of a layer's activations)."""
    if size != "auto":
        return Budget(size)
    free = free_memory_bytes(device)
    per_token = bytes_per_token(config, element_size)
    tokens = int(free * MEMORY_SHARE) // per_token if free else CPU_TOKEN_BUDGET
    if not device.startswith("cuda"):
        tokens = min(tokens, CPU_TOKEN_BUDGET, CPU_ACTIVATION_BUDGET // layer_bytes_per_token(config, element_size))
    return Budget(AUTO_MAX_SEQUENCES, max(tokens, 1))


def by_length(lengths: Sequence[int]) -> list[int]:
    """Indices longest first (ties in their given order), so that batches pad little."""
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def batches(order: Sequence[int], lengths: Sequence[int], budget: Budget, fill: float = 0.0
            ) -> Iterator[list[int]]:
    """Consecutive runs of `order` that fit the budget and whose sequences are each at least
    `fill` of the run's first (its widest). A sequence too wide for the token budget goes alone.
    Scoring passes take MIN_FILL; generation takes none (its rows decode token by token after the
    prompt, so fewer batches save more than a shorter prompt would)."""
    at = 0
    while at < len(order):
        width = lengths[order[at]]
        end = at + 1
        while end < len(order) and budget.fits(end - at + 1, width) and lengths[order[end]] >= fill * width:
            end += 1
        yield list(order[at:end])
        at = end


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower())


def run_fitted(items: Sequence[T], width: int, step: Callable[[Sequence[T]], list[R]], budget: Budget) -> list[R]:
    """`step` on the batch, or, where the device runs out of memory, on its halves (each halved
    again as needed) with the budget lowered; one sequence that does not fit is an error."""
    try:
        return step(items)
    except Exception as e:
        if not is_out_of_memory(e):
            raise
        _release()
        if len(items) == 1:
            raise JevalError(f"one sequence of {width} tokens does not fit in the device's memory; use a smaller "
                             "model, --dtype bfloat16, or another --device") from None
        budget.shrink(len(items), width)
        log.warning("a batch of %d sequences of up to %d tokens ran out of memory; now at most %d per batch",
                    len(items), width, budget.sequences)
        half = len(items) // 2
        return (run_fitted(items[:half], width, step, budget)
                + run_fitted(items[half:], width, step, budget))


def _release() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def default_threads() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
