"""Jaster's metrics reproduce llm-jp-eval v1.4.1's numbers; generated code runs only in a sandbox."""

from __future__ import annotations

import math
import os
import socket
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jeval.errors import JevalError
from jeval.tasks.jaster import metrics as m
from jeval.tasks.jaster.code_exec import CodeExecConfig, run_batch, run_one
from jeval.tasks.jaster.metrics import METRICS, MetricUnavailable, parse_float

FAST = CodeExecConfig(timeout_s=1.0)


def test_registry_names_are_llm_jp_evals():
    assert set(METRICS) == {
        "exact_match", "char_f1", "set_f1", "pearson", "spearman", "bleu_ja", "bleu_en",
        "rouge1", "rouge2", "rougeLsum", "comet_wmt22", "code_exec", "pylint_check"}
    assert all(name == metric.name for name, metric in METRICS.items())
    assert {n for n, x in METRICS.items() if x.corpus_level} == {"pearson", "spearman", "rouge1", "rouge2", "rougeLsum"}


# exact_match

def test_exact_match_is_string_equality_averaged():
    metric = METRICS["exact_match"]
    assert metric.samples(["a", "b", "c"], ["a", "x", "c"]) == [1.0, 0.0, 1.0]
    assert metric.corpus(["a", "b", "c"], ["a", "x", "c"]) == pytest.approx(2 / 3)
    assert metric.sample("", "a") == 0.0
    assert metric.sample("", "") == 1.0


# char_f1

@pytest.mark.parametrize(("pred", "true", "expected"), [
    ("東京タワー", "東京", 0.57),            # Indel similarity 1 - 3/7 = 0.571 -> 57
    ("abcdefgh", "aijklmno", 0.12),         # 1 - 14/16 = 0.125 -> 12.5 rounds half to even -> 12
    ("", "東京", 0.0),                       # empty prediction
    ("", "", 1.0),                           # equal after processing -> 100
    ("！？", "。", 1.0),                      # punctuation only: both process to ""
    ("café", "caf", 1.0),                    # U+0080-U+00FF are deleted (force_ascii)
    ("b a", "a b", 1.0),                     # tokens are sorted
    ("ABC", "abc", 1.0),                     # lower-cased
    ("a", "", 0.0),
])
def test_char_f1_hand_computed(pred, true, expected):
    from fuzzywuzzy import fuzz

    assert METRICS["char_f1"].sample(pred, true) == expected
    assert fuzz.token_sort_ratio(pred, true) / 100 == expected


def test_char_f1_corpus_is_the_mean():
    assert (METRICS["char_f1"].corpus(["東京タワー", "", "a b"], ["東京", "東京", "b a"])
            == pytest.approx((0.57 + 0 + 1) / 3))


_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from("abcAB 12.,!?-_\t\n"),                 # ASCII letters, digits, punctuation, spaces
        st.sampled_from("あいうアイウ東京都日本語。、「」ー"),     # Japanese
        st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),  # full-width forms
        st.characters(min_codepoint=0x80, max_codepoint=0xFF),      # Latin-1 (deleted by fuzzywuzzy)
        st.sampled_from("İΣσßﬁ\u0301\u3000\x00"),             # case/width oddities, combining mark, NUL
    ),
    max_size=14,
)


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=6))
def test_char_f1_equals_fuzzywuzzy_with_python_levenshtein(pairs):
    from fuzzywuzzy import fuzz

    preds, trues = [p for p, _ in pairs], [t for _, t in pairs]
    assert METRICS["char_f1"].samples(preds, trues) == [fuzz.token_sort_ratio(p, t) / 100 for p, t in pairs]


# set_f1

@pytest.mark.parametrize(("pred", "true", "expected"), [
    ("a\nb", "a\nc", 0.5),                   # P = R = 1/2
    ("a\nb\nb", "a\nc", 0.5),                # duplicate predicted lines count once
    ("a", "a\na", 2 / 3),                    # duplicate reference lines stay: P = 1, R = 1/2
    ("a\na", "a\na", 2 / 3),                 # ... even for an identical answer (asymmetric)
    (" a \n b", "b\na", 1.0),                # lines are stripped; order is free
    ("", "a", 0.0),                          # empty prediction
    ("", "a\n", 2 / 3),                      # empty prediction hits the reference's empty line
    ("x", "a", 0.0),                         # P + R = 0
])
def test_set_f1_hand_computed(pred, true, expected):
    assert METRICS["set_f1"].sample(pred, true) == pytest.approx(expected)


# pearson / spearman

@pytest.mark.parametrize(("text", "value"), [
    ("3.5", 3.5), ("3.5点", 3.5), ("-1", 1.0), ("1e3", 13.0), ("1.2.3", -2.0), ("", -2.0), (".", -2.0),
    ("abc", -2.0), ("４", -2.0),
])
def test_parse_float_keeps_only_ascii_digits_and_dots(text, value):
    assert parse_float(text) == value


