"""The task contract: what a benchmark declares and the three kinds of task the runner runs.

Everything a task says about itself that the core acts on is data in its `TaskSpec`: category,
protocol, default shots and item limit, the model capabilities it needs, its prompt variants, the
arguments it accepts (`--task-arg FAMILY.KEY=VALUE`). What a task does is one of three kinds:

- `GenerationTask`: prepared items -> requests -> answers -> a score per answer -> metrics.
- `DialogueTask`: a generation task whose next turn depends on the last answer (`follow_up`).
- `HarnessTask`: evaluated by a harness of its own (lm-eval, the perplexity scorer) that asks the
  run's model through the run's executor, so the cache, accounting and identity rules still hold.

Every kind can declare leaderboard columns (`columns`) and files of its own (`write_outputs`); the
defaults are one column for the task's primary metric and no files. Suites that summarise several
tasks (Jaster's AVG, the JGLUE mean) are `Suite`s, declared by the plugin beside its tasks.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from jeval.errors import JevalError
from jeval.source_status import SourceStatus

if TYPE_CHECKING:
    from jeval.data.download import Checkout
    from jeval.executor import Executor
    from jeval.models.model import Model

Capability = Literal["generate", "chat", "loglikelihood", "token_logprobs"]
"""What a model can be asked: a completion of a text prompt, a chat completion, the log-likelihood
of a continuation given a context, the log-probabilities of a given sequence of token ids."""

ColumnKind = Literal["score", "score_low", "rating", "interval", "count", "bits"]


@dataclass(frozen=True)
class Source:
    """One upstream file, pinned by URL and SHA-256.

    An empty `sha256` marks a file whose checksum the project could not establish: it is
    accepted on first download and its checksum recorded in the prepared manifest.
    `defines_prompt` marks a file whose text becomes part of the prompts (instructions, prompt
    frames, few-shot exemplars): where it did not come from upstream, the run says so in its
    protocol name.
    """

    url: str
    sha256: str
    license: str
    unavailable: str = ""
    """Set where upstream no longer serves the file: how a user supplies it instead; added to
    any failed download of it."""
    defines_prompt: bool = False
    alternatives: tuple[str, ...] = ()
    """Other URLs of the same file (another layout of the same release), tried in order where
    the first is absent; the prepared manifest records the one that was found."""
    optional: str = ""
    """Set where the task can be prepared without this file: what it then lacks (e.g. "no train
    split: zero-shot only"). A missing optional file is recorded, not an error."""
    status: SourceStatus | None = None
    """Whether upstream still serves it and whether it is gated (`jeval.source_status`): set for
    every source of jeval's own tasks; None (shown as not checked) for one declared without it."""

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.alternatives)

    @property
    def mirror_path(self) -> str:
        return mirror_path(self.url)


