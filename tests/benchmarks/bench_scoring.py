"""Samples scored per second by each Jaster metric, against a straightforward per-sample reference
implementation (llm-jp-eval's loop: one library call per sample, one BLEU object per sample), on
synthetic Japanese-like predictions. Both sides run in this process in the same run; the ratio is
jeval / reference (imports and set-up warmed first), and each row says whether both gave the same
dataset score on the samples the reference scored.

References that are slow (bleu_*: MeCab set up per sample) score
a prefix of the data; the row shows how many samples each side scored. code_exec uses its own,
smaller set of programs, and its reference is the same sandbox run one sample at a time;
comet_wmt22 is reported unavailable unless unbabel-comet and its model are installed.

    python tests/benchmarks/bench_scoring.py [--n 100000] [--reference-cap 5000] [--code-n 64]
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import statistics
import time
from collections.abc import Callable

import numpy as np

from jeval.tasks.jaster.metrics import METRICS, MetricUnavailable

KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
KANJI = "日本語東京大学学生先生時間天気電車会社研究問題経済政治文化歴史言葉世界"
PUNCT = "、。！？「」・ー"


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(KANJI if rng.random() < 0.4 else KANA) for _ in range(rng.randint(1, 4)))


def _sentence(rng: random.Random) -> str:
    words = [_word(rng) for _ in range(rng.randint(3, 12))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), rng.choice(PUNCT))
    return "".join(words) + ("。" if rng.random() < 0.7 else "")


def _perturb(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.25:
        return text
    if roll < 0.3:
        return ""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        if chars and rng.random() < 0.5:
            del chars[rng.randrange(len(chars))]
        else:
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(KANA + KANJI))
    return "".join(chars)


def text_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    trues = [_sentence(rng) for _ in range(max(1, n // 4))]
    trues = [rng.choice(trues) for _ in range(n)]
    return [_perturb(rng, t) for t in trues], trues


def set_pairs(n: int, seed: int = 1) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    preds, trues = [], []
    for _ in range(n):
        items = [_word(rng) for _ in range(rng.randint(1, 5))]
        trues.append("\n".join(items))
        kept = [x for x in items if rng.random() < 0.7] + [_word(rng) for _ in range(rng.randint(0, 2))]
        preds.append("\n".join(kept))
    return preds, trues


def number_pairs(n: int, seed: int = 2) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    trues = [f"{rng.uniform(0, 5):.1f}" for _ in range(n)]
    preds = [rng.choice([f"{float(t) + rng.gauss(0, 1):.1f}", f"{t}点", "わかりません"]) for t in trues]
    return preds, trues


def code_pairs(n: int, seed: int = 3) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    preds, trues = [], []
    for _ in range(n):
        k = rng.randint(1, 9)
        body = f"    return x * {k}" if rng.random() < 0.7 else f"    return x + {k}"
        preds.append(f"def f(x):\n{body}")
        trues.append(repr([f"assert f({j}) == {j * k}" for j in range(1, 4)]))
    return preds, trues


def _ref_parse_float(text: str) -> float:
    try:
        return float(re.sub(r"[^0-9.]", "", str(text)))
    except ValueError:
        return -2.0


def ref_exact_match(preds, trues):
    return statistics.mean([(p == t) * 1.0 for p, t in zip(preds, trues)])


def ref_char_f1(preds, trues):
    from fuzzywuzzy import fuzz

    return statistics.mean([fuzz.token_sort_ratio(p, t) / 100.0 for p, t in zip(preds, trues)])


def ref_set_f1(preds, trues):
    scores = []
    for pred, true in zip(preds, trues):
        split_pred = {x.strip() for x in pred.split("\n")}
        split_true = [x.strip() for x in true.split("\n")]
        hits = sum([1 if y in split_true else 0 for y in split_pred])
        p, r = hits / len(split_pred), hits / len(split_true)
        scores.append(2 * p * r / (p + r) if p + r != 0 else 0)
    return statistics.mean(scores)


def ref_correlation(kind: str):
    def score(preds, trues):
        import math
        import warnings

        from scipy.stats import pearsonr, spearmanr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = pearsonr if kind == "pearson" else spearmanr
            value = f(list(map(float, trues)), list(map(_ref_parse_float, preds)))[0]
        return 0.0 if math.isnan(value) else float(value)
    return score


def ref_bleu(lang: str):
    def score(preds, trues):
        from sacrebleu.metrics import BLEU

        values = []
        for p, t in zip(preds, trues):
            if p.strip() and t.strip():
                values.append(BLEU(effective_order=True, trg_lang=lang).corpus_score([p.strip()], [[t.strip()]]).score)
            else:
                values.append(float(p.strip() == t.strip()))
        return statistics.mean(values)
    return score


def ref_rouge2(preds, trues):
    from rouge_score.rouge_scorer import RougeScorer
    from rouge_score.scoring import BootstrapAggregator, Score
    from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

    class Words:
        def __init__(self):
            self.mecab = TokenizerJaMecab()

        def tokenize(self, text):
            return self.mecab(text).strip().split()

    def breaks(text):
        if "\n" in text:
            return text
        for mark in "。！？":
            text = text.replace(mark, mark + "\n")
        return text

    state = np.random.get_state()
    np.random.seed(42)
    try:
        for skipped in ("rouge1",):  # rouge1 is aggregated first in llm-jp-eval's xlsum_ja run
            aggregator = BootstrapAggregator()
            for _ in preds:
                aggregator.add_scores({skipped: Score(0.0, 0.0, 0.0)})
            aggregator.aggregate()
        scorer = RougeScorer(rouge_types=["rouge2"], tokenizer=Words())
        aggregator = BootstrapAggregator()
        for p, t in zip(preds, trues):
            s = scorer.score(breaks(t), breaks(p))["rouge2"]
            aggregator.add_scores({"rouge2": Score(s.precision * 100, s.recall * 100, s.fmeasure * 100)})
        return float(aggregator.aggregate()["rouge2"].mid.fmeasure)
    finally:
        np.random.set_state(state)


def ref_code_exec(preds, trues):
    """The same sandbox, one sample after another (no pool)."""
    from jeval.tasks.jaster.code_exec import CodeExecConfig, run_one
    from jeval.tasks.sandbox import Sandbox

    config, sandbox = CodeExecConfig(), Sandbox.create()
    return statistics.mean([1 if run_one(p, ast.literal_eval(t), config, sandbox).passed else 0
                            for p, t in zip(preds, trues)])


def timed(fn: Callable[[], float]) -> tuple[float, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _row(name: str, preds: list[str], trues: list[str], reference: Callable[[list[str], list[str]], float],
         ref_n: int) -> None:
    metric = METRICS[name]
    metric.corpus(preds[:2], trues[:2])
    reference(preds[:2], trues[:2])
    fast_n = len(preds)
    _, fast_s = timed(lambda: metric.corpus(preds, trues))
    ref_value, ref_s = timed(lambda: reference(preds[:ref_n], trues[:ref_n]))
    same = metric.corpus(preds[:ref_n], trues[:ref_n]) == ref_value
    fast_rate, ref_rate = fast_n / fast_s, ref_n / ref_s
    print(f"{name:<12} {fast_n:>8} {fast_rate:>10.0f} {ref_n:>7} {ref_rate:>10.0f} {fast_rate / ref_rate:>6.1f}x  "
          f"{same}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--reference-cap", type=int, default=5_000,
                        help="samples the slow references (bleu_*) score")
    parser.add_argument("--code-n", type=int, default=64)
    args = parser.parse_args()

    texts, sets, numbers = text_pairs(args.n), set_pairs(args.n), number_pairs(args.n)
    code = code_pairs(args.code_n)
    cap = min(args.n, args.reference_cap)
    rows = [
        ("exact_match", texts, ref_exact_match, args.n),
        ("char_f1", texts, ref_char_f1, args.n),
        ("set_f1", sets, ref_set_f1, args.n),
        ("pearson", numbers, ref_correlation("pearson"), args.n),
        ("spearman", numbers, ref_correlation("spearman"), args.n),
        ("bleu_ja", texts, ref_bleu("ja"), cap),
        ("bleu_en", texts, ref_bleu("en"), cap),
        ("rouge2", texts, ref_rouge2, args.n),
        ("code_exec", code, ref_code_exec, args.code_n),
    ]
    print(f"{'metric':<12} {'jeval n':>8} {'jeval/s':>10} {'ref n':>7} {'ref/s':>10} {'ratio':>7}  same score")
    for name, (preds, trues), reference, ref_n in rows:
        _row(name, preds, trues, reference, ref_n)
    try:
        METRICS["comet_wmt22"].corpus(texts[0][:8], texts[1][:8], texts[1][:8])
    except MetricUnavailable as e:
        print(f"comet_wmt22  unavailable: {e}")
    print(f"code_exec scored {args.code_n} synthetic programs; bleu_* references scored the first {cap} samples.")


if __name__ == "__main__":
    main()