def test_pearson_hand_computed():
    assert METRICS["pearson"].corpus(["1", "2", "4"], ["1", "2", "3"]) == pytest.approx(9 / math.sqrt(84))


def test_pearson_reads_an_unparsable_prediction_as_minus_two():
    assert METRICS["pearson"].corpus(["1", "2", "わからない"], ["1", "2", "3"]) == pytest.approx(-9 / math.sqrt(156))


def test_nan_correlation_becomes_zero():
    assert METRICS["pearson"].corpus(["2", "2", "2"], ["1", "2", "3"]) == 0.0
    assert METRICS["spearman"].corpus(["x", "y", "z"], ["1", "2", "3"]) == 0.0


def test_spearman_hand_computed():
    assert METRICS["spearman"].corpus(["1", "20", "3.5点"], ["1", "3", "2"]) == pytest.approx(1.0)
    # ranks of predictions 1, 3, 2 against 1, 2, 3: 1 - 6 * (0 + 1 + 1) / (3 * 8) = 0.5
    assert METRICS["spearman"].corpus(["1", "3", "2"], ["1", "2", "3"]) == pytest.approx(0.5)


def test_correlations_have_no_per_sample_values_and_need_numeric_references():
    assert METRICS["pearson"].samples(["1", "2"], ["1", "2"]) == [None, None]
    assert METRICS["pearson"].corpus(["1"], ["1"]) == 0.0
    with pytest.raises(JevalError, match="not a number"):
        METRICS["pearson"].corpus(["1", "2"], ["1", "high"])


# bleu

def test_bleu_en_hand_computed():
    # Clipped n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths: (1/12) ** (1/4) * 100.
    assert (METRICS["bleu_en"].sample("the cat sat on the mat", "the cat sat on a mat")
            == pytest.approx(100 * (1 / 12) ** 0.25))


def test_bleu_uses_effective_order_and_brevity_penalty():
    # Only 1- and 2-grams exist in the hypothesis, both all matched; BP = exp(1 - 3/2).
    assert METRICS["bleu_en"].sample("the cat", "the cat sat") == pytest.approx(100 * math.exp(-0.5))


def test_bleu_empty_text_scores_equality_on_the_0_1_scale():
    metric = METRICS["bleu_ja"]
    assert metric.sample("", "今日は晴れ") == 0.0
    assert metric.sample("  ", "") == 1.0
    assert metric.sample("今日は晴れです。", "今日は晴れです。") == pytest.approx(100.0)
    assert metric.corpus(["今日は晴れです。", ""], ["今日は晴れです。", ""]) == pytest.approx(50.5)


def test_bleu_ja_matches_a_fresh_sacrebleu_object_per_sample():
    from sacrebleu.metrics import BLEU

    preds = ["今日は良い天気です。", "猫が好きです", " 東京に行きました。 "]
    trues = ["今日はいい天気です。", "犬が好きです", "東京へ行った。"]
    expected = [BLEU(effective_order=True, trg_lang="ja").corpus_score([p.strip()], [[t.strip()]]).score
                for p, t in zip(preds, trues)]
    assert METRICS["bleu_ja"].samples(preds, trues) == expected


# rouge

def test_sentence_breaks_follow_japanese_sentence_ends_unless_lines_exist():
    assert m.add_sentence_breaks("あ。い！う？え") == "あ。\nい！\nう？\nえ"
    assert m.add_sentence_breaks("あ。\nい。") == "あ。\nい。"


def test_rouge_hand_computed_on_the_0_100_scale():
    # MeCab: 今日 は 良い 天気 です 。 / 今日 は いい 天気 です 。
    pred, true = "今日は良い天気です。", "今日はいい天気です。"
    assert METRICS["rouge1"].sample(pred, true) == pytest.approx(500 / 6)
    assert METRICS["rouge2"].sample(pred, true) == pytest.approx(60.0)
    assert METRICS["rouge2"].sample("", true) == 0.0
    # Two samples scoring 60 and 50: every bootstrap mean is 50, 55 or 60, the median 55.
    assert METRICS["rouge2"].corpus([pred, "猫が好き"], [true, "犬が好き"]) == pytest.approx(55.0)


def test_rouge_bootstrap_equals_rouge_score_aggregator_seeded_like_llm_jp_eval():
    from rouge_score.scoring import BootstrapAggregator, Score

    values = np.random.default_rng(7).uniform(0, 100, size=57)
    state = np.random.get_state()
    try:
        np.random.seed(42)
        upstream = []
        for _ in m.ROUGE_TYPES:
            aggregator = BootstrapAggregator()
            for v in values:
                aggregator.add_scores({"r": Score(precision=v, recall=v, fmeasure=v)})
            upstream.append(aggregator.aggregate()["r"].mid.fmeasure)
    finally:
        np.random.set_state(state)
    assert [m.bootstrap_mid(values, 1000 * i) for i in range(3)] == upstream


