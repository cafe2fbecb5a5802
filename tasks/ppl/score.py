"""Tokenizing documents into scored windows, and `evaluate_corpus`, the entry point for anything
that holds a model already (the trainer's evaluation hook). Windows are scored by
jeval.models.local.score_windows, the same code `jeval run --backend local` uses.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable, Sequence
from typing import Any, overload

from jeval.errors import JevalError
from jeval.models.local import DEFAULT_BATCH_SIZE, score_windows
from jeval.models.model import Window
from jeval.tasks.ppl.conventions import CONVENTIONS, DEFAULT, Convention, prefix_token
from jeval.tasks.ppl.loss import NOTHING, CorpusLoss
from jeval.tasks.ppl.windows import Span

log = logging.getLogger(__name__)

__all__ = ["context_length", "document_ids", "evaluate_corpus", "jobs_for", "prefix_token", "text_size"]


def document_ids(tokenizer: Any, text: str) -> list[int]:
    """jeval's convention: the prefix token, then the text's tokens (no other special tokens)."""
    return DEFAULT.document_ids(tokenizer, text)


def context_length(model_config: Any, tokenizer: Any, max_length: int | None = None,
                   convention: Convention = DEFAULT) -> int:
    """`max_length` when given, else the convention's default for this model (jeval: the model's
    maximum positions, capped by the tokenizer's limit; lm-eval: as lm-eval reads it)."""
    if max_length is not None:
        return max_length
    found = convention.default_length(model_config, tokenizer)
    if found is None:
        raise JevalError("cannot tell the model's context length; give max_length")
    return found


def jobs_for(ids: Sequence[int], windows: Iterable[Span]) -> list[Window]:
    return [Window(tuple(ids[w.start:w.end]), w.first - w.start) for w in windows]


class CorpusWindows(Sequence[Window]):
    """Every document's windows, in order, over its tokens held as 4-byte integers: each window's
    tuple of Python ints (about 36 bytes a token, overlapping windows holding shared tokens twice)
    is built only when the window is read, so a corpus costs 4 bytes a token while it waits."""

    def __init__(self) -> None:
        self._tokens: list[array[int]] = []
        self._spans: list[tuple[int, Span]] = []

    def add(self, ids: Sequence[int], windows: Iterable[Span]) -> None:
        self._tokens.append(array("i", ids))
        document = len(self._tokens) - 1
        self._spans.extend((document, w) for w in windows)

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, index: int) -> Window: ...

    @overload
    def __getitem__(self, index: slice) -> list[Window]: ...

    def __getitem__(self, index: int | slice) -> Window | list[Window]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        document, w = self._spans[index]
        return Window(tuple(self._tokens[document][w.start:w.end]), w.first - w.start)


def text_size(text: str) -> tuple[int, int]:
    return len(text), len(text.encode("utf-8"))


def evaluate_corpus(model: Any, tokenizer: Any, texts: Iterable[str], *, max_length: int | None = None,
                    stride: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                    progress: bool = False, convention: str = "jeval") -> CorpusLoss:
    """Loss, perplexity, bits per character and bits per byte of `model` on `texts` (each text one
    document), with a sliding window of `max_length` tokens (default: the model's context length)
    moving `stride` tokens at a time (default: `max_length - 1`, disjoint windows).

    `convention="lm-eval"` scores as lm-eval's `HFLM.loglikelihood_rolling` does with its defaults,
    `max_length` then being lm-eval's (see jeval.tasks.ppl.conventions); it takes no stride.

    `model` is any causal LM returning `.logits` (a transformers model, in memory, on any device);
    it is put in eval mode for the scoring (no dropout, no gradients) and given back in the mode it had."""
    if convention not in CONVENTIONS:
        raise JevalError(f"convention must be {' or '.join(CONVENTIONS)}, got {convention!r}")
    chosen = CONVENTIONS[convention]
    length = context_length(model.config, tokenizer, max_length, chosen)
    step = chosen.stride(length, stride)
    total = NOTHING
    jobs = CorpusWindows()
    for text in texts:
        ids = chosen.document_ids(tokenizer, text)
        windows = chosen.windows(len(ids), length, step)
        jobs.add(ids, windows)
        chars, size = text_size(text)
        total = total + CorpusLoss(0.0, len(ids) - 1, chars, size, 1, len(windows))
    was_training = model.training
    model.eval()
    try:
        nll = sum(score_windows(model, jobs, batch_size, progress))
    finally:
        model.train(was_training)
    return CorpusLoss(nll, total.tokens, total.chars, total.bytes, total.documents, total.windows)
