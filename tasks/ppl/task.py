"""The `ppl` task: corpus files named on the command line, scored window by window by the run's
model through the run's executor (so windows are cached), reported per corpus file and per language.

Two conventions (jeval.tasks.ppl.conventions), never one leaderboard column:
- `jeval` (default, protocol `jeval-ppl/1`): the prefix token then the text without special
  tokens, windows of `context_length` tokens. With the default stride it equals lm-eval 0.4.13's
  `HFLM.loglikelihood_rolling` with `add_bos_token=False` and `max_length=context_length - 1`.
- `lm-eval` (`--task-arg ppl.convention=lm-eval`, protocol `jeval-ppl/1/lm-eval-rolling`): equals
  `HFLM.loglikelihood_rolling` with lm-eval's defaults and `max_length=context_length` (BOS twice
  where the tokenizer adds BOS; the default length read as lm-eval reads it; no stride)."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
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
from jeval.tasks.ppl.conventions import CONVENTIONS, DEFAULT, Convention, convention_name
from jeval.tasks.ppl.corpus import Document, corpus_files, read_corpus
from jeval.tasks.ppl.loss import NOTHING, CorpusLoss
from jeval.tasks.ppl.stderr import with_stderrs

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
    TaskArg("context_length", "window length in tokens (default: the model's maximum); with the lm-eval "
            "convention, lm-eval's max_length (tokens the model reads per window)", _positive),
    TaskArg("convention", "jeval (default) or lm-eval: score as lm-eval's HFLM.loglikelihood_rolling does with its "
            "defaults (its own protocol)", convention_name),
)


def cannot(why: str) -> JevalError:
    return JevalError(f"ppl needs the log-probabilities of the corpus tokens, which {why}; {CAPABLE}")


def _convention(args: Mapping[str, Any]) -> Convention:
    return CONVENTIONS[args.get("convention", DEFAULT.name)]


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
        from jeval.tasks.ppl.score import context_length, jobs_for, text_size

        (p,) = planned
        args = p.args
        chosen_convention = _convention(args)
        docs = _documents(args, p.limit)
        model = context.model
        try:
            tokenizer = model.tokenizer()
            length = context_length(model.model_config(), tokenizer, args.get("context_length"), chosen_convention)
        except Unscorable as e:
            raise cannot(e.why) from None
        stride = chosen_convention.stride(length, args.get("stride"))
        windows: list[Window] = []
        owner: list[int] = []
        sizes = []
        for i, doc in enumerate(docs):
            ids = chosen_convention.document_ids(tokenizer, doc.text)
            planned_windows = chosen_convention.windows(len(ids), length, stride)
            windows.extend(jobs_for(ids, planned_windows))
            owner.extend([i] * len(planned_windows))
            sizes.append((len(ids) - 1, len(planned_windows)))
        jobs = [Job(_window_payload(w), "ppl") for w in windows]
        by_payload = {id(job): w for job, w in zip(jobs, windows, strict=True)}

        async def score(missing: list[Job]) -> AsyncIterator[tuple[int, dict[str, Any]]]:
            chosen = [by_payload[id(job)] for job in missing]
            try:
                found = await model.window_nll(chosen)
            except Unscorable as e:
                raise cannot(f"{e.why}; {TRANSFORMERS_SERVE}") from None
            for i, (value, w) in enumerate(zip(found, chosen, strict=True)):
                yield i, {"nll": value, "tokens": w.scored}

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
        result = _outcome(docs, losses, length, stride, len(windows), cached)
        result.extra["convention"] = {"name": chosen_convention.name,
                                      "equals": chosen_convention.describe(length, stride)}
        return {p.task.spec.name: result}


def _outcome(docs: list[Document], losses: list[CorpusLoss], length: int, stride: int, windows: int,
             cached: int) -> TaskOutcome:
    by_corpus: dict[str, CorpusLoss] = defaultdict(lambda: NOTHING)
    by_lang: dict[str, CorpusLoss] = defaultdict(lambda: NOTHING)
    members: dict[str, list[CorpusLoss]] = defaultdict(list)
    for doc, loss in zip(docs, losses, strict=True):
        by_corpus[doc.corpus] += loss
        by_lang[doc.lang] += loss
        for group in ("", f"lang={doc.lang}", f"corpus={doc.corpus}"):
            members[group].append(loss)
    overall = sum(losses, NOTHING)
    metrics = {k: v for k, v in overall.as_dict().items() if k in FIGURES}
    for axis, table in (("lang", by_lang), ("corpus", by_corpus)):
        if len(table) > 1 or axis == "lang":
            for name, loss in table.items():
                metrics.update({f"{k},{axis}={name}": v for k, v in loss.as_dict().items() if k in FIGURES})
    metrics, stderr = with_stderrs(metrics, members)
    rows = [{"key": doc.key, "corpus": doc.corpus, "lang": doc.lang, **loss.as_dict(),
             "nll": loss.nll, "text_start": doc.text[:TEXT_SHOWN]} for doc, loss in zip(docs, losses, strict=True)]
    return TaskOutcome(metrics, rows, len(docs), "", {"kind": "teacher-forced log-likelihood"}, shots=0, extra={
        "counts": {k: v for k, v in overall.as_dict().items() if k not in FIGURES},
        "languages": {name: loss.as_dict() for name, loss in sorted(by_lang.items())},
        "corpora": {name: loss.as_dict() for name, loss in by_corpus.items()},
        "window": {"context_length": length, "stride": stride, "windows": windows, "from_cache": cached},
        "stderr": stderr,
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
        _convention(args).check(length, stride)
        docs = _documents(args, None)
        files = corpus_files(args.get("corpus", ()), args.get("lang", ()))
        return {"data_fingerprint": _fingerprint(docs),
                "sources": [{"path": str(f.path.resolve()), "lang": f.lang} for f in files]}

    def protocol_for(self, args: Mapping[str, Any]) -> str:
        """`jeval-ppl/1`, or `jeval-ppl/1/lm-eval-rolling` under lm-eval's convention."""
        return PROTOCOL + _convention(args).protocol_suffix

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        """Bits per byte per language: comparable across tokenizers, lower is better."""
        languages = result.get("languages")
        if not isinstance(languages, dict):
            return []
        return [ColumnValue(f"bits/byte {lang}", "ppl",
                            finite(figures.get("bits_per_byte")) if isinstance(figures, dict) else None,
                            kind="bits", order=order, tasks=("ppl",))
                for order, (lang, figures) in enumerate(sorted(languages.items()))]
