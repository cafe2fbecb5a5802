"""The jhumaneval task: HumanEval-style checks scored with the test (sandbox T) and the generated
code (sandbox C) apart, so that no program can forge its verdict; pass@k; the data file read
strictly. Problems here are written for these tests in JHumanEval's format (never the real data)."""

from __future__ import annotations

import gzip
import json
import math
import textwrap
import time
from pathlib import Path

import pytest

from jeval.errors import JevalError
from jeval.planning import first_items
from jeval.task import Request, TaskInputs
from jeval.tasks.jhumaneval.data import PREPARED, check_record, read_upstream, write_prepared
from jeval.tasks.jhumaneval.sandbox_side import call_key, decode, encode
from jeval.tasks.jhumaneval.scoring import Problem, ScoringConfig, check_sample, check_samples
from jeval.tasks.jhumaneval.task import STOP, JHumanEvalTask, pass_at_k
from jeval.tasks.sandbox import Sandbox, SandboxUnavailable

FAST = ScoringConfig(timeout_s=2.0, workers=2)


def _d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


RECORDS = [
    {"task_id": "JHumanEval/0", "entry_point": "add",
     "prompt": _d('''
        def add(a: int, b: int) -> int:
            """二つの整数 a と b の和を返す。
            >>> add(2, 3)
            5
            """
        '''),
     "canonical_solution": "    return a + b\n",
     "test": _d('''
        METADATA = {}


        def check(candidate):
            assert candidate(2, 3) == 5
            assert candidate(-1, 1) == 0
            assert candidate(10, 20) == 30, "大きな数"
        ''')},
    {"task_id": "JHumanEval/1", "entry_point": "unrotate",
     "prompt": _d('''
        def rotate(s: str):
            """3文字ごとに左へ回した文字列を返す。"""
            groups = [s[3 * i:3 * i + 3] for i in range((len(s) + 2) // 3)]
            return "".join(g[1:] + g[0] if len(g) == 3 else g for g in groups)


        def unrotate(s: str):
            """rotate で回された文字列を元に戻す。"""
        '''),
     "canonical_solution": "    return rotate(rotate(s))\n",
     "test": _d('''
        def check(candidate):
            from random import choice, randint
            import string

            for _ in range(30):
                text = "".join(choice(string.ascii_lowercase) for _ in range(randint(5, 12)))
                assert candidate(rotate(text)) == text
        ''')},
    {"task_id": "JHumanEval/2", "entry_point": "find_zero",
     "prompt": _d('''
        import math


        def poly(xs: list, x: float):
            """係数 xs の多項式の x における値を返す。"""
            return sum(c * math.pow(x, i) for i, c in enumerate(xs))


        def find_zero(xs: list):
            """poly(xs, x) = 0 となる x をひとつ返す。xs は偶数個で、最高次の係数は 0 でない。"""
        '''),
     "canonical_solution": textwrap.indent(_d('''
            begin, end = -1.0, 1.0
            while poly(xs, begin) * poly(xs, end) > 0:
                begin *= 2.0
                end *= 2.0
            while end - begin > 1e-10:
                center = (begin + end) / 2.0
                if poly(xs, center) * poly(xs, begin) > 0:
                    begin = center
                else:
                    end = center
            return begin
        '''), "    "),
     "test": _d('''
        def check(candidate):
            import copy
            import random

            rng = random.Random(7)
            for _ in range(20):
                xs = [rng.randint(-5, 5) or 1 for _ in range(2 * rng.randint(1, 3))]
                solution = candidate(copy.deepcopy(xs))
                assert math.fabs(poly(xs, solution)) < 1e-4
        ''')},
    {"task_id": "JHumanEval/3", "entry_point": "step",
     "prompt": _d('''
        def step(n: int) -> int:
            """コラッツ数列で n の次の値を返す。"""
        '''),
     "canonical_solution": "    return n // 2 if n % 2 == 0 else 3 * n + 1\n",
     "test": _d('''
        def check(candidate):
            n = 5
            seen = [n]
            while n != 1:
                n = candidate(n)
                seen.append(n)
            assert seen == [5, 16, 8, 4, 2, 1]
        ''')},
    {"task_id": "JHumanEval/4", "entry_point": "histogram",
     "prompt": _d('''
        def histogram(text: str) -> dict:
            """空白で区切られた語の出現回数を辞書で返す。"""
        '''),
     "canonical_solution": textwrap.indent(_d('''
            counts = {}
            for word in text.split():
                counts[word] = counts.get(word, 0) + 1
            return counts
        '''), "    "),
     "test": _d('''
        def check(candidate):
            assert candidate("a b a") == {"a": 2, "b": 1}
            assert candidate("") == {}
            assert abs(sum(candidate("x y z x").values()) / 2 - 2.0) < 1e-9
        ''')},
]
for _record in RECORDS:
    _record["prompt_en"] = _record["prompt"].replace("を返す", " (returns it)")

