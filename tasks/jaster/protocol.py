"""The Jaster protocols: prepared splits in llm-jp-eval's evaluation format, prompts in its
Alpaca-style frame, answers cut at the first blank line, NFKC-normalised, scored by llm-jp-eval's
metrics.

Two prompt texts, two protocols, never averaged together:

- `jeval-jaster-1` (the default): the frame's header sentence and each dataset's instruction are
  jeval's own wording (own_text.py); splits, answer formats, output lengths and metrics are
  llm-jp-eval v1.4.1's. It needs nothing but the data files.
- `llm-jp-eval-1.4.1`: the header and instructions are read from llm-jp-eval v1.4.1's own source
  (see upstream.py): downloaded at its tag (`jeval data prepare --prompts llm-jp-eval`), read
  from a local checkout (`--llm-jp-eval-dir`), or taken with its preprocessed files (`--jaster-dir`).

Closed-label datasets also get answer-format diagnostics (see diagnostics.py), and datasets
whose answers are all numbers (MAWPS, MGSM) the numeric ones (see jeval.tasks.numeric_answer),
reported under their own names beside the strict score.

Prepared files per dataset: `train.json`, `dev.json`, `test.json` in llm-jp-eval's evaluation
format (`instruction`, `output_length`, `metrics`, `few_shots`, `samples[{input, output}]`) and
`frame.json` holding the prompt header, where it came from and, for jeval's own text, its
protocol (a frame without one is llm-jp-eval's, as every frame was before jeval-jaster-1). A dataset whose
optional train file could not be had has empty train and dev splits: it runs zero-shot only.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jeval.errors import JevalError
from jeval.io import atomic_write_json, read_json
from jeval.task import (
    ChoosesPromptText,
    ColumnValue,
    GenerationTask,
    ImportsPreprocessed,
    Request,
    Source,
    TaskInputs,
    TaskRequests,
    TaskSpec,
    diagnostic_columns,
)
from jeval.tasks.jaster import own_text
from jeval.tasks.jaster.diagnostics import label_set, lenient_answer
from jeval.tasks.jaster.upstream import (
    UTILS,
    OutputInfo,
    open_checkout,
    processor_source,
    read_output_info,
    read_prompt_header,
)
from jeval.tasks.numeric_answer import canonical_number, lenient_number

if TYPE_CHECKING:
    from jeval.data.download import Checkout

PROTOCOL = "llm-jp-eval-1.4.1"
OWN_PROTOCOL = own_text.PROTOCOL
PROTOCOLS = (OWN_PROTOCOL, PROTOCOL)
VARIANTS = ("chat", "fewshot-turns", "reasoning")
REASONING_VARIANTS = ("reasoning",)
"""`reasoning`: the `chat` prompt, zero-shot, for a reasoning model; its thinking block is taken off
before the answer is read (jeval.reasoning)."""
SPLITS = ("train", "dev", "test")
FRAME_FILE = "frame.json"
MAX_NUM_SAMPLES = 100
SEED = 42
TRAIN_SHARE = 0.9
BLANK_LINE = "\n\n"
DIAGNOSTICS = ("out_of_label_set", "out_of_format", "lenient_exact_match")
PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
"""A prediction in the form numeric datasets' references take (strictly: no separators, no words)."""
NOT_METRICS = {"prediction", "reference", "source", "lenient_prediction", *DIAGNOSTICS}


@dataclass(frozen=True)
class Example:
    input: str
    output: str


Splits = dict[str, list[Example]]


def _metrics():
    """The metric registry, imported when scoring starts: its libraries (MeCab, fuzzywuzzy, ...)
    are not needed to list tasks or prepare data."""
    from jeval.tasks.jaster import metrics

    return metrics


def shuffled(examples: list[Example]) -> list[Example]:
    """The order llm-jp-eval's `random.seed(42); random.shuffle(samples)` gives."""
    out = list(examples)
    random.Random(SEED).shuffle(out)
    return out