def mirror_path(url: str) -> str:
    """Where a file sits in a mirror: `HOST/PATH` for `https://HOST/PATH`."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


SAMPLING = ("top_p", "top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty")
"""Sampling settings a request may carry beyond its temperature, under the names vLLM and the
OpenAI API give them; a request carries only those set, so that one without them is what it was
before they existed (same payload, same cache key)."""
TRUNCATION = ("top_p", "top_k", "min_p")
"""Among SAMPLING, the settings that only narrow what sampling draws from: no-ops for a greedy request."""


@dataclass(frozen=True)
class Request:
    """One generation request. `key` identifies the item within its task.

    With `messages` the request is a chat completion (the server applies the model's chat
    template) and `prompt` is only a readable rendering of it for the samples file; without,
    `prompt` is sent as it is to the completions endpoint.
    """

    task: str
    key: str
    prompt: str
    max_tokens: int
    target: str
    temperature: float = 0.0
    stop: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    messages: tuple[dict[str, str], ...] = ()
    sample: int = 0
    """Which of several samples drawn for one item (pass@k): a sample above 0 is part of the
    payload, so each sample is its own cache entry."""
    sampling: dict[str, float] = field(default_factory=dict)
    """Settings among SAMPLING given for this request (none by default), each part of the payload."""

    @property
    def is_chat(self) -> bool:
        return bool(self.messages)

    def payload(self, seed: int | None = None) -> dict[str, Any]:
        """What is sent to the model; with the model's identity, it keys the generation cache.

        A run's `seed` is sent only with a sampled request (temperature > 0), plus the sample's
        index so that an item's samples differ: a greedy request's payload, and so its cache key,
        is the same with or without a seed."""
        asked: dict[str, Any] = ({"kind": "chat", "messages": [dict(m) for m in self.messages]} if self.is_chat
                                 else {"kind": "completion", "prompt": self.prompt})
        asked.update(max_tokens=self.max_tokens, temperature=self.temperature, stop=list(self.stop))
        asked.update((name, self.sampling[name]) for name in SAMPLING if name in self.sampling)
        if self.sample:
            asked["sample"] = self.sample
        if seed is not None and self.temperature > 0:
            asked["seed"] = seed + self.sample
        return asked


@dataclass(frozen=True)
class TaskRequests:
    """A task's requests and a hash of everything in its prompts that is not the test item;
    `protocol` names a prompt variant when one was asked for (else the task's own protocol)."""

    requests: list[Request]
    prompt_fingerprint: str
    protocol: str | None = None


@dataclass(frozen=True)
class TaskArg:
    """An argument a task family accepts: `--task-arg FAMILY.NAME=VALUE` (repeatable for lists)."""

    name: str
    help: str
    parse: Callable[[str], Any] = str
    repeated: bool = False
    """Values given several times (or comma-separated) make a tuple."""


@dataclass(frozen=True)
class TaskSpec:
    """What a task declares about itself; the core reads this and nothing else."""

    name: str
    category: str
    protocol: str
    family: str
    """The plugin family: names task arguments (`--task-arg FAMILY.KEY=...`) and groups the
    task's leaderboard columns unless they say otherwise."""
    default_shots: int = 0
    default_limit: int | None = None
    """Test items asked by default (None: all); `--limit` overrides it."""
    needs: frozenset[Capability] = frozenset({"generate"})
    variants: tuple[str, ...] = ()
    """Prompt variants (`--variant`), each recorded as its own protocol."""
    reasoning_variants: tuple[str, ...] = ()
    """Variants among `variants` written for reasoning models: chosen, the task runs zero-shot and
    the run separates thinking blocks from answers (jeval.reasoning), as `--reasoning` does."""
    args: tuple[TaskArg, ...] = ()
    prepared: bool = True
    """Whether the task reads files made by `jeval data prepare` (else its inputs come with the run)."""
    primary_metric: str | None = None
    """The metric that stands for the task (None: the first the task reports)."""
    label: str | None = None
    """The task's leaderboard column label (default: its name)."""
    column_group: str | None = None
    """The leaderboard group of the task's column (default: its family)."""
    column_order: int = 0
    """Where the task's column sits in its group (then by label)."""

    def arg(self, name: str) -> TaskArg:
        for declared in self.args:
            if declared.name == name:
                return declared
        offered = ", ".join(a.name for a in self.args) or "none"
        raise JevalError(f"task {self.name!r} takes no argument {self.family}.{name} (it takes: {offered})")


@dataclass(frozen=True)
class TaskInputs:
    """Everything a task is given to build its requests."""

    data_dir: Path
    """The task's prepared folder (`<data dir>/<task>`)."""
    shots: int
    limit: int | None
    """Test items to ask (None: all); cut before prompts are built."""
    variant: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnValue:
    """One leaderboard cell a result declares: the value on the column's own scale (scores on
    0-1), the column it belongs to, and which tasks' data stand behind it."""

    label: str
    group: str
    value: float | None
    kind: ColumnKind = "score"
    order: int = 0
    protocol: str = ""
    shots: str | None = None
    """The few-shot count behind the value ("4"; "4; 0 for mbpp, xlsum_ja" where members differ)."""
    tasks: tuple[str, ...] = ()
    notes: tuple[tuple[str, str], ...] = ()
    """(note text, detail) pairs shown as numbered notes on the cell."""
    hidden_unless: str | None = None
    """A leaderboard option that must be on for the column to be shown (e.g. "lenient")."""

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "group": self.group, "value": self.value, "kind": self.kind,
                "order": self.order, "protocol": self.protocol, "shots": self.shots, "tasks": list(self.tasks),
                "notes": [list(n) for n in self.notes], "hidden_unless": self.hidden_unless}


