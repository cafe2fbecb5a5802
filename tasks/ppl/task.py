"""The `ppl` task: corpus files named on the command line, scored window by window by the run's
model through the run's executor (so windows are cached), reported per corpus file and per language."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jeval.errors import JevalError
from jeval.models.model import CAPABLE, Unscorable, Window
from jeval.task import (
    Capability,
    ColumnValue,
    Harness,
    HarnessContext,
    HarnessTask,
    PlannedTask,
    TaskArg,
    TaskOutcome,
    TaskSpec,
    finite,
)
from jeval.tasks.ppl.corpus import Document, corpus_files, read_corpus
from jeval.tasks.ppl.loss import NOTHING, CorpusLoss
from jeval.tasks.ppl.windows import check_stride, plan_windows

log = logging.getLogger(__name__)

PROTOCOL = "jeval-ppl/1"
FIGURES = ("bits_per_byte", "bits_per_char", "loss", "perplexity")
TEXT_SHOWN = 200
TRANSFORMERS_SERVE = ("`transformers serve` cannot give them (it answers 422 to prompt_logprobs and 500 to echo with "
                      "max_tokens=0, and ignores logprobs otherwise)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be 1 or more, got {value}")
    return value


ARGS = (
    TaskArg("corpus", "corpus files: JSON Lines with a `text` field (and optionally `lang`), or plain text",
            repeated=True),
    TaskArg("lang", "the language of every corpus file, or one per file (a record's `lang` wins)", repeated=True),
    TaskArg("stride", "tokens scored per sliding window after the first (default: context length - 1)", int),
    TaskArg("context_length", "window length in tokens (default: the model's maximum)", _positive),
)


def cannot(why: str) -> JevalError:
    return JevalError(f"ppl needs the log-probabilities of the corpus tokens, which {why}; {CAPABLE}")


def _documents(args: Mapping[str, Any], limit: int | None) -> list[Document]:
    """Every corpus file's documents (the first `limit` of each with --limit)."""
    return [d for f in corpus_files(args.get("corpus", ()), args.get("lang", ())) for d in read_corpus(f)[:limit]]


def _fingerprint(docs: list[Document]) -> str:
    h = hashlib.sha256()
    for d in docs:
        for part in (d.corpus, d.lang, d.text):
            h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()


def _window_payload(window: Window) -> dict[str, Any]:
    """Keys a window's cached loss: its tokens (by hash) and where scoring starts."""
    digest = hashlib.sha256(",".join(map(str, window.ids)).encode()).hexdigest()
    return {"kind": "window_nll", "tokens_sha256": digest, "n_tokens": len(window.ids),
            "score_from": window.score_from}


class PplHarness(Harness):
    name = "ppl"

    async def evaluate(self, planned: list[PlannedTask], context: HarnessContext) -> dict[str, TaskOutcome]:
        from jeval.executor import Job
        from jeval.tasks.ppl.score import context_length, document_ids, jobs_for, text_size

        (p,) = planned
        args = p.args
        docs = _documents(args, p.limit)
        model = context.model
        try:
            tokenizer = model.tokenizer()
            length = context_length(model.model_config(), tokenizer, args.get("context_length"))
        except Unscorable as e:
            raise cannot(e.why) from None
        stride = length - 1 if args.get("stride") is None else args["stride"]
        check_stride(stride, length)
        windows: list[Window] = []
        owner: list[int] = []
        sizes = []
        for i, doc in enumerate(docs):
            ids = document_ids(tokenizer, doc.text)
            planned_windows = plan_windows(len(ids), length, stride)
            windows.extend(jobs_for(ids, planned_windows))
            owner.extend([i] * len(planned_windows))
            sizes.append((len(ids) - 1, len(planned_windows)))
        jobs = [Job(_window_payload(w), "ppl") for w in windows]
        by_payload = {id(job): w for job, w in zip(jobs, windows, strict=True)}

        async def score(missing: list[Job]) -> list[dict[str, Any]]:
            chosen = [by_payload[id(job)] for job in missing]
            try:
                found = await model.window_nll(chosen)
            except Unscorable as e:
                raise cannot(f"{e.why}; {TRANSFORMERS_SERVE}") from None
            return [{"nll": value, "tokens": w.scored} for value, w in zip(found, chosen, strict=True)]

        outcomes = await context.executor.run_batched(jobs, score, desc="scoring windows")
        cached = sum(1 for o in outcomes if o.cached)
        log.info("ppl: %d documents, %d windows of up to %d tokens (stride %d), %d from the cache",
                 len(docs), len(windows), length, stride, cached)
        per_doc = [0.0] * len(docs)
        for i, outcome in zip(owner, outcomes, strict=True):
            per_doc[i] += float((outcome.response or {})["nll"])
        losses = []
        for doc, total, (tokens, n_windows) in zip(docs, per_doc, sizes, strict=True):
            chars, size = text_size(doc.text)
            losses.append(CorpusLoss(total, tokens, chars, size, 1, n_windows))
        return {p.task.spec.name: _outcome(docs, losses, length, stride, len(windows), cached)}


