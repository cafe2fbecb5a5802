"""Log-likelihood pairs that share a context, scored with the context fed once.

A multiple-choice question asks for the log-likelihood of each choice after one context (the
question and any few-shot examples), so lm-eval feeds the same context once per choice. Here the
pairs whose context tokens are identical make one row: the context, then every continuation
(without its last token, which is only predicted) one after another. A block attention mask lets
each continuation see the context and its own earlier tokens and nothing of the other
continuations, and each continuation's positions restart where the context ends, so every scored
token is predicted from exactly the tokens it would be in a row of its own. A question of k
choices then costs context + k continuations instead of k × (context + continuation): with
few-shot contexts, close to k times less.

The numbers are those of separate rows up to floating-point rounding (the attention runs over
another shape, as with another batch size); `LocalModel` checks that on the first shared group
against separate rows and scores separately for a model whose attention does not take the mask
and position ids this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from jeval.models.model import LogLikelihood

MAX_MEMBERS = 8
"""The most pairs one row holds: a context shared by many more (a task asking one question of
many items) is cut into rows of this many, so that rows stay alike in width and batch with little
padding."""


@dataclass(frozen=True)
class Member:
    """One pair of a group: its index among the pairs asked, its tokens after the group's prefix,
    and where in those its continuation starts (0: its first token is predicted from the prefix's
    last)."""

    index: int
    rest: tuple[int, ...]
    first: int


@dataclass(frozen=True)
class Group:
    """Pairs whose token ids begin with the same prefix, scored in one row."""

    prefix: tuple[int, ...]
    members: tuple[Member, ...]

    @property
    def length(self) -> int:
        """The row's width: the prefix, then each member's tokens less its last."""
        return len(self.prefix) + sum(len(m.rest) - 1 for m in self.members)


def group_pairs(split: Sequence[tuple[Sequence[int], int]], contexts: Sequence[str], indices: Sequence[int],
                share: bool) -> list[Group]:
    """The pairs at `indices` (each split as token ids and the continuation's start) in groups:
    when `share`, pairs with the same context text together, their prefix the longest run of
    tokens all of their contexts begin with (a context's last token may merge with its
    continuation's first, differently for each choice), at most MAX_MEMBERS to a group; else, and
    for pairs whose contexts share no token, one pair per group. Groups are in the order of their
    first pair, members in the order given. Every pair has a continuation to score."""
    by_context: dict[str, list[int]] = {}
    for i in indices:
        ids, n_context = split[i]
        if n_context >= len(ids):
            raise ValueError(f"pair {i} has no continuation to score")
        by_context.setdefault(contexts[i] if share else str(i), []).append(i)
    groups = []
    for members in by_context.values():
        for at in range(0, len(members), MAX_MEMBERS):
            groups.extend(_grouped(split, members[at:at + MAX_MEMBERS]))
    return groups


def _grouped(split: Sequence[tuple[Sequence[int], int]], members: Sequence[int]) -> list[Group]:
    shared = min(split[i][1] for i in members)
    first_ids = split[members[0]][0]
    for i in members[1:]:
        ids = split[i][0]
        shared = next((k for k in range(shared) if ids[k] != first_ids[k]), shared)
    if shared == 0 and len(members) > 1:
        return [g for i in members for g in _grouped(split, [i])]
    prefix = tuple(first_ids[:shared])
    return [Group(prefix, tuple(Member(i, tuple(split[i][0][shared:]), split[i][1] - shared) for i in members))]


@dataclass
class Packed:
    """Model inputs for groups, one row each, right-padded, and where each member is read."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    attention_mask: torch.Tensor
    reads: list[tuple[int, int, list[int]]]
    """(row, pair index, the row positions whose outputs predict the continuation's tokens)."""
    targets: dict[int, tuple[int, ...]]


def pack(groups: Sequence[Group], dtype: torch.dtype) -> Packed:
    """The rows for `groups`: token ids, position ids, and an additive attention mask (0 where a
    position may attend, the dtype's lowest value where not) of shape (rows, 1, width, width).
    A padding position attends to itself alone, so that no row of the mask is empty."""
    width = max(g.length for g in groups)
    ids = torch.zeros((len(groups), width), dtype=torch.long)
    positions = torch.zeros((len(groups), width), dtype=torch.long)
    allowed = torch.eye(width, dtype=torch.bool).repeat(len(groups), 1, 1)
    reads: list[tuple[int, int, list[int]]] = []
    targets: dict[int, tuple[int, ...]] = {}
    for row, group in enumerate(groups):
        n = len(group.prefix)
        ids[row, :n] = torch.tensor(group.prefix, dtype=torch.long)
        positions[row, :n] = torch.arange(n)
        allowed[row, :n, :n] = torch.ones((n, n), dtype=torch.bool).tril()
        at = n
        for member in group.members:
            fed = member.rest[:-1]
            end = at + len(fed)
            if fed:
                ids[row, at:end] = torch.tensor(fed)
                positions[row, at:end] = torch.arange(n, n + len(fed))
                allowed[row, at:end, :n] = True
                allowed[row, at:end, at:end] = torch.ones((len(fed), len(fed)), dtype=torch.bool).tril()
            own = range(at + max(member.first - 1, 0), end)
            reads.append((row, member.index, [n - 1, *own] if member.first == 0 else list(own)))
            targets[member.index] = member.rest[member.first:]
            at = end
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
    return Packed(ids, positions, mask[:, None], reads, targets)


def read_scores(packed: Packed, logits_at: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                ) -> list[tuple[int, LogLikelihood]]:
    """Each member's summed log-probability and whether every token was the greedy choice."""
    return score_reads(packed.reads, packed.targets, logits_at)


def score_reads(reads: Sequence[tuple[int, int, list[int]]], targets: Mapping[int, Sequence[int]],
                logits_at: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> list[tuple[int, LogLikelihood]]:
    """For each read (row, pair index, the row positions whose outputs predict the pair's
    `targets`): the targets' summed log-probability and whether each was the greedy choice.
    `logits_at(rows, positions)` gives the logits at those (row, position) pairs, one call for all
    reads, so that the output layer and the softmax run once per batch and not once per pair."""
    rows = torch.tensor([row for row, _, where in reads for _ in where])
    positions = torch.tensor([at for _, _, where in reads for at in where])
    logprobs = torch.log_softmax(logits_at(rows, positions).float(), dim=-1)
    wanted = torch.tensor([t for _, index, _ in reads for t in targets[index]], device=logprobs.device)
    picked = logprobs.gather(1, wanted[:, None])[:, 0]
    greedy = logprobs.argmax(-1) == wanted
    sizes = [len(where) for _, _, where in reads]
    return [(index, LogLikelihood(float(p.sum()), bool(g.all())))
            for (_, index, _), p, g in zip(reads, picked.split(sizes), greedy.split(sizes), strict=True)]


PACKED_ATTENTION = ("sdpa", "eager")
"""Attention implementations that take an arbitrary mask; flash-attention kernels take padding only."""


def packable(model: Any) -> bool:
    """Whether the model's attention can take a packed row at all: an implementation that applies
    an arbitrary mask, and no sliding window (a packed row's mask would replace the window's)."""
    config = model.config
    layer_types = getattr(config, "layer_types", None) or ()
    return (getattr(config, "_attn_implementation", None) in PACKED_ATTENTION
            and getattr(config, "sliding_window", None) is None
            and not any("sliding" in str(t) for t in layer_types))


def agrees(packed: Sequence[tuple[int, LogLikelihood]], separate: Sequence[tuple[int, LogLikelihood]],
           dtype: torch.dtype) -> bool:
    """Whether packed scores are separate rows' up to rounding: a model that ignored the mask or
    the position ids would be off by whole nats, rounding by far less than the tolerance."""
    tolerance = 1e-3 if dtype == torch.float32 else 5e-2
    theirs = dict(separate)
    return all(abs(found.logprob - theirs[i].logprob) <= tolerance * max(1.0, abs(theirs[i].logprob))
               for i, found in packed)
