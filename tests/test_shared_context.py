"""Pairs that share a context are scored with the context fed once: a question's choices in one
row, each seeing the context and its own tokens only, with the scores of separate rows."""

from __future__ import annotations

import asyncio

import pytest
import torch

from jeval.models.inprocess import LocalSettings
from jeval.models.local import LocalModel
from jeval.models.model import split_pair
from jeval.models.packing import MAX_MEMBERS, Group, Member, group_pairs, pack

QUESTIONS = [
    ("質問：日本の首都はどこですか？\n答え：", ["東京", "大阪", "京都です", "札幌"]),
    ("猫は", ["かわいい", "動物です。", "魚が好きです", "犬"]),
    ("あおいの夢は", ["先生になることです。", "医者になることです。"]),
    ("今日は良い天気です。" * 5, ["明日は雨", "明日も晴れ"]),
]
PAIRS = [(question, choice) for question, choices in QUESTIONS for choice in choices] + [("A", "B")]


def scored(model: LocalModel, pairs):
    async def go():
        return dict([found async for found in model.loglikelihoods(pairs)])

    found = asyncio.run(go())
    return [found[i] for i in range(len(pairs))]


@pytest.fixture(scope="module")
def separate(tiny_checkpoint):
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size=1))
    model.sharing = False
    return model


@pytest.fixture(scope="module")
def shared(tiny_checkpoint):
    return LocalModel(tiny_checkpoint, LocalSettings(batch_size="auto"))


def test_choices_of_one_question_are_scored_in_one_row():
    split = [([1, 5, 6, 7, 8], 3), ([1, 5, 6, 9], 3), ([1, 5, 4, 2], 2), ([1, 3], 1)]
    contexts = ["q", "q", "q", "other"]
    groups = group_pairs(split, contexts, range(4), share=True)
    assert groups == [
        Group((1, 5), (Member(0, (6, 7, 8), 1), Member(1, (6, 9), 1), Member(2, (4, 2), 0))),
        Group((1,), (Member(3, (3,), 0),)),
    ]
    assert groups[0].length == 2 + 2 + 1 + 1
    assert [g.members for g in group_pairs(split, contexts, range(4), share=False)] == [
        (Member(i, tuple(split[i][0][split[i][1]:]), 0),) for i in range(4)]


def test_a_context_asked_of_many_pairs_is_cut_into_rows_of_at_most_max_members():
    split = [([1, 2, 10 + i, 3], 2) for i in range(2 * MAX_MEMBERS + 1)]
    groups = group_pairs(split, ["q"] * len(split), range(len(split)), share=True)
    assert [len(g.members) for g in groups] == [MAX_MEMBERS, MAX_MEMBERS, 1]


def test_contexts_that_share_no_token_are_not_grouped():
    split = [([1, 2, 3], 2), ([4, 2, 3], 2)]
    groups = group_pairs(split, ["same text", "same text"], range(2), share=True)
    assert [len(g.members) for g in groups] == [1, 1]


def test_a_pair_with_nothing_to_score_is_refused():
    with pytest.raises(ValueError, match="pair 0 has no continuation"):
        group_pairs([([1, 2], 2)], ["q"], [0], share=True)


def test_each_continuation_sees_the_context_and_its_own_tokens_only():
    """Row: prefix (1, 5), then member 0's tokens 6, 7 (8 is only predicted), member 1's 6, then a
    padding position; member 1's positions restart where the prefix ends."""
    group = Group((1, 5), (Member(0, (6, 7, 8), 1), Member(1, (6, 9), 1)))
    packed = pack([group, Group((1,), (Member(2, (3,), 0),))], torch.float32)
    assert packed.input_ids[0].tolist() == [1, 5, 6, 7, 6]
    assert packed.position_ids[0].tolist() == [0, 1, 2, 3, 2]
    visible = (packed.attention_mask[0, 0] == 0).int().tolist()
    assert visible == [[1, 0, 0, 0, 0],
                       [1, 1, 0, 0, 0],
                       [1, 1, 1, 0, 0],
                       [1, 1, 1, 1, 0],
                       [1, 1, 0, 0, 1]]
    assert (packed.attention_mask[1, 0] == 0).int().diagonal().tolist() == [1] * 5
    assert packed.reads == [(0, 0, [2, 3]), (0, 1, [4]), (1, 2, [0])]
    assert packed.targets == {0: (7, 8), 1: (9,), 2: (3,)}


def test_shared_rows_score_as_separate_rows(separate, shared):
    alone, together = scored(separate, PAIRS), scored(shared, PAIRS)
    assert shared.sharing is True
    for a, b in zip(alone, together, strict=True):
        assert b.logprob == pytest.approx(a.logprob, rel=1e-6, abs=1e-5)
        assert b.is_greedy == a.is_greedy


def test_shared_rows_take_fewer_tokens_than_separate_ones(shared):
    split = [split_pair(shared.tokenizer, c, x) for c, x in PAIRS]
    todo = [i for i, (ids, n) in enumerate(split) if n < len(ids)]
    contexts = [c for c, _ in PAIRS]
    together = sum(g.length for g in group_pairs(split, contexts, todo, share=True))
    alone = sum(g.length for g in group_pairs(split, contexts, todo, share=False))
    assert together < 0.7 * alone


class IgnoresPositions(torch.nn.Module):
    """A test double around the real tiny model that drops the position ids it is given, as a
    model with its own position handling (remote code) may: packed rows then score wrongly, and
    the check against separate rows must catch it."""

    def __init__(self, model):
        super().__init__()
        self.inner, self.config, self.dtype = model, model.config, model.dtype

    def forward(self, position_ids=None, **inputs):
        return self.inner(**inputs)


def test_a_model_that_ignores_position_ids_is_scored_in_separate_rows(tiny_checkpoint, separate):
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size="auto"))
    model.model = IgnoresPositions(model.model)
    found = scored(model, PAIRS)
    assert model.sharing is False
    assert [f.logprob for f in found] == pytest.approx([f.logprob for f in scored(separate, PAIRS)], abs=1e-5)


def test_a_sliding_window_model_is_not_packed(tiny_checkpoint):
    model = LocalModel(tiny_checkpoint, LocalSettings(batch_size="auto"))
    model.model.config.sliding_window = 16
    scored(model, PAIRS[:2])
    assert model.sharing is False