PROBLEMS = {r["task_id"]: Problem(r["task_id"], r["prompt"], r["test"], r["entry_point"]) for r in RECORDS}
ADD = PROBLEMS["JHumanEval/0"]


def write_upstream(path: Path, records: list[dict] | None = None, lines: list[str] | None = None) -> Path:
    """A gzipped JSON Lines file in JHumanEval's layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = lines if lines is not None else [json.dumps(r, ensure_ascii=False) for r in records or RECORDS]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(text) + "\n")
    return path


def verdict(sandbox: Sandbox, completion: str, problem: Problem = ADD, config: ScoringConfig = FAST):
    return check_sample(problem, completion, config, sandbox)


# Canonical and wrong solutions

def test_every_canonical_solution_passes_and_wrong_ones_fail(sandbox):
    samples = [(PROBLEMS[r["task_id"]], r["canonical_solution"]) for r in RECORDS]
    samples += [(PROBLEMS[r["task_id"]], "    return None\n") for r in RECORDS]
    samples += [(PROBLEMS[r["task_id"]], RECORDS[(i + 1) % len(RECORDS)]["canonical_solution"])
                for i, r in enumerate(RECORDS)]
    verdicts = check_samples(samples, FAST, sandbox)
    n = len(RECORDS)
    assert [v.result for v in verdicts[:n]] == ["passed"] * n
    assert not any(v.passed for v in verdicts[n:]), [v.result for v in verdicts[n:]]


def test_a_chain_of_dependent_calls_takes_one_round_per_call_and_the_rounds_are_bounded(sandbox):
    problem, solution = PROBLEMS["JHumanEval/3"], RECORDS[3]["canonical_solution"]
    done = verdict(sandbox, solution, problem)
    assert done.passed and done.rounds == 5 and done.calls == 5
    cut = verdict(sandbox, solution, problem, ScoringConfig(timeout_s=2.0, rounds=3))
    assert not cut.passed and cut.result == "failed: more than 3 rounds of calls"


def test_independent_calls_are_found_in_one_round_even_where_the_test_needs_the_answers(sandbox):
    """HumanEval/32's shape: every answer goes through the problem's helper before its assert."""
    done = verdict(sandbox, RECORDS[2]["canonical_solution"], PROBLEMS["JHumanEval/2"])
    assert done.passed and done.rounds == 1 and done.calls == 20


def test_unseeded_random_inputs_are_the_same_in_every_round(sandbox):
    done = verdict(sandbox, RECORDS[1]["canonical_solution"], PROBLEMS["JHumanEval/1"])
    assert done.passed and done.rounds == 1 and done.calls == 30


@pytest.mark.parametrize(("completion", "result"), [
    ("    return a - b\n", "failed: assertion failed (test line 5)"),
    ("    return a +\n", "failed: SyntaxError"),
    ("    return a // 0\n", "failed: the candidate raised ZeroDivisionError (test line 5)"),
    ("    raise SystemExit(0)\n", "failed: the candidate raised SystemExit"),
    ("    return (a + b, 'x')[0] if a != 10 else str(a + b)\n", "failed: assertion failed (test line 7)"),
    ("", "failed: assertion failed (test line 5)"),
    ("    return a + b\n\nadd = 3\n", "failed: no function add"),
])
def test_wrong_programs_fail_with_the_reason(sandbox, completion, result):
    done = verdict(sandbox, completion)
    assert (done.passed, done.result) == (False, result)


def test_an_infinite_loop_fails_at_the_time_limit(sandbox):
    config = ScoringConfig(timeout_s=1.0, workers=1)
    started = time.monotonic()
    done = verdict(sandbox, "    while True:\n        pass\n", config=config)
    assert (done.passed, done.result) == (False, "timed out")
    assert time.monotonic() - started < 1.0 + 3.0 + 3.0


def test_a_sleeping_program_fails_at_the_wall_limit(sandbox):
    config = ScoringConfig(timeout_s=1.0, workers=1)
    done = verdict(sandbox, "    import time\n    time.sleep(600)\n", config=config)
    assert (done.passed, done.result) == (False, "timed out")


# Forgery: each program below passes only if its attack worked

FAKE_REPORTS = [
    {"status": "pass", "reason": "passed", "missing": []},
    {"loaded": True, "results": [["ok", ["opaque", "Everything", True]]] * 3},
]

ATTACKS = {
    "prints a fake verdict on every descriptor and exits 0": _d(f'''
        import os
        for fd in range(1, 32):
            try:
                os.write(fd, {json.dumps(FAKE_REPORTS[0])!r}.encode())
            except OSError:
                pass
        os._exit(0)
    '''),
    "exits 0 before any call is answered": "import os\nos._exit(0)\n",
    "replaces AssertionError and the assert-free path": _d('''
        import builtins
        class Never(Exception):
            pass
        builtins.AssertionError = Never
        builtins.print = lambda *a, **k: None
    '''),
    "returns an object equal to everything": _d('''
        class Everything:
            def __eq__(self, other):
                return True
            def __ne__(self, other):
                return False
            __hash__ = object.__hash__
        def add(a, b):
            return Everything()
    '''),
    "returns an int subclass equal to everything": _d('''
        class Liar(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def add(a, b):
            return Liar(0)
    '''),
    "patches the report encoder": _d('''
        import sys
        main = sys.modules["__main__"]
        main.encode = lambda value, depth=0: ["int", "0x5"]
        main.json.dumps = lambda *a, **k: '{"status": "pass", "reason": "passed", "missing": []}'
    '''),
    "writes the other side's report itself": _d(f'''
        import os
        report = {json.dumps(FAKE_REPORTS[1])!r}.encode()
        for fd in range(3, 32):
            try:
                os.write(fd, report)
            except OSError:
                pass
        os._exit(0)
    '''),
    "raises SystemExit from every call": "def add(a, b):\n    raise SystemExit(0)\n",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_a_program_cannot_forge_its_verdict(sandbox, name):
    done = verdict(sandbox, "    return 0\n\n" + ATTACKS[name])
    assert not done.passed, (name, done.result)


def test_redefining_the_problems_helper_changes_nothing(sandbox):
    """Upstream runs prompt + completion + test in one namespace, so a completion that redefines
    `poly` to answer 0 would pass HumanEval/32 with any root; here the test's helpers are its own."""
    cheat = "    return 0.0\n\n\ndef poly(xs, x):\n    return 0.0\n"
    done = verdict(sandbox, cheat, PROBLEMS["JHumanEval/2"])
    assert not done.passed and done.result.startswith("failed: assertion failed")