def _outcome(docs: list[Document], losses: list[CorpusLoss], length: int, stride: int, windows: int,
             cached: int) -> TaskOutcome:
    by_corpus: dict[str, CorpusLoss] = defaultdict(lambda: NOTHING)
    by_lang: dict[str, CorpusLoss] = defaultdict(lambda: NOTHING)
    for doc, loss in zip(docs, losses, strict=True):
        by_corpus[doc.corpus] += loss
        by_lang[doc.lang] += loss
    overall = sum(losses, NOTHING)
    metrics = {k: v for k, v in overall.as_dict().items() if k in FIGURES}
    for axis, table in (("lang", by_lang), ("corpus", by_corpus)):
        if len(table) > 1 or axis == "lang":
            for name, loss in table.items():
                metrics.update({f"{k},{axis}={name}": v for k, v in loss.as_dict().items() if k in FIGURES})
    rows = [{"key": doc.key, "corpus": doc.corpus, "lang": doc.lang, **loss.as_dict(),
             "nll": loss.nll, "text_start": doc.text[:TEXT_SHOWN]} for doc, loss in zip(docs, losses, strict=True)]
    return TaskOutcome(metrics, rows, len(docs), "", {"kind": "teacher-forced log-likelihood"}, shots=0, extra={
        "counts": {k: v for k, v in overall.as_dict().items() if k not in FIGURES},
        "languages": {name: loss.as_dict() for name, loss in sorted(by_lang.items())},
        "corpora": {name: loss.as_dict() for name, loss in by_corpus.items()},
        "window": {"context_length": length, "stride": stride, "windows": windows, "from_cache": cached},
    })


HARNESS = PplHarness()
NEEDS: frozenset[Capability] = frozenset({"token_logprobs"})


@dataclass(frozen=True)
class PplTask(HarnessTask):
    """Perplexity on `--corpus` files; needs no `jeval data prepare`."""

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("ppl", "PPL", PROTOCOL, "ppl", needs=NEEDS, args=ARGS, prepared=False)

    @property
    def harness(self) -> Harness:
        return HARNESS

    def run_inputs(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """The corpus files, read now so that a missing or malformed file fails before any model is
        loaded; their fingerprint stands in for a prepared-data fingerprint."""
        stride, length = args.get("stride"), args.get("context_length")
        if stride is not None and length is not None:
            check_stride(stride, length)
        elif stride is not None and stride < 1:
            raise JevalError(f"--stride must be 1 or more, got {stride}")
        docs = _documents(args, None)
        files = corpus_files(args.get("corpus", ()), args.get("lang", ()))
        return {"data_fingerprint": _fingerprint(docs),
                "sources": [{"path": str(f.path.resolve()), "lang": f.lang} for f in files]}

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        """Bits per byte per language: comparable across tokenizers, lower is better."""
        languages = result.get("languages")
        if not isinstance(languages, dict):
            return []
        return [ColumnValue(f"bits/byte {lang}", "ppl",
                            finite(figures.get("bits_per_byte")) if isinstance(figures, dict) else None,
                            kind="bits", order=order, tasks=("ppl",))
                for order, (lang, figures) in enumerate(sorted(languages.items()))]
