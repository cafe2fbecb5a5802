"""The fast paths of Jaster's metrics give upstream's numbers to the bit: the exact mean behind
char_f1/set_f1/bleu (statistics.mean), set_f1's cached line sets (utils.py's loop), rouge1/rouge2's
own n-gram scoring (rouge_score's RougeScorer) and the blocked bootstrap (its BootstrapAggregator),
on generated data with repeated references, empty texts and several bootstrap blocks."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest

from jeval.tasks.jaster import metrics as m
from jeval.tasks.jaster.metrics import METRICS

KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
KANJI = "日本語東京大学学生先生時間天気電車会社研究問題"


def _sentence(rng: random.Random) -> str:
    words = ["".join(rng.choice(KANJI + KANA) for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 8))]
    return "".join(words) + rng.choice(["。", "！", "", "、そして。", "？"])


def text_pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    """References drawn from a small pool (so they repeat), predictions equal, empty, or edited."""
    rng = random.Random(seed)
    pool = [_sentence(rng) + (_sentence(rng) if rng.random() < 0.5 else "") for _ in range(max(1, n // 5))]
    pool += ["", "一行目\n二行目。三行目"]
    trues = [rng.choice(pool) for _ in range(n)]
    preds = []
    for t in trues:
        roll = rng.random()
        preds.append(t if roll < 0.3 else "" if roll < 0.35 else t[: len(t) // 2] + _sentence(rng))
    return preds, trues


@pytest.mark.parametrize("seed", range(40))
def test_exact_mean_is_statistics_mean_to_the_bit(seed):
    rng = random.Random(seed)
    n = rng.choice([1, 2, 3, 10, 1000])
    kinds = [
        lambda: rng.random(),
        lambda: round(rng.random() * 100) / 100,
        lambda: rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300),
        lambda: rng.choice([0.0, 1.0, 2 / 3, 0.8, 5e-324, 1e308]),
        lambda: rng.randint(0, 1),
    ]
    values = [kinds[seed % len(kinds)]() for _ in range(n)]
    assert m.exact_mean(values) == float(statistics.mean(values))


def test_exact_mean_leaves_infinities_and_nan_to_statistics_mean():
    assert m.exact_mean([math.inf, 1.0]) == math.inf
    assert math.isnan(m.exact_mean([math.nan, 1.0]))
    assert m.exact_mean([1.7e308, 1.7e308, -1.7e308]) == float(statistics.mean([1.7e308, 1.7e308, -1.7e308]))


def upstream_set_f1(pred: str, true: str) -> float:
    """utils.py's loop, as llm-jp-eval v1.4.1 writes it."""
    split_pred = {x.strip() for x in pred.split("\n")}
    split_true = [x.strip() for x in true.split("\n")]
    hits = sum([1 if y in split_true else 0 for y in split_pred])
    precision, recall = hits / len(split_pred), hits / len(split_true)
    return 2 * precision * recall / (precision + recall) if precision + recall != 0 else 0


def test_set_f1_equals_upstreams_loop_and_mean():
    rng = random.Random(3)
    items = ["東京", "大阪", " 京都 ", "", "名古屋", "札幌"]
    trues = ["\n".join(rng.choice(items) for _ in range(rng.randint(1, 5))) for _ in range(300)]
    preds = ["\n".join(rng.choice(items) for _ in range(rng.randint(1, 5))) if rng.random() < 0.8 else t
             for t in trues]
    expected = [upstream_set_f1(p, t) for p, t in zip(preds, trues)]
    assert METRICS["set_f1"].samples(preds, trues) == expected
    assert METRICS["set_f1"].corpus(preds, trues) == statistics.mean(expected)


def test_char_f1_mean_is_statistics_mean():
    preds, trues = text_pairs(500, seed=5)
    values = METRICS["char_f1"].samples(preds, trues)
    assert METRICS["char_f1"].corpus(preds, trues) == float(statistics.mean(values))


@pytest.mark.parametrize("rouge_type", ["rouge1", "rouge2", "rougeLsum"])
def test_rouge_samples_equal_rouge_scorer_per_sample(rouge_type):
    from rouge_score.rouge_scorer import RougeScorer

    preds, trues = text_pairs(400, seed=11)
    scorer = RougeScorer(rouge_types=[rouge_type], tokenizer=m._MecabWords())
    expected = [scorer.score(m.add_sentence_breaks(t), m.add_sentence_breaks(p))[rouge_type].fmeasure * 100
                for p, t in zip(preds, trues)]
    assert METRICS[rouge_type].samples(preds, trues) == expected
    assert len(set(trues)) < len(trues) and "" in preds  # references repeat; empty predictions occur


def test_ngram_counts_are_rouge_scores():
    from rouge_score.rouge_scorer import _create_ngrams

    tokens = ["東京", "は", "東京", "は", "大阪", "東京", "は"]
    for n in (1, 2, 3, 8):
        assert m.ngram_counts(tokens, n) == _create_ngrams(tokens, n)


@pytest.mark.parametrize("n", [1, 2, 57, 4001])
def test_blocked_bootstrap_equals_rouge_scores_aggregator_after_earlier_aggregations(n):
    """4001 samples take two blocks of resamples; the third aggregation follows two others in the
    same seeded stream, as rougeLsum follows rouge1 and rouge2 in llm-jp-eval's xlsum_ja."""
    from rouge_score.scoring import BootstrapAggregator, Score

    values = np.round(np.random.default_rng(n).uniform(0, 100, size=n), 1)
    state = np.random.get_state()
    try:
        np.random.seed(42)
        upstream = []
        for _ in range(3):
            aggregator = BootstrapAggregator()
            for v in values:
                aggregator.add_scores({"r": Score(precision=v, recall=v, fmeasure=v)})
            upstream.append(aggregator.aggregate()["r"].mid.fmeasure)
    finally:
        np.random.set_state(state)
    assert [m.bootstrap_mid(values, 1000 * i) for i in range(3)] == upstream