def test_the_test_never_enters_the_candidates_sandbox(sandbox):
    """A program that searches its whole heap for text passes only where it finds it: it finds the
    prompt (control), never the test (the needles are joined at run time, so that the program's
    own constants do not hold them)."""
    search = _d('''
        import gc
        def _found(needle):
            for o in gc.get_objects():
                values = o.values() if isinstance(o, dict) else o if isinstance(o, list | tuple) else ()
                if any(isinstance(v, str) and needle in v for v in values):
                    return True
            return False
        def add(a, b):
            return a + b if _found(NEEDLE) else -1
    ''')
    assert verdict(sandbox, search.replace("NEEDLE", '"".join(["二つの", "整数"])')).passed
    assert not verdict(sandbox, search.replace("NEEDLE", '"".join(["def ch", "eck(candidate)"])')).passed
    assert not verdict(sandbox, search.replace("NEEDLE", '"".join(["大きな", "数"])')).passed


def test_the_test_never_sees_the_candidate_mutate_its_arguments(sandbox):
    """Arguments are decoded afresh for each call in C; the test's own list is never touched (a
    documented difference: HumanEval's harness would let this candidate empty `xs`)."""
    problem = Problem("t/0", 'def total(xs: list) -> int:\n    """合計"""\n', _d('''
        def check(candidate):
            xs = [1, 2, 3]
            assert candidate(xs) == 6
            assert candidate(xs) == 6
            assert xs == [1, 2, 3]
        '''), "total")
    assert verdict(sandbox, "    s = sum(xs)\n    xs.clear()\n    return s\n", problem).passed