def train_dev(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """llm-jp-eval's convention for an official train file: shuffled, cut at 90 % into (train, dev)."""
    out = shuffled(examples)
    cut = int(len(out) * TRAIN_SHARE)
    return out[:cut], out[cut:]


def official_dev_as_test(train_file: list[Example], dev_file: list[Example]) -> Splits:
    """Where the test set is not public: train file split 90/10, the official dev file as test."""
    train, dev = train_dev(train_file)
    return {"train": train, "dev": dev, "test": dev_file}


def build_prompt(header: str, instruction: str, shots: list[Example], item_input: str) -> str:
    """llm-jp-eval v1.4.1's assembly: header, instruction, each shot's input/response pair, the
    test input, and an open response section."""
    prompt = f"{header}\n\n### 指示:\n{instruction}"
    for shot in shots:
        prompt += f"\n\n### 入力:\n{shot.input}\n\n### 応答:\n{shot.output}"
    return prompt + f"\n\n### 入力:\n{item_input}\n\n### 応答:\n"


def build_turns(header: str, instruction: str, shots: list[Example], item_input: str) -> tuple[dict[str, str], ...]:
    """The Nejumi-style rendering for chat models: the frame and instruction open the first user
    turn, each few-shot is a user turn answered by an assistant turn, the test input is the last
    user turn. The model's chat template does the rest."""
    opening = f"{header}\n\n### 指示:\n{instruction}\n\n### 入力:\n"
    inputs = [s.input for s in shots] + [item_input]
    turns: list[dict[str, str]] = []
    for i, text in enumerate(inputs):
        turns.append({"role": "user", "content": (opening if i == 0 else "### 入力:\n") + text})
        if i < len(shots):
            turns.append({"role": "assistant", "content": shots[i].output})
    return tuple(turns)


def render_turns(turns: tuple[dict[str, str], ...]) -> str:
    return "\n\n".join(f"<{t['role']}>\n{t['content']}" for t in turns)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def extract_answer(output: str) -> str:
    """The text before the first blank line, NFKC-normalised and stripped."""
    return normalize(output.split(BLANK_LINE)[0]).strip()


def read_split(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise JevalError(f"{path} is missing; prepare the task again")
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
        raise JevalError(f"{path}: not an llm-jp-eval evaluation file (expected an object with 'samples')")
    for key in ("instruction", "output_length", "metrics"):
        if key not in data:
            raise JevalError(f"{path}: missing {key!r}")
    if not isinstance(data["output_length"], int) or data["output_length"] < 1:
        raise JevalError(f"{path}: output_length must be a positive integer, got {data['output_length']!r}")
    for i, sample in enumerate(data["samples"]):
        if not (isinstance(sample, dict) and isinstance(sample.get("input"), str)
                and isinstance(sample.get("output"), str)):
            raise JevalError(f"{path}: sample {i} needs string 'input' and 'output'")
    if not (isinstance(data["metrics"], list) and all(isinstance(m, str) for m in data["metrics"])):
        raise JevalError(f"{path}: metrics must be a list of names, got {data['metrics']!r}")
    return data


def write_split(path: Path, info: OutputInfo, examples: list[Example]) -> None:
    atomic_write_json(path, {
        "instruction": info.instruction,
        "output_length": info.output_length,
        "metrics": list(info.metrics),
        "few_shots": [],
        "samples": [{"input": e.input, "output": e.output} for e in examples],
    })


def locate_preprocessed(jaster_dir: Path) -> Path:
    """The folder holding train/, dev/ and test/: the one given, or its `evaluation/` or
    `1.4.1/evaluation/` (llm-jp-eval writes DATASET_DIR/<version>/evaluation/<split>/<name>.json)."""
    for candidate in (jaster_dir, jaster_dir / "evaluation", jaster_dir / "1.4.1" / "evaluation"):
        if (candidate / "test").is_dir():
            return candidate
    raise JevalError(f"--jaster-dir {jaster_dir}: no test/ folder there, nor in evaluation/ or 1.4.1/evaluation/ "
                     "(give llm-jp-eval's DATASET_DIR/1.4.1/evaluation)")


@dataclass(frozen=True)
class JasterTask(GenerationTask, ImportsPreprocessed, ChoosesPromptText):
    """One Jaster dataset.

    `raw_sources` and `build_splits` convert upstream files into train/dev/test; a dataset without
    a converter is prepared from llm-jp-eval's own preprocessed files (`--jaster-dir`).
    `module` is the llm-jp-eval module whose processor defines the dataset's instruction when the
    prompt text is llm-jp-eval's (`llm_jp_eval_text`); otherwise it is jeval's own."""

    name: str
    category: str
    module: str
    raw_sources: tuple[Source, ...] = ()
    build_splits: Callable[[dict[str, Path]], Splits] | None = None
    default_shots: int = 4
    default_limit: int | None = MAX_NUM_SAMPLES
    licence_note: str = ""
    upstream_gone: str = ""
    number_answers: bool = False
    """Answers are numbers: numeric answer-format diagnostics instead of a label set."""
    llm_jp_eval_text: bool = False

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(self.name, self.category, PROTOCOL if self.llm_jp_eval_text else OWN_PROTOCOL, "jaster",
                        default_shots=self.default_shots, default_limit=self.default_limit, variants=VARIANTS,
                        reasoning_variants=REASONING_VARIANTS)

    @property
    def upstream_text(self) -> bool:
        return self.llm_jp_eval_text

    def with_upstream_text(self) -> JasterTask:
        return replace(self, llm_jp_eval_text=True)

    def open_checkout(self, folder: Path) -> Checkout:
        return open_checkout(folder)

    @property
    def processor(self) -> Source:
        return processor_source(self.module)

    def sources(self) -> tuple[Source, ...]:
        """Without a converter nothing is downloaded: `convert` says how to prepare the dataset."""
        if self.build_splits is None:
            return ()
        return (*self.raw_sources, self.processor, UTILS) if self.llm_jp_eval_text else self.raw_sources

    def preprocessed_sources(self) -> tuple[Source, ...]:
        """What is still downloaded when the splits come from llm-jp-eval's own files: the frame."""
        return (UTILS,)

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        if self.build_splits is None:
            gone = f" ({self.upstream_gone})" if self.upstream_gone else ""
            raise JevalError(
                f"{self.name}: jeval does not build this dataset from upstream files{gone}; run llm-jp-eval "
                f"v1.4.1's preprocessing and pass its output: `jeval data prepare {self.name} --jaster-dir DIR`"
            )
        if self.llm_jp_eval_text:
            info = read_output_info(files[self.processor.url], self.name)
        else:
            info = own_text.TEXTS[self.name]
        splits = self.build_splits(files)
        for split in SPLITS:
            write_split(out_dir / f"{split}.json", info, splits[split])
        self._write_frame(files, out_dir)

    def import_preprocessed(self, folder: Path, files: dict[str, Path], out_dir: Path) -> None:
        """Take llm-jp-eval's own evaluation files (`<dir>/{train,dev,test}/<name>.json`) as they are."""
        root = locate_preprocessed(folder)
        for split in SPLITS:
            source = root / split / f"{self.name}.json"
            if not source.exists():
                raise JevalError(f"{source} not found: llm-jp-eval's preprocessing did not produce {self.name} "
                                 f"(run it for this dataset), or --jaster-dir points elsewhere")
            read_split(source)
            shutil.copyfile(source, out_dir / f"{split}.json")
        self._write_frame(files, out_dir)

    def _write_frame(self, files: dict[str, Path], out_dir: Path) -> None:
        if self.llm_jp_eval_text:
            frame = {"header": read_prompt_header(files[UTILS.url]), "source": UTILS.url}
        else:
            frame = {"header": own_text.HEADER, "source": "jeval", "protocol": OWN_PROTOCOL}
        atomic_write_json(out_dir / FRAME_FILE, frame)

    def prepared_counts(self, task_dir: Path) -> dict[str, int]:
        return {split: len(read_split(task_dir / f"{split}.json")["samples"]) for split in SPLITS}

    def max_shots(self, task_dir: Path) -> int | None:
        return len(read_split(task_dir / "train.json")["samples"])

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        """A dataset is shown through its suite's category columns; alone, only its answer-format
        diagnostics (with `--lenient`)."""
        return diagnostic_columns(self.name, result)

    def requests(self, inputs: TaskInputs) -> TaskRequests:
        """One request per test item in llm-jp-eval's frame; `variant` sends it through the
        model's chat template instead (`chat`: the whole prompt as one user turn;
        `fewshot-turns`: see build_turns; `reasoning`: as `chat`, zero-shot), recorded as
        protocol `<protocol>/<variant>`. The protocol is the one the prepared text belongs to
        (frame.json)."""
        task_dir, shots, variant = inputs.data_dir, inputs.shots, inputs.variant
        frame = read_json(task_dir / FRAME_FILE)
        if not isinstance(frame, dict) or not isinstance(frame.get("header"), str):
            raise JevalError(f"{task_dir / FRAME_FILE}: expected {{\"header\": text}}; prepare the task again")
        protocol = frame.get("protocol", PROTOCOL)
        if protocol not in PROTOCOLS:
            raise JevalError(f"{task_dir / FRAME_FILE}: unknown protocol {protocol!r}; prepare the task again")
        test = read_split(task_dir / "test.json")
        train = read_split(task_dir / "train.json")["samples"]
        if shots > len(train):
            raise JevalError(f"{self.name}: {shots} shots asked for, the train split has {len(train)} items")
        few_shots = [Example(s["input"], s["output"]) for s in train[:shots]]
        if variant not in (None, *VARIANTS):
            raise JevalError(f"{self.name}: no prompt variant {variant!r} (variants: {', '.join(VARIANTS)})")
        header, instruction = frame["header"], test["instruction"]
        labels = None
        if "exact_match" in test["metrics"] and not self.number_answers:
            dev = read_split(task_dir / "dev.json")["samples"]
            labels = label_set(normalize(s["output"]) for s in (*train, *dev, *test["samples"]))
        if self.number_answers:
            extra: dict[str, Any] = {"answer_form": "number"}
        else:
            extra = {"label_set": sorted(labels)} if labels else {}
        requests = []
        for i, s in enumerate(test["samples"][:inputs.limit]):
            prompt = build_prompt(header, instruction, few_shots, s["input"])
            messages: tuple[dict[str, str], ...] = ()
            if variant in ("chat", "reasoning"):
                messages = ({"role": "user", "content": prompt},)
            elif variant == "fewshot-turns":
                messages = build_turns(header, instruction, few_shots, s["input"])
                prompt = render_turns(messages)
            requests.append(Request(
                task=self.name,
                key=f"{self.name}/{i}",
                prompt=prompt,
                max_tokens=test["output_length"],
                target=s["output"],
                stop=(BLANK_LINE,),
                metadata={"input": s["input"], "metrics": list(test["metrics"]), **extra},
                messages=messages,
            ))
        template = build_prompt(header, instruction, few_shots, "\0")
        fingerprint = hashlib.sha256(
            f"{variant}\0{template}\0{test['output_length']}\0{test['metrics']}".encode()).hexdigest()
        return TaskRequests(requests, fingerprint, f"{protocol}/{variant}" if variant else protocol)

    def score(self, request: Request, output: str) -> dict[str, Any]:
        """The prediction and each metric's per-sample value (None for metrics whose dataset score
        is not a mean of samples: correlations, rouge's bootstrap, COMET)."""
        prediction = extract_answer(output)
        target = normalize(request.target)
        scores: dict[str, Any] = {"prediction": prediction, "reference": target, "source": request.metadata["input"]}
        metrics = _metrics()
        for name in request.metadata["metrics"]:
            metric = metrics.METRICS.get(name)
            if metric is None:
                scores[name] = None
                continue
            try:
                scores[name] = (metric.sample(prediction, target, request.metadata["input"])
                                if metric.mean_of_samples else None)
            except metrics.MetricUnavailable:
                scores[name] = None
        if "label_set" in request.metadata:
            labels = frozenset(request.metadata["label_set"])
            lenient = lenient_answer(prediction, labels, request.metadata["input"])
            scores["out_of_label_set"] = float(prediction not in labels)
            scores["lenient_prediction"] = lenient
            scores["lenient_exact_match"] = float(lenient == target)
        elif request.metadata.get("answer_form") == "number":
            number = lenient_number(prediction)
            scores["out_of_format"] = float(not PLAIN_NUMBER.fullmatch(prediction))
            scores["lenient_prediction"] = number
            scores["lenient_exact_match"] = float(number is not None and number == canonical_number(target))
        return scores

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, Any]:
        """Each metric over the whole set, as llm-jp-eval reports it; a metric that cannot run here
        is None, with the reason under `unavailable`. A metric's own record joins them (code_exec's
        `sandbox`: tool, version, isolation and limits)."""
        metrics = _metrics()
        names = [k for k in (scores[0] if scores else {}) if k not in NOT_METRICS]
        preds = [s["prediction"] for s in scores]
        trues = [s["reference"] for s in scores]
        sources = [s["source"] for s in scores]
        out: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        for name in names:
            if name not in metrics.METRICS:
                out[name] = None
                unavailable[name] = f"jeval does not implement llm-jp-eval's {name!r}"
                continue
            metric = metrics.METRICS[name]
            try:
                if metric.mean_of_samples and all(s[name] is not None for s in scores):
                    out[name] = sum(s[name] for s in scores) / len(scores) if scores else float("nan")
                else:
                    out[name] = metric.corpus(preds, trues, sources)
                out.update(metric.record())
            except metrics.MetricUnavailable as e:
                out[name] = None
                unavailable[name] = str(e)
        for name in DIAGNOSTICS:
            if scores and name in scores[0]:
                out[name] = sum(s[name] for s in scores) / len(scores)
        if unavailable:
            out["unavailable"] = unavailable
        return out
