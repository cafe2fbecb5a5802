"""Jaster's metrics as llm-jp-eval v1.4.1 computes them.

Upstream: src/llm_jp_eval/utils.py, `get_evaluation_result` (one branch per metric name) and
`parse_float`; src/llm_jp_eval/metrics/rouge_ja.py (`RougeJa`). Predictions and references arrive
already cut and NFKC-normalised by the caller, as `get_evaluation_result` does before scoring.

Scales are upstream's: exact_match, char_f1, set_f1, code_exec and comet_wmt22 in 0-1; bleu_ja,
bleu_en and rouge* in 0-100 (llm-jp-eval divides rouge2 by 100 only when it forms the SUM
category, as `xlsum_ja_rouge2_scaling`); pearson/spearman in -1..1.

Every metric scores a batch at once (`samples`, `corpus`); `sample` is the one-item case. Metrics
that need the source text (comet_wmt22) take `sources`.
"""

from __future__ import annotations

import ast
import math
import re
import statistics
import warnings
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from itertools import chain
from typing import Any, ClassVar

import numpy as np

from jeval.errors import JevalError
from jeval.tasks.jaster.code_exec import CodeExecConfig, run_batch
from jeval.tasks.sandbox import Sandbox, SandboxUnavailable


class MetricUnavailable(Exception):
    """The metric cannot run on this machine (a package or model is missing); the message says
    why and how to enable it."""


Values = list[float | None]