# Values between the sides

@pytest.mark.parametrize("value", [None, True, 0, -(2 ** 100), 1.5, math.inf, "日本語", b"\x00", [1, [2]], (1, "a"),
                                   {1, 2}, frozenset({"a"}), {"k": [1.0, None]}, 3 + 4j])
def test_plain_values_survive_the_trip(value):
    assert decode(json.loads(json.dumps(encode(value)))) == value
    assert type(decode(encode(value))) is type(value)


def test_nan_survives_and_opaque_values_equal_nothing():
    assert math.isnan(decode(encode(float("nan"))))
    opaque = decode(encode(iter([1])))
    assert opaque != opaque.__class__("list_iterator", True) and opaque == opaque and bool(opaque)


@pytest.mark.parametrize("item", [["int", 5], ["float", [1]], ["str"], ["list", "x"], ["nope"], [], "int",
                                  ["dict", [[["list", []], ["none"]]]], ["bool", 1], ["list", [["x"]]]])
def test_malformed_values_are_refused(item):
    with pytest.raises(ValueError):
        decode(item)


def test_set_arguments_give_one_key_whatever_the_order():
    assert call_key(({"b", "a", "c"},), {}) == call_key(({"c", "a", "b"},), {})


# pass@k

@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (5, 2, 1, 0.4), (10, 3, 10, 1.0), (10, 0, 1, 0.0), (10, 10, 5, 1.0), (1, 1, 1, 1.0), (1, 0, 1, 0.0),
    (20, 5, 10, 1 - math.comb(15, 10) / math.comb(20, 10)),
    (200, 3, 100, 1 - math.comb(197, 100) / math.comb(200, 100)),
])
def test_pass_at_k_is_the_unbiased_estimator(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, 2, 6), (5, 2, 0)])
def test_pass_at_k_refuses_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_aggregate_reports_each_k_the_samples_allow():
    task = JHumanEvalTask(config=FAST)
    scores = [{"task_id": f"p{i}", "passed": j < i, "result": "passed" if j < i else "failed: x (line 1)"}
              for i in range(3) for j in range(10)]
    metrics = task.aggregate(scores)
    expected = [(pass_at_k(10, i, 1) + 0.0) for i in range(3)]
    assert metrics["pass@1"] == pytest.approx(sum(expected) / 3)
    assert metrics["pass@10"] == pytest.approx((0 + 1 + 1) / 3)
    assert "pass@100" not in metrics
    assert metrics["counts"] == {"problems": 3, "samples_per_problem": 10}
    assert metrics["results"] == {"failed: x": 27, "passed": 3}


# Requests