# comet

def test_comet_without_its_package_is_unavailable_with_a_reason(monkeypatch):
    monkeypatch.setitem(sys.modules, "comet", None)
    with pytest.raises(MetricUnavailable, match="unbabel-comet"):
        m.CometWmt22("comet_wmt22").corpus(["a"], ["b"], ["c"])


def test_comet_needs_the_sources():
    with pytest.raises(MetricUnavailable, match="source"):
        METRICS["comet_wmt22"].corpus(["a"], ["b"])


# code_exec

def test_code_exec_passes_when_every_test_case_passes():
    metric = m.CodeExec("code_exec", config=FAST)
    preds = ["def add(a, b):\n    return a + b", "def add(a, b):\n    return a - b", "x = 1"]
    trues = ["['assert add(1, 2) == 3', 'assert add(2, 2) == 4']", "['assert add(1, 2) == 3']", "[]"]
    assert metric.samples(preds, trues) == [1.0, 0.0, 1.0]
    assert metric.corpus(preds, trues) == pytest.approx(2 / 3)


def test_code_exec_reference_must_be_a_list_literal():
    with pytest.raises(JevalError, match="list of test cases"):
        m.CodeExec("code_exec", config=FAST).sample("x = 1", "assert x == 1")


def test_upstream_scope_hides_the_codes_own_functions_from_each_other():
    recursive = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)"
    assert not run_one(recursive, ["assert fib(10) == 55"], FAST).passed
    assert run_one("import math\ndef f(x):\n    return math.sqrt(x)", ["assert f(4) == 2"], FAST).passed
    assert run_one(recursive, ["assert fib(10) == 55"], CodeExecConfig(timeout_s=1.0, scope="module")).passed


def test_infinite_loop_and_sleep_time_out_as_failures():
    outcomes = run_batch([("while True:\n    pass", ["assert True"]),
                          ("import time\ntime.sleep(60)", ["assert True"])], FAST)
    assert [o.passed for o in outcomes] == [False, False]


def test_network_connection_is_refused_and_never_arrives():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'x')\nok = 1"
    try:
        assert not run_one(code, ["assert ok == 1"], FAST).passed
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


def test_writes_outside_the_sandbox_fail_and_leave_nothing(tmp_path):
    target = tmp_path / "escaped.txt"
    code = f"open({str(target)!r}, 'w').write('x')\nok = 1"
    assert not run_one(code, ["assert ok == 1"], FAST).passed
    assert not target.exists()
    inside = "open('scratch.txt', 'w').write('hi')\ndef f():\n    return open('scratch.txt').read()"
    assert run_one(inside, ["assert f() == 'hi'"], FAST).passed


def test_new_processes_are_refused():
    for code in ("import os\nok = os.fork() >= 0", "import subprocess\nok = subprocess.run(['true']).returncode == 0",
                 "import os\nok = os.system('true') == 0"):
        assert not run_one(code, ["assert ok == True"], FAST).passed, code


def test_a_forged_exit_is_a_failure_and_memory_is_bounded():
    assert not run_one("import os\nos._exit(0)", ["assert True"], FAST).passed
    assert not run_one("x = bytearray(8 << 30)", ["assert True"], FAST).passed


def test_the_harness_is_unaffected():
    before = (os.getpid(), os.getcwd(), dict(os.environ), list(sys.path))
    code = ("import os, sys\nos.environ['JEVAL_PWNED'] = '1'\nos.chdir('/')\nsys.path.insert(0, '/x')\n"
            "raise SystemExit(3)")
    assert not run_one(code, ["assert True"], FAST).passed
    assert (os.getpid(), os.getcwd(), dict(os.environ), list(sys.path)) == before


def test_batch_keeps_input_order():
    items = [(f"v = {i}", [f"assert v == {i}"]) for i in range(6)] + [("v = 0", ["assert v == 1"])]
    assert [o.passed for o in run_batch(items, FAST)] == [True] * 6 + [False]


# pylint_check

def test_pylint_check_is_unavailable_without_pylint(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pylint" else real(name, *a))
    with pytest.raises(MetricUnavailable, match="pylint"):
        METRICS["pylint_check"].corpus(["x = 1"], ["[]"])


def test_pylint_check_fails_code_with_errors():
    assert METRICS["pylint_check"].samples(["x = 1\n", "print(undefined_name)\n"], ["[]", "[]"]) == [1.0, 0.0]