def _check_lengths(preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> None:
    if len(preds) != len(trues) or (sources is not None and len(sources) != len(preds)):
        raise ValueError(f"{len(preds)} predictions, {len(trues)} references"
                         + ("" if sources is None else f", {len(sources)} sources"))


def exact_mean(values: Sequence[float]) -> float:
    """statistics.mean of floats, bit for bit (the exact mean, rounded once), without its Fraction
    per value. math.fsum is exact until its one final rounding, so the exact sum is recovered as a
    few floats, each pass summing what the earlier ones missed (a dyadic rational ends after at
    most a few dozen passes, in practice one to three), and divided once as a Fraction. Sums that
    overflow, infinities and NaN go to statistics.mean itself."""
    parts: list[float] = []
    try:
        while True:
            part = math.fsum(chain(values, (-p for p in parts)))
            if not math.isfinite(part):
                raise OverflowError
            if part == 0.0:
                break
            parts.append(part)
    except (OverflowError, ValueError):
        return float(statistics.mean(values))
    return float(sum(map(Fraction, parts), Fraction(0)) / len(values))


def _mean(values: Sequence[float], name: str) -> float:
    """statistics.mean, as upstream averages per-sample scores (exact, then rounded once)."""
    if not values:
        raise JevalError(f"{name}: no samples to score")
    return exact_mean(values)


@dataclass(frozen=True)
class Metric(ABC):
    name: str
    corpus_level: bool = False

    @abstractmethod
    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        """One value per prediction."""

    mean_of_samples: ClassVar[bool] = True
    """Whether the dataset score is the mean of the per-sample values (an own `corpus` may
    compute that mean faster)."""

    def record(self) -> dict[str, Any]:
        """What a result must carry about how this metric was computed here (merged into the
        task's metrics), e.g. code_exec's sandbox."""
        return {}

    def sample(self, pred: str, true: str, source: str | None = None) -> float | None:
        return self.samples([pred], [true], None if source is None else [source])[0]

    def corpus(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> float:
        """The dataset score llm-jp-eval reports: the mean of the per-sample values unless the
        metric says otherwise."""
        values = self.samples(preds, trues, sources)
        return _mean([v for v in values if v is not None], self.name)


@dataclass(frozen=True)
class ExactMatch(Metric):
    """utils.py "exact_match": sklearn's accuracy_score(y_trues, y_preds), string equality."""

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        _check_lengths(preds, trues)
        return [1.0 if p == t else 0.0 for p, t in zip(preds, trues)]

    def corpus(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> float:
        _check_lengths(preds, trues)
        if not preds:
            raise JevalError(f"{self.name}: no samples to score")
        return sum(p == t for p, t in zip(preds, trues)) / len(preds)


_NON_WORD_EXCEPT_NUL = re.compile(r"[^\w\x00]", re.UNICODE)
_LATIN1_HIGH = re.compile("[\x80-\xff]")


def _token_sort_keys(texts: Sequence[str]) -> list[str]:
    """fuzzywuzzy 0.18's token_sort_ratio preprocessing (utils.full_process with force_ascii=True,
    then fuzz._process_and_sort): delete U+0080-U+00FF, replace every non-word character with a
    space, lower-case, strip, sort the whitespace-separated tokens, join them with one space.

    Done on all distinct texts at once: they are joined with NUL, which neither expression
    touches, so one pass of each and one `lower` cover the whole batch."""
    distinct = list(dict.fromkeys(texts))
    if any("\x00" in t for t in distinct):
        cleaned = [_NON_WORD_EXCEPT_NUL.sub(" ", _LATIN1_HIGH.sub("", t)).replace("\x00", " ").lower()
                   for t in distinct]
    else:
        joined = _LATIN1_HIGH.sub("", "\x00".join(distinct))
        cleaned = _NON_WORD_EXCEPT_NUL.sub(" ", joined).lower().split("\x00")
    keys = {t: " ".join(sorted(c.split())) for t, c in zip(distinct, cleaned)}
    return [keys[t] for t in texts]


@dataclass(frozen=True)
class CharF1(Metric):
    """utils.py "char_f1": fuzz.token_sort_ratio(y_pred, y_true) / 100 with fuzzywuzzy 0.18 and
    python-Levenshtein installed (its StringMatcher: Levenshtein.ratio, the Indel similarity).

    Computed here with rapidfuzz, which python-Levenshtein 0.27 itself wraps: the same
    preprocessing (above), fuzzywuzzy's rules (equal processed strings score 100, an empty one 0),
    int(round(100 * ratio)) as fuzzywuzzy's `intr`. tests/test_jaster_metrics.py proves equality
    with fuzzywuzzy itself on generated text, Japanese, full-width and Latin-1 included."""

    workers: int = 1

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        from rapidfuzz import fuzz, process

        _check_lengths(preds, trues)
        if not preds:
            return []
        a, b = _token_sort_keys(preds), _token_sort_keys(trues)
        ratios = process.cpdist(a, b, scorer=fuzz.ratio, dtype=np.float64, workers=self.workers)
        return [1.0 if x == y else 0.0 if not x or not y else round(r) / 100.0
                for x, y, r in zip(a, b, ratios.tolist())]


@dataclass(frozen=True)
class SetF1(Metric):
    """utils.py "set_f1": lines of the prediction (stripped, deduplicated) against lines of the
    reference (stripped, duplicates kept). Precision = hits / distinct predicted lines; recall =
    the same hits / reference lines, duplicates counted; F1 = 2PR/(P+R), 0 when P+R = 0.

    A hit is a distinct predicted line found among the reference's lines: the size of one set
    intersection, taken in C rather than by a scan of the reference per predicted line; the
    reference's line count is its newlines plus one."""

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        _check_lengths(preds, trues)
        strip = str.strip
        out: Values = []
        for pred, true in zip(preds, trues):
            predicted = set(map(strip, pred.split("\n")))
            hits = len(predicted.intersection(map(strip, true.split("\n"))))
            precision = hits / len(predicted)
            recall = hits / (true.count("\n") + 1)
            out.append(2 * precision * recall / (precision + recall) if precision + recall != 0 else 0.0)
        return out


_NOT_FLOAT_CHARS = re.compile(r"[^0-9.]")


def parse_float(text: str) -> float:
    """utils.py `parse_float`: drop every character but ASCII digits and '.', then float();
    -2.0 when that fails (empty, '1.2.3', '.'). A minus sign is dropped, so '-1' reads 1.0."""
    try:
        return float(_NOT_FLOAT_CHARS.sub("", str(text)))
    except ValueError:
        return -2.0


def _reference_floats(trues: Sequence[str], name: str) -> list[float]:
    try:
        return [float(t) for t in trues]
    except ValueError as e:
        raise JevalError(f"{name}: a reference is not a number ({e}); the dataset's outputs must be numbers") from e


@dataclass(frozen=True)
class Correlation(Metric):
    """utils.py "pearson" / "spearman": scipy's pearsonr / spearmanr over the whole set, between
    float(y_true) and parse_float(y_pred); a NaN correlation (e.g. constant predictions) becomes 0.
    Fewer than two samples (where scipy raises) also give 0: jeval's choice."""

    mean_of_samples: ClassVar[bool] = False

    method: str = "pearson"
    corpus_level: bool = True

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        _check_lengths(preds, trues)
        return [None] * len(preds)

    def corpus(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> float:
        from scipy import stats

        _check_lengths(preds, trues)
        y_true = _reference_floats(trues, self.name)
        y_pred = [parse_float(p) for p in preds]
        if len(y_true) < 2:
            return 0.0
        function = stats.pearsonr if self.method == "pearson" else stats.spearmanr
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(function(y_true, y_pred)[0])
        return 0.0 if math.isnan(value) else value


@dataclass(frozen=True)
class Bleu(Metric):
    """utils.py "bleu_ja" / "bleu_en": per sample, sacrebleu's
    BLEU(effective_order=True, trg_lang=ja|en).corpus_score([pred], [[true]]).score on stripped
    texts (ja: the ja-mecab tokenizer that trg_lang selects), 0-100; when either stripped text is
    empty the sample scores float(pred == true), i.e. 0 or 1 on that 0-100 scale. Mean over samples.

    One BLEU object serves the whole batch (upstream builds one per sample, which only costs time)."""

    lang: str = "ja"

    @cached_property
    def _bleu(self):
        from sacrebleu.metrics import BLEU

        return BLEU(effective_order=True, trg_lang=self.lang)

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        _check_lengths(preds, trues)
        out: Values = []
        for pred, true in zip(preds, trues):
            p, t = pred.strip(), true.strip()
            if p and t:
                out.append(self._bleu.corpus_score([p], [[t]]).score)
            else:
                out.append(float(p == t))
        return out


ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")
NGRAM_TYPES = {"rouge1": 1, "rouge2": 2}
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 42
_SENTENCE_ENDS = "。！？"


def add_sentence_breaks(text: str) -> str:
    """rouge_ja.py `JapaneseSentenceTokenizer.add_new_line`: a newline after every 。！？ unless the
    text already has a newline."""
    if "\n" in text:
        return text
    for mark in _SENTENCE_ENDS:
        text = text.replace(mark, mark + "\n")
    return text


class _MecabWords:
    """rouge_ja.py `JapaneseWordTokenizer`: sacrebleu's ja-mecab tokenizer, split on whitespace."""

    def __init__(self) -> None:
        from sacrebleu.tokenizers.tokenizer_ja_mecab import TokenizerJaMecab

        self._mecab = TokenizerJaMecab()

    def tokenize(self, text: str) -> list[str]:
        return self._mecab(text).strip().split()


def bootstrap_mid(values: np.ndarray, skip_resamples: int = 0) -> float:
    """The `mid` of rouge_score's BootstrapAggregator (1000 resamples of the per-sample scores,
    the 50th percentile of their means) for one measure, drawing from numpy's legacy generator
    seeded 42, as llm-jp-eval's evaluate() seeds the global one. `skip_resamples` advances the
    stream past aggregations done before this one in the same process.

    Resamples are drawn in blocks (the same stream as one draw per resample). rouge_score averages
    each resample over an (n, 3) score matrix along axis 0, which numpy sums row after row; a
    C-ordered (n, resamples) matrix averaged along axis 0 is summed the same way, so a whole block's
    means come from one call and equal rouge_score's to the bit (a 1-D mean would sum pairwise and
    differ in the last bits)."""
    n = len(values)
    rng = np.random.RandomState(BOOTSTRAP_SEED)
    rows_per_chunk = max(1, 4_000_000 // max(n, 1))
    for start in range(0, skip_resamples, rows_per_chunk):
        rng.randint(0, n, size=(min(rows_per_chunk, skip_resamples - start), n))
    means = []
    for start in range(0, BOOTSTRAP_SAMPLES, rows_per_chunk):
        drawn = rng.randint(0, n, size=(min(rows_per_chunk, BOOTSTRAP_SAMPLES - start), n))
        means.append(np.mean(values[np.ascontiguousarray(drawn.T)], axis=0))
    return float(np.percentile(np.concatenate(means), 50))


NGrams = Counter[tuple[str, ...]]


def ngram_counts(tokens: Sequence[str], n: int) -> NGrams:
    """rouge_scorer.py `_create_ngrams`: each run of n consecutive tokens (a tuple) and its count."""
    return Counter(zip(*(tokens[i:] for i in range(n))))


def ngram_fmeasure(target: NGrams, predicted: NGrams, n_target: int, n_predicted: int) -> float:
    """rouge_scorer.py `_score_ngrams` and scoring.py `fmeasure`: clipped n-gram overlap over the
    prediction's n-grams (precision) and the target's (recall), each count at least 1; F = 2PR/(P+R)."""
    overlap = sum(min(target[g], predicted[g]) for g in target.keys() & predicted.keys())
    precision = overlap / max(n_predicted, 1)
    recall = overlap / max(n_target, 1)
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


@dataclass(frozen=True)
class Rouge(Metric):
    """rouge_ja.py `RougeJa` as utils.py "rouge1"/"rouge2"/"rougeLsum" uses it: rouge_score's
    RougeScorer with sacrebleu's MeCab tokenizer on texts given sentence breaks; each sample's
    F-measure times 100; the dataset score is BootstrapAggregator's mid F-measure.

    rouge1 and rouge2 are computed here as rouge_score computes them (tests/test_jaster_metrics*.py
    hold them equal), tokenizing and counting the n-grams of each distinct text once; rougeLsum
    goes through RougeScorer itself.

    The bootstrap draws from numpy's global generator, which llm-jp-eval seeds with 42 once per
    run and which each rouge metric advances in turn (a new RougeJa per metric, in the dataset's
    metric order). `preceding` names the rouge metrics assumed to come before this one (xlsum_ja:
    rouge1, rouge2, rougeLsum): the value equals upstream's when xlsum_ja is the first dataset in
    its llm-jp-eval process to use numpy's global generator."""

    mean_of_samples: ClassVar[bool] = False

    rouge_type: str = "rouge2"
    corpus_level: bool = True
    preceding: tuple[str, ...] = ()

    @cached_property
    def _words(self) -> _MecabWords:
        return _MecabWords()

    @cached_property
    def _scorer(self):
        from rouge_score.rouge_scorer import RougeScorer

        return RougeScorer(rouge_types=[self.rouge_type], tokenizer=self._words)

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        _check_lengths(preds, trues)
        if self.rouge_type not in NGRAM_TYPES:
            scorer = self._scorer
            return [float(scorer.score(add_sentence_breaks(t), add_sentence_breaks(p))[self.rouge_type].fmeasure * 100)
                    for p, t in zip(preds, trues)]
        n = NGRAM_TYPES[self.rouge_type]
        grams: dict[str, NGrams] = {}
        sizes: dict[str, int] = {}
        for text in dict.fromkeys(chain(trues, preds)):
            tokens = self._words.tokenize(add_sentence_breaks(text))
            grams[text] = ngram_counts(tokens, n)
            sizes[text] = max(len(tokens) - n + 1, 0)
        return [ngram_fmeasure(grams[t], grams[p], sizes[t], sizes[p]) * 100 for p, t in zip(preds, trues)]

    def corpus(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> float:
        values = self.samples(preds, trues)
        if not values:
            raise JevalError(f"{self.name}: no samples to score")
        return bootstrap_mid(np.asarray(values, dtype=np.float64), BOOTSTRAP_SAMPLES * len(self.preceding))


COMET_MODEL = "Unbabel/wmt22-comet-da"
COMET_MODEL_ENV = "JEVAL_COMET_MODEL"


@dataclass(frozen=True)
class CometWmt22(Metric):
    """utils.py "comet_wmt22": Unbabel/wmt22-comet-da (unbabel-comet) over
    {src: input, mt: prediction, ref: reference}, predict(..., gpus=0).system_score (the mean of
    the segment scores), 0-1. An optional extra: without the package or the model the metric is
    unavailable and says why. The model is a checkpoint path in $JEVAL_COMET_MODEL, else
    comet.download_model's Hugging Face cache."""

    mean_of_samples: ClassVar[bool] = False

    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def _model(self):
        if "model" in self._cache:
            return self._cache["model"]
        import os

        try:
            import comet
        except ImportError as e:
            raise MetricUnavailable(
                f"comet_wmt22 needs the unbabel-comet package and the {COMET_MODEL} model "
                f"(pip install unbabel-comet; set {COMET_MODEL_ENV} to its checkpoint on an offline machine)") from e
        path = os.environ.get(COMET_MODEL_ENV)
        try:
            if not path:
                path = comet.download_model(COMET_MODEL)
            model = comet.load_from_checkpoint(path)
        except Exception as e:  # any failure to obtain the model makes the metric unavailable
            raise MetricUnavailable(f"comet_wmt22: cannot load {COMET_MODEL} ({type(e).__name__}: {e}); "
                                    f"set {COMET_MODEL_ENV} to a downloaded checkpoint (checkpoints/model.ckpt)") from e
        self._cache["model"] = model
        return model

    def _predict(self, preds, trues, sources):
        _check_lengths(preds, trues, sources)
        if sources is None:
            raise MetricUnavailable("comet_wmt22 needs each sample's source text (its input)")
        data = [{"src": s, "mt": p, "ref": t} for s, p, t in zip(sources, preds, trues)]
        return self._model().predict(data, gpus=0)

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        return [float(s) for s in self._predict(preds, trues, sources).scores]

    def corpus(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> float:
        return float(self._predict(preds, trues, sources).system_score)


def parse_test_cases(true: str) -> list[str]:
    """mbpp's reference is the Python literal of its test list (utils.py: ast.literal_eval(y_true))."""
    try:
        tests = ast.literal_eval(true)
    except (ValueError, SyntaxError) as e:
        raise JevalError(f"code_exec: the reference is not a Python list of test cases: {true[:80]!r}") from e
    if not isinstance(tests, list | tuple) or not all(isinstance(t, str) for t in tests):
        raise JevalError(f"code_exec: the reference must be a list of test-case strings: {true[:80]!r}")
    return list(tests)


@dataclass(frozen=True)
class CodeExec(Metric):
    """utils.py "code_exec": a sample scores 1 when, for every test case, running the prediction
    and then the test raises nothing; else 0 (an empty test list passes). Run in a bubblewrap
    sandbox (jeval.tasks.sandbox), one per sample, with a timeout upstream does not have; a
    timed-out or killed sample scores 0. Each sample runs alone: names never leak from one sample
    to the next as they can in upstream's shared exec scope. The assertions are decided outside the
    sandbox from plain values (code_exec.py), so a value with a custom `__eq__` counts as unequal.
    Without a working sandbox the metric is unavailable: generated code never runs unconfined."""

    config: CodeExecConfig = field(default_factory=CodeExecConfig)

    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def _sandbox(self) -> Sandbox:
        if "sandbox" not in self._cache:
            try:
                self._cache["sandbox"] = Sandbox.create()
            except SandboxUnavailable as e:
                self._cache["sandbox"] = e
        found = self._cache["sandbox"]
        if isinstance(found, SandboxUnavailable):
            raise MetricUnavailable(f"{self.name}: generated code is only run in a sandbox: {found}")
        return found

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        _check_lengths(preds, trues)
        items = [(p, parse_test_cases(t)) for p, t in zip(preds, trues)]
        return [1.0 if o.passed else 0.0 for o in run_batch(items, self.config, self._sandbox())]

    def record(self) -> dict[str, Any]:
        found = self._cache.get("sandbox")
        return {"sandbox": found.describe(self.config.limits())} if isinstance(found, Sandbox) else {}


@dataclass(frozen=True)
class PylintCheck(Metric):
    """utils.py "pylint_check" (mbpp's second metric): 1 when pylint finds no error in the
    prediction. llm-jp-eval runs pylint with the pylintrc of its repository, which jeval does not
    have: here a sample fails on any message of category error (E) or fatal (F) under pylint's
    defaults. Needs pylint installed; not a category metric."""

    timeout_s: float = 60.0

    def samples(self, preds: Sequence[str], trues: Sequence[str], sources: Sequence[str] | None = None) -> Values:
        import importlib.util
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        _check_lengths(preds, trues)
        if importlib.util.find_spec("pylint") is None:
            raise MetricUnavailable("pylint_check needs pylint (pip install 'jeval[pylint]')")
        out: Values = []
        with tempfile.TemporaryDirectory(prefix="jeval-pylint-") as tmp:
            for i, pred in enumerate(preds):
                path = Path(tmp) / f"sample_{i}.py"
                path.write_text(pred, encoding="utf-8")
                result = subprocess.run(
                    [sys.executable, "-I", "-m", "pylint", "--persistent=n", "--score=n", "--disable=all",
                     "--enable=E,F", "--msg-template={msg_id}", str(path)],
                    capture_output=True, text=True, timeout=self.timeout_s, cwd=tmp)
                ids = re.findall(r"^[EF]\d{4}$", result.stdout, re.MULTILINE)
                out.append(0.0 if ids else 1.0)
        return out


METRICS: dict[str, Metric] = {m.name: m for m in (
    ExactMatch("exact_match"),
    CharF1("char_f1"),
    SetF1("set_f1"),
    Correlation("pearson", method="pearson"),
    Correlation("spearman", method="spearman"),
    Bleu("bleu_ja", lang="ja"),
    Bleu("bleu_en", lang="en"),
    Rouge("rouge1", rouge_type="rouge1", preceding=()),
    Rouge("rouge2", rouge_type="rouge2", preceding=("rouge1",)),
    Rouge("rougeLsum", rouge_type="rougeLsum", preceding=("rouge1", "rouge2")),
    CometWmt22("comet_wmt22"),
    CodeExec("code_exec"),
    PylintCheck("pylint_check"),
)}