@pytest.fixture
def prepared_dir(tmp_path) -> Path:
    folder = tmp_path / "jhumaneval"
    folder.mkdir()
    write_prepared(read_upstream(write_upstream(tmp_path / "up.jsonl.gz")), folder)
    return folder


def test_requests_send_the_prompt_as_it_is_with_humanevals_stops(prepared_dir):
    built = JHumanEvalTask().requests(TaskInputs(prepared_dir, 0, None))
    assert built.protocol == "jhumaneval-humaneval-1"
    assert [r.key for r in built.requests] == [r["task_id"] for r in RECORDS]
    first = built.requests[0]
    assert first.prompt == RECORDS[0]["prompt"] and first.target == RECORDS[0]["test"] and not first.is_chat
    assert first.stop == STOP == ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
    assert (first.max_tokens, first.temperature, first.sample) == (1024, 0.0, 0)
    assert first.payload() == {"kind": "completion", "prompt": RECORDS[0]["prompt"], "max_tokens": 1024,
                               "temperature": 0.0, "stop": list(STOP)}


def test_samples_are_requests_of_their_own_kept_together_by_the_limit(prepared_dir):
    task = JHumanEvalTask()
    built = task.requests(TaskInputs(prepared_dir, 0, 2, args={"samples": 3, "temperature": 0.8, "prompt": "en"}))
    assert built.protocol == "jhumaneval-humaneval-1/en/n3-t0.8"
    assert [(r.key, r.sample) for r in built.requests] == [
        ("JHumanEval/0", 0), ("JHumanEval/0#1", 1), ("JHumanEval/0#2", 2),
        ("JHumanEval/1", 0), ("JHumanEval/1#1", 1), ("JHumanEval/1#2", 2)]
    assert built.requests[0].prompt == RECORDS[0]["prompt_en"]
    assert len({json.dumps(r.payload(), sort_keys=True) for r in built.requests}) == 6
    all_of_them = task.requests(TaskInputs(prepared_dir, 0, None, args={"samples": 3, "temperature": 0.8}))
    assert first_items(all_of_them.requests, 2) == tuple(
        r for r in all_of_them.requests if r.metadata["task_id"] in ("JHumanEval/0", "JHumanEval/1"))
    greedy = task.requests(TaskInputs(prepared_dir, 0, None)).prompt_fingerprint
    assert len({greedy, built.prompt_fingerprint, all_of_them.prompt_fingerprint}) == 3


def test_several_greedy_samples_are_refused(prepared_dir):
    with pytest.raises(JevalError, match="3 samples at temperature 0"):
        JHumanEvalTask().requests(TaskInputs(prepared_dir, 0, None, args={"samples": 3}))


def test_scoring_a_task_fills_rows_with_verdicts_and_pass_counts(prepared_dir):
    task = JHumanEvalTask(config=FAST)
    built = task.requests(TaskInputs(prepared_dir, 0, 2, args={"samples": 2, "temperature": 0.5}))
    outputs = {("JHumanEval/0", 0): "    return a + b\n", ("JHumanEval/0", 1): "    return a * b\n",
               ("JHumanEval/1", 0): "    return s\n", ("JHumanEval/1", 1): "    return s[::-1]\n"}
    answered = [(r, outputs[(r.metadata["task_id"], r.sample)]) for r in built.requests]
    scores = task.score_all(answered)
    assert [(s["passed"], s["problem_passed"], s["problem_samples"]) for s in scores] == [
        (True, 1, 2), (False, 1, 2), (False, 0, 2), (False, 0, 2)]
    metrics = task.aggregate([{**s, **r.metadata} for s, (r, _) in zip(scores, answered)])
    assert metrics["pass@1"] == pytest.approx(0.25) and metrics["passed_samples"] == 0.25
    assert metrics["sandbox"]["network"] == "none" and metrics["sandbox"]["scoring"]["rounds"] == 8
    assert metrics["sandbox"]["limits"]["cpu_s"] == 2


