"""Style control: Bradley-Terry with answer-style covariates, so that a model is not rated up
merely for longer or more heavily formatted answers.

Per battle and feature (answer length, markdown headers, lists, bold), the covariate is the
normalised difference (a - b) / (a + b) (0 when both are 0), scaled to unit root mean square
over the battles (not centred: a centred covariate would move a side's style advantage into the
models' strengths); the
logit of "A wins" is s_A - s_B + x . gamma. Model strengths s are then ratings with style held
equal. This is jeval's own formulation of the published idea; it needs each battle's
`conv_metadata` (written by `jeval arena export`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jeval.arena.battles import Battle
from jeval.errors import JevalError

if TYPE_CHECKING:
    from jeval.arena.ratings import RatingOptions

FEATURES = ("length", "headers", "lists", "bold")


def _count(value: Any) -> float:
    if isinstance(value, dict):
        return float(sum(_count(v) for v in value.values()))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(value)


def side_features(meta: dict[str, Any], side: str) -> list[float]:
    length = meta.get(f"sum_assistant_{side}_tokens", meta.get(f"sum_assistant_{side}_chars"))
    return [_count(length), _count(meta[f"header_count_{side}"]), _count(meta[f"list_count_{side}"]),
            _count(meta[f"bold_count_{side}"])]


def style_matrix(battles: Sequence[Battle]) -> np.ndarray:
    rows = []
    for i, b in enumerate(battles):
        try:
            meta = b.conv_metadata or {}
            a, bb = np.array(side_features(meta, "a")), np.array(side_features(meta, "b"))
        except (KeyError, ValueError, TypeError):
            where = f"battle {i + 1} ({b.model_a} vs {b.model_b}, question {b.question_id})"
            raise JevalError(f"{where} has no usable conv_metadata (answer lengths and markdown counts); style "
                             "control needs battles exported by `jeval arena export`") from None
        total = a + bb
        rows.append(np.where(total > 0, (a - bb) / np.where(total > 0, total, 1), 0.0))
    x = np.array(rows)
    scale = np.sqrt((x * x).mean(axis=0))
    return x / np.where(scale > 0, scale, 1.0)


@dataclass(frozen=True)
class StyleFit:
    strength: np.ndarray
    bootstrap: np.ndarray
    coefficients: dict[str, float]


def _newton(z: np.ndarray, y: np.ndarray, w: np.ndarray, m: int, prior: float, theta: np.ndarray,
            tol: float = 1e-9, max_iter: int = 100) -> np.ndarray:
    k = z.shape[1]
    reg = np.zeros((k, k))
    reg[:m, :m] = np.full((m, m), 1.0 / m) + prior * np.eye(m)
    reg[m:, m:] = 1e-9 * np.eye(k - m)

    def loss(t: np.ndarray) -> float:
        logit = z @ t
        return float((w * (np.logaddexp(0, logit) - y * logit)).sum() + prior / 2 * (t[:m] ** 2).sum())

    f = loss(theta)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(z @ theta)))
        grad = z.T @ (w * (p - y))
        grad[:m] += prior * theta[:m]
        if np.abs(grad).max() <= tol * max(1.0, w.sum()):
            break
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + reg
        step = -np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-12:
            new = theta + t * step
            f_new = loss(new)
            if f_new <= f + 1e-4 * t * float(grad @ step):
                break
            t /= 2
        theta, f = new, f_new
    theta = theta.copy()
    theta[:m] -= theta[:m].mean()
    return theta


def fit_style(battles: Sequence[Battle], models: Sequence[str], options: RatingOptions) -> StyleFit:
    index = {name: i for i, name in enumerate(models)}
    m, n = len(models), len(battles)
    x = style_matrix(battles)
    z = np.zeros((n, m + len(FEATURES)))
    rows = np.arange(n)
    z[rows, [index[b.model_a] for b in battles]] += 1.0
    z[rows, [index[b.model_b] for b in battles]] -= 1.0
    z[:, m:] = x
    y = np.array([{"model_a": 1.0, "model_b": 0.0}.get(b.winner, 0.5) for b in battles])
    weight = np.array([b.weight for b in battles], dtype=float)
    start = np.zeros(m + len(FEATURES))
    theta = _newton(z, y, weight, m, options.prior, start)
    rng = np.random.default_rng(options.seed)
    samples = [theta[:m]]
    if options.bootstrap > 0:
        samples = [_newton(z, y, weight * rng.multinomial(n, np.full(n, 1.0 / n)), m, options.prior, theta)[:m]
                   for _ in range(options.bootstrap)]
    return StyleFit(theta[:m], np.array(samples), {f: float(c) for f, c in zip(FEATURES, theta[m:])})


_HEADER = re.compile(r"^\s{0,3}(#{1,6})\s", re.MULTILINE)
_ORDERED = re.compile(r"^\s*\d+[.)]\s", re.MULTILINE)
_UNORDERED = re.compile(r"^\s*[-*+]\s", re.MULTILINE)


def markdown_counts(text: str) -> dict[str, dict[str, int]]:
    """Markdown elements of one answer: headers by level, ordered and unordered list items, bold spans."""
    headers = {f"h{n}": 0 for n in range(1, 7)}
    for hashes in _HEADER.findall(text):
        headers[f"h{len(hashes)}"] += 1
    return {"header_count": headers,
            "list_count": {"ordered": len(_ORDERED.findall(text)), "unordered": len(_UNORDERED.findall(text))},
            "bold_count": {"**": len(re.findall(r"\*\*[^*\n]+\*\*", text)),
                           "__": len(re.findall(r"__[^_\n]+__", text))}}


def conv_metadata(prompts: Sequence[str], answers_a: Sequence[str], answers_b: Sequence[str]) -> dict:
    """Style features of a battle's conversation under FastChat's key names (lengths in characters)."""
    meta: dict = {"sum_user_chars": sum(len(p) for p in prompts), "turns": len(prompts)}
    for side, answers in (("a", answers_a), ("b", answers_b)):
        meta[f"sum_assistant_{side}_chars"] = sum(len(a) for a in answers)
        counts = markdown_counts("\n".join(answers))
        for key, value in counts.items():
            meta[f"{key}_{side}"] = value
    return meta
