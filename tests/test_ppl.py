"""Perplexity on corpora (`jeval run --tasks ppl`, `jeval.tasks.ppl.evaluate_corpus`): the loss is
the model's own loss on the same windows, the windows score every token once, bits per character
barely move when a text is cut into documents, and backends that cannot give prompt
log-probabilities are named as such."""

from __future__ import annotations

import http.server
import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from conftest import error_lines, jeval
from http_support import JsonHandler

from jeval.tasks.ppl.loss import CorpusLoss
from jeval.tasks.ppl.score import CorpusWindows, document_ids, evaluate_corpus, jobs_for
from jeval.tasks.ppl.windows import plan_windows

FIXTURES = Path(__file__).parent / "fixtures" / "ppl"
JA_WEB = Path(__file__).parents[1] / "models" / "train" / "examples" / "data" / "ja_web.jsonl"
"""The trainer's own example text (the tiny checkpoint learnt from it, so its losses are sane)."""


@pytest.fixture(scope="module")
def tiny(tiny_checkpoint):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_checkpoint).eval(), AutoTokenizer.from_pretrained(tiny_checkpoint)


def ja_web_text(n_docs: int = 40) -> str:
    lines = JA_WEB.read_text(encoding="utf-8").splitlines()[:n_docs]
    return "".join(json.loads(line)["text"] for line in lines)


def fixture_texts() -> list[str]:
    docs = [json.loads(line)["text"] for line in (FIXTURES / "ja.jsonl").read_text(encoding="utf-8").splitlines()]
    return [*docs, (FIXTURES / "en.txt").read_text(encoding="utf-8")]


@pytest.mark.parametrize("n_tokens,max_length,stride", [(2, 4, 3), (10, 4, 1), (100, 16, 15), (100, 16, 5),
                                                        (17, 16, 15), (16, 16, 2), (1, 8, 7)])
def test_windows_score_every_token_but_the_prefix_exactly_once_with_context_before_it(n_tokens, max_length, stride):
    windows = plan_windows(n_tokens, max_length, stride)
    scored = [i for w in windows for i in range(w.first, w.end)]
    assert scored == list(range(1, n_tokens))
    for w in windows:
        assert 0 <= w.start < w.first <= w.end and w.length <= max_length
        assert w.start == max(0, w.end - max_length)  # as much context as the window allows


def test_a_corpus_held_as_tokens_reads_back_every_documents_windows_in_order():
    docs = [list(range(3990, 4030)), [7, 8, 9], list(range(300, 400)), [1]]
    spans = [plan_windows(len(d), 16, 5) for d in docs]
    held = CorpusWindows()
    for ids, windows in zip(docs, spans, strict=True):
        held.add(ids, windows)
    expected = [w for ids, windows in zip(docs, spans, strict=True) for w in jobs_for(ids, windows)]
    assert len(held) == len(expected) and list(held) == expected
    assert held[3:7] == expected[3:7] and held[-1] == expected[-1]


def test_loss_equals_the_models_own_loss_with_labels_on_the_same_windows(tiny):
    model, tokenizer = tiny
    texts = fixture_texts()
    found = evaluate_corpus(model, tokenizer, texts, max_length=32, stride=12, batch_size=4)
    nll, tokens, windows = 0.0, 0, 0
    with torch.no_grad():
        for text in texts:
            ids = document_ids(tokenizer, text)
            for w in plan_windows(len(ids), 32, 12):
                window = torch.tensor([ids[w.start:w.end]])
                labels = window.clone()
                labels[0, :w.first - w.start] = -100
                nll += float(model(input_ids=window, labels=labels).loss) * w.scored
                tokens += w.scored
                windows += 1
    assert found.windows == windows > len(texts)  # long texts took several overlapping windows
    assert found.tokens == tokens == sum(len(document_ids(tokenizer, t)) - 1 for t in texts)
    assert found.nll == pytest.approx(nll, rel=1e-5)
    assert found.loss == pytest.approx(nll / tokens, rel=1e-5)
    assert found.perplexity == pytest.approx(math.exp(nll / tokens), rel=1e-5)
    assert found.chars == sum(len(t) for t in texts) and found.bytes == sum(len(t.encode()) for t in texts)
    assert found.bits_per_char == pytest.approx(nll / math.log(2) / found.chars, rel=1e-5)
    assert found.bits_per_byte == pytest.approx(nll / math.log(2) / found.bytes, rel=1e-5)


