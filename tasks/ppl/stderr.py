"""Standard errors of the perplexity figures: a bootstrap over documents.

Every figure is a ratio of sums over documents (summed NLL over summed tokens, characters or
bytes; perplexity its exponential), not a mean of per-document values, so each one's standard
error is the spread of the figure recomputed on resamples of the documents (jeval.stderr's
resample count and seed). A figure broken down by language or corpus is resampled within its own
documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jeval.stderr import RESAMPLES, SEED, bootstrap_stderrs, stderr_key
from jeval.tasks.ppl.loss import CorpusLoss

FIGURES = ("bits_per_byte", "bits_per_char", "loss", "perplexity")


def _figures(nll: float, tokens: float, chars: float, size: float) -> dict[str, float]:
    loss = nll / tokens if tokens else math.nan
    return {"bits_per_byte": nll / math.log(2) / size if size else math.nan,
            "bits_per_char": nll / math.log(2) / chars if chars else math.nan,
            "loss": loss, "perplexity": math.exp(loss) if tokens else math.nan}


def figure_stderrs(losses: Sequence[CorpusLoss]) -> dict[str, float | None]:
    """Each figure's bootstrap standard error over these documents (None below 2 documents)."""
    table = np.array([[x.nll, x.tokens, x.chars, x.bytes] for x in losses], dtype=np.float64).reshape(-1, 4)

    def statistic(chosen: list[int]) -> dict[str, float]:
        nll, tokens, chars, size = table[chosen].sum(axis=0)
        return _figures(float(nll), float(tokens), float(chars), float(size))

    return bootstrap_stderrs(statistic, list(range(len(losses))), FIGURES)


def with_stderrs(metrics: dict[str, Any], groups: Mapping[str, Sequence[CorpusLoss]]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """`metrics` (`loss`, `loss,lang=ja`, ...) with `<figure>_stderr` after each figure; `groups`
    holds each key suffix's documents ("" for the whole corpus, "lang=ja", "corpus=a.jsonl")."""
    errors: dict[str, float | None] = {}
    for suffix, losses in groups.items():
        for figure, error in figure_stderrs(losses).items():
            errors[f"{figure},{suffix}" if suffix else figure] = error
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        out[key] = value
        if key in errors:
            out[stderr_key(key)] = errors[key]
    record = {"method": dict.fromkeys(errors, "bootstrap"),
              "bootstrap": {"resamples": RESAMPLES, "seed": SEED, "unit": "document"}}
    return out, record