@dataclass
class TaskOutcome:
    """What evaluating a task produced, before the runner adds what every result carries
    (protocol, data provenance, shots asked, limit)."""

    metrics: dict[str, Any]
    rows: list[dict[str, Any]]
    n_samples: int
    prompt_fingerprint: str
    decoding: dict[str, Any]
    shots: Any = None
    """The few-shot count the harness used, where it decides it (None: the one asked for)."""
    data_fingerprint: str | None = None
    """Overrides the prepared data's fingerprint where the harness loads data itself."""
    data_sources: list[Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Family-specific fields kept in the task's result as they are."""


class Task(ABC):
    """What every kind of task has: a spec, upstream sources to prepare, declared columns."""

    @property
    @abstractmethod
    def spec(self) -> TaskSpec:
        """The task's declaration (its name is `spec.name`)."""

    def sources(self) -> tuple[Source, ...]:
        """The upstream files `jeval data prepare` downloads for this task."""
        return ()

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        """Build the prepared files in `out_dir` from the downloaded `files` (keyed by URL; an
        optional source that could not be had is absent)."""
        raise JevalError(f"{self.spec.name}: nothing to prepare (its inputs are given to `jeval run`)")

    def prepared_counts(self, task_dir: Path) -> dict[str, int]:
        """Items per split of the prepared files, for the prepare report and the manifest."""
        return {}

    def run_inputs(self, args: Mapping[str, Any]) -> dict[str, Any] | None:
        """For a task whose inputs come with the run (`prepared=False`): check them now, before
        any model is loaded, and return their manifest (`data_fingerprint`, `sources`)."""
        return None

    def protocol_for(self, args: Mapping[str, Any]) -> str:
        """The protocol a run with these (parsed) task arguments is recorded under: the spec's,
        unless an argument changes what the scores mean (then its own name, never one column)."""
        return self.spec.protocol

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        """The leaderboard cells of one result of this task: by default its primary metric, and
        answer-format diagnostics where it reports them (shown with `--lenient`)."""
        metrics = result.get("metrics", {})
        primary = result.get("primary_metric")
        value = metrics.get(primary) if isinstance(primary, str) else None
        name = self.spec.name
        main = ColumnValue(self.spec.label or name, self.spec.column_group or self.spec.family, finite(value),
                           order=self.spec.column_order, tasks=(name,))
        return [main, *diagnostic_columns(name, result)]

    def write_outputs(self, rows: list[dict[str, Any]], run_dir: Path, results: Mapping[str, Any]) -> None:
        """Files of the task's own under `run_dir` (e.g. answers in another tool's format)."""
        return None


@dataclass(frozen=True)
class PrepareOptions:
    """How `jeval data prepare` builds a task's files, beyond where downloads come from."""

    upstream_text: bool = False
    """Take the prompt text from the upstream tool's own source files (see ChoosesPromptText)
    instead of jeval's own protocol."""
    upstream_checkout: Path | None = None
    """A local checkout or unpacked release of that tool, read instead of downloading its files."""
    preprocessed: Path | None = None
    """Another tool's preprocessed splits (see ImportsPreprocessed); implies `upstream_text`."""


class ChoosesPromptText(ABC):
    """A task with two prompt texts: jeval's own, written for jeval and recorded as jeval's own
    protocol (the default: it needs nothing but the data files), and an upstream tool's, read from
    that tool's source files and recorded as that tool's protocol."""

    @property
    @abstractmethod
    def upstream_text(self) -> bool:
        """Whether this is the upstream-text variant."""

    @abstractmethod
    def with_upstream_text(self) -> Task:
        """The same task with the upstream tool's prompt text: its sources include the files
        that define the text, its spec names the tool's protocol."""

    @abstractmethod
    def open_checkout(self, folder: Path) -> Checkout:
        """A local checkout or unpacked release of the upstream tool, read instead of downloading
        its files; a clear error where `folder` is not one (or holds another version)."""


class ImportsPreprocessed(ABC):
    """A task that can also take its splits from another tool's preprocessed files
    (`jeval data prepare --jaster-dir DIR` for Jaster, from llm-jp-eval's own preprocessing)."""

    @abstractmethod
    def preprocessed_sources(self) -> tuple[Source, ...]:
        """What is still downloaded when the splits come from the preprocessed files."""

    @abstractmethod
    def import_preprocessed(self, folder: Path, files: dict[str, Path], out_dir: Path) -> None:
        """Build the prepared files from the preprocessed `folder` and the downloaded `files`."""


class GenerationTask(Task):
    @abstractmethod
    def requests(self, inputs: TaskInputs) -> TaskRequests:
        """Read the prepared files and build one request per test item (the first `limit`); a
        task drawing several samples per item gives one per sample, an item's samples together."""

    @abstractmethod
    def score(self, request: Request, output: str) -> dict[str, Any]:
        """Score one answer: the extracted prediction and a value per metric."""

    def score_all(self, answered: Sequence[tuple[Request, str]]) -> list[dict[str, Any]]:
        """Score every answer of the task at once, in order: `score` for each by default; a task
        whose scoring is costly (code run in sandboxes, in parallel) or spans an item's samples
        (pass@k) overrides this."""
        return [self.score(request, output) for request, output in answered]

    @abstractmethod
    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, Any]:
        """Summarise per-item scores into the task's metrics."""

    item_field: str | None = None
    """For a task that scores several samples per item (pass@k): the score field naming the item,
    which `aggregate` groups by; standard errors then resample items, each with all its samples
    (jeval.stderr). None: every score is an item of its own."""

    def max_shots(self, task_dir: Path) -> int | None:
        """How many few-shot examples the prepared data can give (None: no limit known). A task
        whose prepared data has none runs zero-shot by default, and refuses `--shots N`."""
        return None