def test_batching_and_document_order_do_not_change_the_figures(tiny):
    model, tokenizer = tiny
    texts = fixture_texts()
    one = evaluate_corpus(model, tokenizer, texts, max_length=48, batch_size=1)
    batched = evaluate_corpus(model, tokenizer, texts[::-1], max_length=48, batch_size=16)
    assert (batched.tokens, batched.chars, batched.windows) == (one.tokens, one.chars, one.windows)
    assert batched.nll == pytest.approx(one.nll, rel=1e-5)


def test_bits_per_char_barely_move_when_the_text_is_cut_into_documents(tiny):
    """Tolerance 3 % (relative). A cut changes what a model sees only where a document starts: the
    first tokens there are predicted from the prefix token instead of the text before them, and the
    tokenizer may split the characters at the cut differently. With 64-token disjoint windows the
    context already restarts every 63 tokens (14 times in this 868-token text), so 1 or 3 cuts add
    a handful of restarts to those; measured on the tiny checkpoint: +0.07 % and +1.1 %. Cutting
    into sentences (~15 characters each) is not covered: there almost every token is a document
    start and bits per character rise by 150 % for this model, as they would for any model."""
    model, tokenizer = tiny
    whole = ja_web_text()
    sentences = [s + "。" for s in whole.split("。") if s]
    assert "".join(sentences) == whole
    base = evaluate_corpus(model, tokenizer, [whole], max_length=64)
    for pieces in (2, 4):
        cut = ["".join(sentences[i * len(sentences) // pieces:(i + 1) * len(sentences) // pieces])
               for i in range(pieces)]
        split = evaluate_corpus(model, tokenizer, cut, max_length=64)
        assert split.chars == base.chars and split.documents == pieces
        assert split.bits_per_char == pytest.approx(base.bits_per_char, rel=0.03), pieces
        assert split.bits_per_byte == pytest.approx(base.bits_per_byte, rel=0.03), pieces


def test_more_context_per_prediction_lowers_the_loss_of_a_trained_model(tiny):
    model, tokenizer = tiny
    text = ja_web_text()
    disjoint = evaluate_corpus(model, tokenizer, [text], max_length=32)
    overlapping = evaluate_corpus(model, tokenizer, [text], max_length=32, stride=8)
    assert overlapping.tokens == disjoint.tokens and overlapping.windows > disjoint.windows
    assert overlapping.loss < disjoint.loss


def test_a_model_in_training_mode_is_scored_without_dropout_and_left_in_training_mode(tiny):
    model, tokenizer = tiny
    evaluated = evaluate_corpus(model, tokenizer, fixture_texts()[:2], max_length=32)
    model.train()
    try:
        again = evaluate_corpus(model, tokenizer, fixture_texts()[:2], max_length=32)
        assert model.training
    finally:
        model.eval()
    assert again.nll == pytest.approx(evaluated.nll, rel=1e-6)


def test_windows_are_scored_without_a_kv_cache_even_where_the_model_asks_for_one(tiny, tiny_checkpoint):
    """A cache would hold every layer's keys and values for a whole batch until its last layer, for
    nothing: no forward pass builds one, and the figures are the same to the last bit."""
    from transformers import AutoModelForCausalLM

    model, tokenizer = tiny
    caching = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, use_cache=True).eval()
    caches: list = []
    caching.get_decoder().register_forward_hook(lambda module, args, kwargs, out: caches.append(out.past_key_values),
                                                with_kwargs=True)
    texts = fixture_texts()
    assert evaluate_corpus(caching, tokenizer, texts, max_length=32) == evaluate_corpus(model, tokenizer, texts,
                                                                                        max_length=32)
    assert caches and all(cache is None for cache in caches)


def test_scoring_in_process_imports_no_http_client():
    """`evaluate_corpus` (the trainer's evaluation hook, the ppl benchmark) needs no HTTP; httpx
    would bring its command line's rich, pygments and click into every process that only scores."""
    code = "import sys, jeval.tasks.ppl.score; print(sorted({'httpx', 'openai', 'rich'} & set(sys.modules)))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_corpus_losses_add_up():
    a, b = CorpusLoss(10.0, 5, 8, 20, 1, 1), CorpusLoss(6.0, 3, 4, 4, 2, 3)
    total = a + b
    assert (total.nll, total.tokens, total.chars, total.bytes, total.documents,
            total.windows) == (16.0, 8, 12, 24, 3, 4)
    assert total.bits_per_byte == pytest.approx(16.0 / math.log(2) / 24)
    assert CorpusLoss(0.0, 0, 0, 0, 0, 0).as_dict()["perplexity"] is None


def run_ppl(tmp_path: Path, *args, cache: str = "cache.sqlite"):
    proc = jeval("run", "--tasks", "ppl", "--corpus", f"{FIXTURES / 'ja.jsonl'},{FIXTURES / 'en.txt'}",
                 "--lang", "ja,en", "--context-length", "32", "--stride", "12",
                 "--cache", tmp_path / cache, "--output", tmp_path / "out", *args)
    if proc.returncode != 0:
        return proc, None, None
    path = Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: "))
    rows = [json.loads(x) for x in (path.parent / "samples" / "ppl.jsonl").read_text(encoding="utf-8").splitlines()]
    return proc, json.loads(path.read_text()), rows


@pytest.fixture(scope="module")
def local_run(tiny_checkpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ppl-local")
    proc, results, rows = run_ppl(tmp, "--model", tiny_checkpoint, "--backend", "local")
    assert results is not None, proc.stderr[-3000:]
    return tmp, results, rows


def test_run_reports_the_corpus_per_language_and_per_file_as_evaluate_corpus_does(local_run, tiny):
    _, results, rows = local_run
    task = results["tasks"]["ppl"]
    model, tokenizer = tiny
    texts = fixture_texts()
    expected = evaluate_corpus(model, tokenizer, texts, max_length=32, stride=12)
    assert task["protocol"] == "jeval-ppl/1" and task["n_samples"] == len(texts) == len(rows)
    figures = [k for k in task["metrics"] if not k.endswith("_stderr")]
    assert figures[:4] == ["bits_per_byte", "bits_per_char", "loss", "perplexity"]
    assert task["metrics"]["bits_per_byte"] == pytest.approx(expected.bits_per_byte, rel=1e-5)
    assert task["counts"] == {"tokens": expected.tokens, "chars": expected.chars, "bytes": expected.bytes,
                              "documents": 6, "windows": expected.windows}
    assert task["window"] == {"context_length": 32, "stride": 12, "windows": expected.windows, "from_cache": 0}
    assert task["convention"]["name"] == "jeval"
    # the English line of ja.jsonl carries its own `lang`, which wins over the file's --lang
    english = [texts[3], texts[5]]
    en = evaluate_corpus(model, tokenizer, english, max_length=32, stride=12)
    assert task["languages"]["en"]["documents"] == 2
    assert task["languages"]["en"]["bits_per_char"] == pytest.approx(en.bits_per_char, rel=1e-5)
    assert task["metrics"]["bits_per_char,lang=en"] == pytest.approx(en.bits_per_char, rel=1e-5)
    assert task["corpora"]["ja.jsonl"]["documents"] == 5 and task["corpora"]["en.txt"]["documents"] == 1
    assert "bits_per_byte,corpus=en.txt" in task["metrics"]
    assert [r["lang"] for r in rows] == ["ja", "ja", "ja", "en", "ja", "en"]
    assert sum(r["nll"] for r in rows) == pytest.approx(expected.nll, rel=1e-5)
    assert task["data_sources"][1]["lang"] == "en" and len(task["data_fingerprint"]) == 64


def test_a_second_run_takes_every_window_from_the_cache(local_run, tiny_checkpoint):
    tmp, first, _ = local_run
    proc, again, _ = run_ppl(tmp, "--model", tiny_checkpoint, "--backend", "local")
    assert again is not None, proc.stderr[-3000:]
    window = again["tasks"]["ppl"]["window"]
    assert window["from_cache"] == window["windows"] > 0
    assert again["tasks"]["ppl"]["metrics"] == first["tasks"]["ppl"]["metrics"]


def test_lm_evals_convention_is_its_own_protocol_and_recorded_in_the_results(tiny_checkpoint, tiny, tmp_path):
    """The CLI end of `ppl.convention=lm-eval` (tests/test_ppl_lmeval.py holds it against lm-eval)."""
    proc = jeval("run", "--model", tiny_checkpoint, "--backend", "local", "--tasks", "ppl",
                 "--corpus", f"{FIXTURES / 'ja.jsonl'},{FIXTURES / 'en.txt'}", "--context-length", "32",
                 "--task-arg", "ppl.convention=lm-eval", "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(Path(proc.stdout.strip().splitlines()[-1].removeprefix("results: ")).read_text())
    task = results["tasks"]["ppl"]
    model, tokenizer = tiny
    expected = evaluate_corpus(model, tokenizer, fixture_texts(), max_length=32, convention="lm-eval")
    assert task["protocol"] == "jeval-ppl/1/lm-eval-rolling"
    assert task["convention"]["name"] == "lm-eval" and "max_length=32" in task["convention"]["equals"]
    assert task["window"]["context_length"] == task["window"]["stride"] == 32
    assert task["counts"]["tokens"] == expected.tokens and task["counts"]["windows"] == expected.windows
    assert task["metrics"]["bits_per_byte"] == pytest.approx(expected.bits_per_byte, rel=1e-5)
    assert {c["protocol"] for c in results["columns"]} == {"jeval-ppl/1/lm-eval-rolling"}


def test_a_missing_corpus_file_is_one_error_line_before_any_model_is_loaded(tiny_checkpoint, tmp_path):
    proc = jeval("run", "--model", tiny_checkpoint, "--backend", "local", "--tasks", "ppl", "--corpus", "missing.jsonl",
                 "--cache", tmp_path / "c.sqlite", "--output", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert error_lines(proc) == ["jeval: error: --corpus missing.jsonl: file not found"]


@pytest.mark.parametrize("args,expected", [
    ({}, "the ppl task needs --corpus"),
    ({"corpus": (str(FIXTURES / "en.txt"),), "lang": ("ja", "en")}, "--lang gives 2 languages for 1 corpus files"),
    ({"corpus": (str(FIXTURES / "en.txt"),), "context_length": ("16",), "stride": ("16",)},
     "--stride must be between 1 and 15"),
    ({"corpus": (str(FIXTURES / "en.txt"),), "stride": ("0",)}, "--stride must be 1 or more"),
    ({"corpus": (str(FIXTURES / "en.txt"),), "context_length": ("0",)}, "ppl.context_length: must be 1 or more"),
    ({"corpus": (str(FIXTURES / "en.txt"), str(FIXTURES / "en.txt"))}, "corpus files must have distinct names"),
    ({"corpus": (str(FIXTURES / "ja.jsonl.broken"),)}, "file not found"),
    ({"corpus": (str(FIXTURES / "en.txt"),), "window": ("3",)}, "takes no argument ppl.window"),
    ({"corpus": (str(FIXTURES / "en.txt"),), "convention": ("lm_eval",)},
     "--task-arg ppl.convention: must be jeval or lm-eval, got 'lm_eval'"),
    ({"corpus": (str(FIXTURES / "en.txt"),), "convention": ("lm-eval",), "stride": ("8",)},
     "ppl.stride does not apply to the lm-eval convention"),
])
def test_corpus_settings_are_checked_when_the_run_is_planned(args, expected, tmp_path):
    from jeval.errors import JevalError
    from jeval.planning import plan
    from jeval.registry import load_registry

    tasks = load_registry().resolve(["ppl"])
    with pytest.raises(JevalError, match=expected):
        plan(tasks, data_dir=tmp_path, shots=None, limit=None, variant=None, args={"ppl": args})


@pytest.mark.parametrize("convention,protocol", [((), "jeval-ppl/1"), (("jeval",), "jeval-ppl/1"),
                                                 (("lm-eval",), "jeval-ppl/1/lm-eval-rolling")])
def test_each_convention_is_planned_under_its_own_protocol(convention, protocol, tmp_path):
    from jeval.planning import plan
    from jeval.registry import load_registry

    args = {"corpus": (str(FIXTURES / "en.txt"),), **({"convention": convention} if convention else {})}
    planned = plan(load_registry().resolve(["ppl"]), data_dir=tmp_path, shots=None, limit=None, variant=None,
                   args={"ppl": args})
    assert [p.protocol for p in planned.tasks] == [protocol]


def test_a_corpus_line_without_text_is_named_by_file_and_line(tmp_path):
    from jeval.errors import JevalError
    from jeval.tasks.ppl.corpus import CorpusFile, read_corpus

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text"}\n', encoding="utf-8")
    with pytest.raises(JevalError, match=r"bad.jsonl, line 2: expected an object with a string `text` field"):
        read_corpus(CorpusFile(bad, "ja"))


def test_transformers_serve_is_refused_with_the_backends_that_can(served, tmp_path):
    proc, results, _ = run_ppl(tmp_path, "--base-url", served.base_url, "--model-id", served.model_id)
    assert results is None and proc.returncode == 2
    line = error_lines(proc)[-1]
    assert line.startswith("jeval: error: ppl needs the log-probabilities of the corpus tokens")
    assert "--backend local" in line and "422" in line and "vllm serve" in line


class PromptLogprobServer:
    """Stand-in for `vllm serve` (which cannot run on this CPU-only machine): answers completions
    with `echo` + `logprobs` as vLLM does, from the real tiny checkpoint, prompts given as token ids."""

    def __init__(self, model, model_id: str):
        seen = self.seen = []

        class Handler(JsonHandler):
            def do_GET(self):
                self._send({"object": "list", "data": [{"id": model_id, "object": "model"}]})

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen.append(request)
                ids = request["prompt"]
                with torch.no_grad():
                    logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
                picked = [None] + [float(logprobs[i - 1, t]) for i, t in enumerate(ids) if i > 0]
                following = int(logprobs[-1].argmax())
                self._send({"id": "cmpl-1", "object": "text_completion", "created": 0, "model": model_id,
                            "choices": [{"index": 0, "text": "", "finish_reason": "length", "logprobs": {
                                "tokens": [str(t) for t in [*ids, following]],
                                "token_logprobs": [*picked, float(logprobs[-1, following])],
                                "top_logprobs": [None] + [{str(t): p} for t, p in zip(ids[1:], picked[1:])]
                                + [{str(following): float(logprobs[-1, following])}],
                                "text_offset": list(range(len(ids) + 1))}}],
                            "usage": {"prompt_tokens": len(ids), "completion_tokens": 1,
                                      "total_tokens": len(ids) + 1}})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_server_with_prompt_logprobs_gives_the_in_process_figures(local_run, tiny, tiny_checkpoint, tmp_path):
    server = PromptLogprobServer(tiny[0], str(tiny_checkpoint))
    try:
        proc, results, _ = run_ppl(tmp_path, "--base-url", server.url, "--model-id", tiny_checkpoint,
                                   cache="fresh.sqlite")
    finally:
        server.close()
    assert results is not None, proc.stderr[-3000:]
    served, local = results["tasks"]["ppl"], local_run[1]["tasks"]["ppl"]
    assert all(isinstance(r["prompt"], list) and r["echo"] and r["logprobs"] for r in server.seen)
    assert len(server.seen) == served["window"]["windows"] == local["window"]["windows"]
    def known(metrics):  # a standard error over fewer than two documents is None
        return {k: v for k, v in metrics.items() if v is not None}

    assert served["metrics"].keys() == local["metrics"].keys()
    assert known(served["metrics"]) == pytest.approx(known(local["metrics"]), rel=1e-4)