def test_without_a_sandbox_nothing_is_run_and_the_reason_is_recorded(prepared_dir, monkeypatch):
    def refuse(cls, bwrap=None):
        raise SandboxUnavailable("bwrap (bubblewrap) is not installed")

    monkeypatch.setattr(Sandbox, "create", classmethod(refuse))
    task = JHumanEvalTask(config=FAST)
    request = task.requests(TaskInputs(prepared_dir, 0, 1)).requests[0]
    [score] = task.score_all([(request, "    return a + b\n")])
    assert score["passed"] is None and "bubblewrap" in score["result"]
    metrics = task.aggregate([score])
    assert metrics["pass@1"] is None and "bwrap (bubblewrap) is not installed" in metrics["unavailable"]["pass@1"]
    [column] = task.columns({"metrics": metrics})
    assert column.value is None and column.notes[0][0] == "not scored"


def test_score_of_one_answer_is_its_verdict(prepared_dir):
    task = JHumanEvalTask(config=FAST)
    request: Request = task.requests(TaskInputs(prepared_dir, 0, 1)).requests[0]
    assert task.score(request, "    return a + b\n")["passed"] is True


# The data file

def test_the_known_defect_of_problem_64_is_repaired_and_said():
    broken = {**RECORDS[0], "task_id": "JHumanEval/64", "entry_point": "vowels_count",
              "prompt": '\nFIX = """\nAdd more test cases.\n"""def vowels_count(s):\n    """母音の数"""\n',
              "canonical_solution": "    return sum(c in 'aeiou' for c in s)\n"}
    broken["prompt_en"] = broken["prompt"]
    record = check_record(broken, "f:1")
    assert record["prompt"] == '\nFIX = """\nAdd more test cases.\n"""\n\n\ndef vowels_count(s):\n    """母音の数"""\n'
    assert len(record["repairs"]) == 2 and record["prompt_en"] == record["prompt"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r.pop("test"), "f.jsonl.gz:2: a problem needs test"),
    (lambda r: r.update(entry_point="nope"), "gz:2: JHumanEval/1: prompt does not define the entry point nope()"),
    (lambda r: r.update(test="def checks(candidate):\n    pass\n"), "JHumanEval/1: test does not define check("),
    (lambda r: r.update(prompt_en="def unrotate(s:\n"), "JHumanEval/1: prompt_en is not valid Python"),
    (lambda r: r.update(prompt=7), "f.jsonl.gz:2: prompt must be text"),
    (lambda r: r.update(task_id="JHumanEval/0"), "f.jsonl.gz:2: task_id JHumanEval/0 appears twice"),
    (lambda r: r.update(entry_point="a b"), "entry_point 'a b' is not a Python name"),
    (lambda r: r.update(test=r["test"].replace("candidate(rotate(text))", "eval(candidate(rotate(text)))")),
     "JHumanEval/1: test calls eval(), which would run the candidate's values as code where the verdict is made"),
])
def test_a_malformed_record_is_an_error_naming_the_line(tmp_path, change, message):
    records = [dict(r) for r in RECORDS]
    change(records[1])
    with pytest.raises(JevalError) as caught:
        read_upstream(write_upstream(tmp_path / "f.jsonl.gz", records))
    assert message in str(caught.value)


def test_a_file_that_is_not_gzip_or_not_json_lines_is_an_error(tmp_path):
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text("{}\n")
    with pytest.raises(JevalError, match="not a gzip file"):
        read_upstream(plain)
    with pytest.raises(JevalError, match=r"bad.jsonl.gz:2: not valid JSON"):
        read_upstream(write_upstream(tmp_path / "bad.jsonl.gz", lines=[json.dumps(RECORDS[0]), "{oops"]))
    with pytest.raises(JevalError, match="holds no problems"):
        read_upstream(write_upstream(tmp_path / "empty.jsonl.gz", lines=[""]))


def test_prepared_counts(prepared_dir):
    assert JHumanEvalTask().prepared_counts(prepared_dir) == {"test": len(RECORDS)}
    assert (prepared_dir / PREPARED).exists()