class DialogueTask(GenerationTask):
    """A task whose items are dialogues: the runner answers every first turn, then asks
    `follow_up` for each answered request, round by round, until no item has a next turn; every
    turn goes through the cache. Only the last turn of each item is scored; earlier turns live in
    its request's metadata."""

    @abstractmethod
    def follow_up(self, request: Request, output: str) -> Request | None:
        """The next turn after `output` answered `request`, or None when the dialogue is over."""


@dataclass(frozen=True)
class PlannedTask:
    """A task as the runner will evaluate it: what was asked and what it reads."""

    task: Task
    shots: int
    limit: int | None
    variant: str | None
    protocol: str
    manifest: Mapping[str, Any]
    args: Mapping[str, Any]
    requests: tuple[Request, ...] = ()
    prompt_fingerprint: str = ""
    prompt_source: Mapping[str, Any] = field(default_factory=dict)
    shots_asked: int | None = None
    """`--shots` as given (None: the task's default); `shots` is what it resolved to."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """What `--gen-kwargs` and `--system-prompt` changed in this task's requests (jeval.overrides),
    recorded in its `decoding`; empty where nothing was changed."""


@dataclass(frozen=True)
class HarnessContext:
    """What a harness is given: the run's model and executor, and where prepared data lives."""

    model: Model
    executor: Executor
    data_dir: Path
    seed: int | None = None
    """The run's seed, sent with sampled generation requests as jeval's own requests send it
    (jeval.task.Request.payload)."""


class Harness(ABC):
    """Evaluates every planned task of its family in one go."""

    name: str

    @abstractmethod
    async def evaluate(self, planned: list[PlannedTask], context: HarnessContext) -> dict[str, TaskOutcome]:
        """An outcome per planned task, by task name."""


class HarnessTask(Task):
    applies_gen_kwargs = False
    """Whether its harness asks its generation requests with `--gen-kwargs` applied (jeval.overrides);
    where not, the option is refused for it rather than left unapplied."""

    @property
    @abstractmethod
    def harness(self) -> Harness:
        """The harness that evaluates this task (tasks sharing one are evaluated together)."""


@dataclass(frozen=True)
class Suite:
    """A score over several tasks of one run (Jaster AVG, the JGLUE mean), computed once, when
    the run's results are assembled, and stored; the leaderboard only reads it."""

    name: str
    members: tuple[str, ...]
    summarize: Callable[[Mapping[str, Mapping[str, Any]]], dict[str, Any] | None]
    """The suite's summary over the run's task results, or None when none of its tasks ran."""
    columns: Callable[[Mapping[str, Any], Mapping[str, Mapping[str, Any]]], list[ColumnValue]]
    """The leaderboard cells of a summary, given the run's task results."""


@dataclass(frozen=True)
class Plugin:
    """What a plugin package declares (its `__init__` exposes one as `PLUGIN`)."""

    tasks: tuple[Task, ...] = ()
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    suites: tuple[Suite, ...] = ()
    resolvers: Mapping[str, Callable[[str], Task]] = field(default_factory=dict)
    """Name prefix -> a function building a task from a whole name (`lm-eval:<any task>`)."""


def finite(value: Any) -> float | None:
    """A number that can be shown and ranked, or None (booleans, NaN and infinities are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def diagnostic_columns(name: str, result: Mapping[str, Any]) -> list[ColumnValue]:
    """Lenient exact match and the share of answers out of the label set (or out of the number
    format) of a task that reports them, as columns shown with `jeval leaderboard --lenient`."""
    metrics = result.get("metrics", {})
    if "lenient_exact_match" not in metrics:
        return []
    kind = "out_of_format" if "out_of_format" in metrics else "out_of_label_set"
    return [ColumnValue(f"{name} lenient EM", "jaster_lenient", finite(metrics.get("lenient_exact_match")),
                        tasks=(name,), hidden_unless="lenient"),
            ColumnValue(f"{name} {kind.replace('_', ' ')}", "jaster_lenient", finite(metrics.get(kind)),
                        kind="score_low", tasks=(name,), hidden_unless="lenient")]
