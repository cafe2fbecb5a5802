"""Sliding windows over one tokenized document.

A document is its prefix token (BOS, or EOS where the tokenizer has no BOS) followed by its text's
tokens; every text token is predicted exactly once. The first window predicts up to
`max_length - 1` tokens from the start; each later window predicts the next `stride` tokens with
the `max_length - stride` tokens before them as context (HF's "strided perplexity", without its
off-by-one that leaves each window's first token unscored). `stride = max_length - 1` gives
disjoint windows, each seeing only its own tokens (lm-eval's rolling windows are these with
`max_length` one more than lm-eval's: see jeval.tasks.ppl.conventions); a smaller stride gives
every prediction more context at the cost of more forward passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from jeval.errors import JevalError


@dataclass(frozen=True)
class Span:
    """Tokens `[start, end)` go into the model; tokens `[first, end)` are scored (`start < first`)."""

    start: int
    first: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def scored(self) -> int:
        return self.end - self.first


def check_stride(stride: int, max_length: int) -> None:
    if max_length < 2:
        raise JevalError(f"a context of {max_length} tokens cannot score anything; give a max length of 2 or more")
    if not 1 <= stride <= max_length - 1:
        raise JevalError(f"--stride must be between 1 and {max_length - 1} (the context length minus one), "
                         f"got {stride}")


def plan_windows(n_tokens: int, max_length: int, stride: int) -> list[Span]:
    """Windows covering tokens 1..n_tokens-1 of a document of `n_tokens` (prefix token included)."""
    check_stride(stride, max_length)
    windows = []
    first = 1
    while first < n_tokens:
        end = min(max_length if first == 1 else first + stride, n_tokens)
        windows.append(Span(max(0, end - max_length), first, end))
        first = end
    return windows
