"""Generation benchmarks declared in one file: a plugin folder holding `task.yaml` and no Python.

    name: toy_qa                      # the task's name on the command line
    category: QA
    protocol: toy-qa-1                # the benchmark's own protocol name
    splits:                           # test is required; few-shot examples come from train
      test:  {url: https://example.org/toy/test.jsonl, sha256: "…", license: CC0-1.0}
      train: {url: https://example.org/toy/train.jsonl, sha256: "…", license: CC0-1.0}
    format: jsonl                     # jsonl, json (a list of objects), csv or tsv (with a header)
    prompt:
      instruction: "次の質問に答えてください。"   # optional, before the examples
      template: "質問：{question}\n答え："        # each item, from its record's fields
      answer: "{answer}"                         # the reference (and each example's answer)
      separator: "\n\n"                          # between examples (default: a blank line)
      chat: false                                # true: the prompt is one user turn of the chat template
    generation: {max_tokens: 32, stop: ["\n"]}
    answer: strip                     # strip | first_line | before_blank_line; optional nfkc: true
    metrics: [exact_match, char_f1]   # llm-jp-eval's metrics as jeval implements them
    default_shots: 0
    default_limit: null
    column: {label: Toy QA, group: toy}

`jeval data prepare toy_qa` downloads the splits (pinned, from a mirror with `--mirror`) and checks
every record against the template; `jeval run --tasks toy_qa` asks and scores; the task's column
appears in `jeval leaderboard`. Nothing in the core names the task.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl, read_jsonl
from jeval.task import GenerationTask, Request, Source, TaskInputs, TaskRequests, TaskSpec

Format = Literal["jsonl", "json", "csv", "tsv"]
Extraction = Literal["strip", "first_line", "before_blank_line"]
FORMATS = ("jsonl", "json", "csv", "tsv")
EXTRACTIONS = ("strip", "first_line", "before_blank_line")


@dataclass(frozen=True)
class Declaration:
    """A `task.yaml`, checked."""

    name: str
    category: str
    protocol: str
    splits: Mapping[str, Source]
    format: Format
    template: str
    answer_template: str
    metrics: tuple[str, ...]
    instruction: str = ""
    separator: str = "\n\n"
    chat: bool = False
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    extraction: Extraction = "strip"
    nfkc: bool = False
    default_shots: int = 0
    default_limit: int | None = None
    label: str | None = None
    group: str | None = None


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in data:
        if default is ...:
            raise JevalError(f"{where}: `{key}` is required")
        return default
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise JevalError(f"{where}: `{key}` must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def declaration(data: Any, where: str) -> Declaration:
    """A declaration from a parsed `task.yaml`; every mistake is one error naming the file and key."""
    if not isinstance(data, dict):
        raise JevalError(f"{where}: expected a mapping of settings")
    known = {"name", "category", "protocol", "splits", "format", "prompt", "generation", "answer", "nfkc", "metrics",
             "default_shots", "default_limit", "column", "description"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise JevalError(f"{where}: unknown setting {unknown[0]!r} (settings: {', '.join(sorted(known))})")
    splits_data = _get(data, "splits", dict, where)
    splits = {}
    for split, source in splits_data.items():
        if split not in ("test", "train"):
            raise JevalError(f"{where}: splits are test and train, got {split!r}")
        if not isinstance(source, dict):
            raise JevalError(f"{where}: split {split!r} needs url, sha256 and license")
        splits[split] = Source(_get(source, "url", str, f"{where} ({split})"),
                               _get(source, "sha256", str, f"{where} ({split})"),
                               _get(source, "license", str, f"{where} ({split})"))
    if "test" not in splits:
        raise JevalError(f"{where}: a test split is required")
    prompt = _get(data, "prompt", dict, where)
    generation = _get(data, "generation", dict, where, {})
    column = _get(data, "column", dict, where, {})
    metrics = tuple(_get(data, "metrics", list, where))
    if not metrics or not all(isinstance(m, str) for m in metrics):
        raise JevalError(f"{where}: `metrics` must list metric names")
    fmt = _get(data, "format", str, where, "jsonl")
    extraction = _get(data, "answer", str, where, "strip")
    if fmt not in FORMATS:
        raise JevalError(f"{where}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if extraction not in EXTRACTIONS:
        raise JevalError(f"{where}: answer must be one of {', '.join(EXTRACTIONS)}, got {extraction!r}")
    limit = data.get("default_limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise JevalError(f"{where}: default_limit must be a positive integer or null, got {limit!r}")
    found = Declaration(
        name=_get(data, "name", str, where), category=_get(data, "category", str, where),
        protocol=_get(data, "protocol", str, where), splits=splits, format=fmt,
        template=_get(prompt, "template", str, f"{where} (prompt)"),
        answer_template=_get(prompt, "answer", str, f"{where} (prompt)"), metrics=metrics,
        instruction=_get(prompt, "instruction", str, f"{where} (prompt)", ""),
        separator=_get(prompt, "separator", str, f"{where} (prompt)", "\n\n"),
        chat=_get(prompt, "chat", bool, f"{where} (prompt)", False),
        max_tokens=_get(generation, "max_tokens", int, f"{where} (generation)", 64),
        stop=tuple(_get(generation, "stop", list, f"{where} (generation)", [])),
        extraction=extraction, nfkc=_get(data, "nfkc", bool, where, False),
        default_shots=_get(data, "default_shots", int, where, 0), default_limit=limit,
        label=_get(column, "label", str, f"{where} (column)", None),
        group=_get(column, "group", str, f"{where} (column)", None),
    )
    from jeval.tasks.jaster.metrics import METRICS

    missing = [m for m in found.metrics if m not in METRICS]
    if missing:
        raise JevalError(f"{where}: unknown metric {missing[0]!r} (metrics: {', '.join(sorted(METRICS))})")
    if found.default_shots > 0 and "train" not in splits:
        raise JevalError(f"{where}: default_shots {found.default_shots} needs a train split")
    return found


def load_declarative(path: Path) -> DeclarativeTask:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise JevalError(f"{path}: not a readable task declaration ({' '.join(str(e).split())})") from None
    return DeclarativeTask(declaration(data, str(path)))


def read_records(path: Path, fmt: Format, url: str) -> list[dict[str, Any]]:
    """The records of a downloaded split; malformed data is one error naming the file."""
    try:
        if fmt == "jsonl":
            return read_jsonl(path)
        text = path.read_text(encoding="utf-8")
        if fmt == "json":
            data = json.loads(text)
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise JevalError(f"{url}: expected a JSON list of objects")
            return data
        return list(csv.DictReader(io.StringIO(text), delimiter="," if fmt == "csv" else "\t"))
    except json.JSONDecodeError as e:
        raise JevalError(f"{url}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise JevalError(f"{url}: cannot be read as {fmt} ({e})") from None


class DeclarativeTask(GenerationTask):
    def __init__(self, declared: Declaration):
        self.declared = declared

    @property
    def spec(self) -> TaskSpec:
        d = self.declared
        return TaskSpec(d.name, d.category, d.protocol, d.name, default_shots=d.default_shots,
                        default_limit=d.default_limit, needs=frozenset({"chat" if d.chat else "generate"}),
                        primary_metric=d.metrics[0], label=d.label, column_group=d.group)

    def sources(self) -> tuple[Source, ...]:
        return tuple(self.declared.splits.values())

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        """Each split as JSON Lines, every record checked against the templates."""
        d = self.declared
        needed = _fields(d.template) | _fields(d.answer_template)
        for split, source in d.splits.items():
            records = read_records(files[source.url], d.format, source.url)
            for i, record in enumerate(records, 1):
                absent = sorted(needed - set(record))
                if absent:
                    raise JevalError(f"{source.url}: record {i} has no field {absent[0]!r} that the prompt template "
                                     f"of {d.name} uses")
            atomic_write_jsonl(out_dir / f"{split}.jsonl", records)

    def _render(self, template: str, record: Mapping[str, Any]) -> str:
        return template.format_map({k: "" if v is None else v for k, v in record.items()})

    def requests(self, inputs: TaskInputs) -> TaskRequests:
        d = self.declared
        test = _prepared(inputs.data_dir / "test.jsonl", d.name)
        train = _prepared(inputs.data_dir / "train.jsonl", d.name) if inputs.shots else []
        if inputs.shots > len(train):
            raise JevalError(f"{d.name}: {inputs.shots} shots asked for, the train split has {len(train)} items")
        shots = [self._render(d.template, r) + self._render(d.answer_template, r) for r in train[:inputs.shots]]
        head = [d.instruction] if d.instruction else []
        requests = []
        for i, record in enumerate(test[:inputs.limit]):
            prompt = d.separator.join([*head, *shots, self._render(d.template, record)])
            requests.append(Request(
                task=d.name, key=f"{d.name}/{i}", prompt=prompt, max_tokens=d.max_tokens,
                target=self._render(d.answer_template, record), stop=d.stop,
                messages=({"role": "user", "content": prompt},) if d.chat else ()))
        frame = json.dumps({"instruction": d.instruction, "template": d.template, "answer": d.answer_template,
                            "separator": d.separator, "shots": shots, "chat": d.chat, "max_tokens": d.max_tokens,
                            "stop": d.stop, "extraction": d.extraction, "nfkc": d.nfkc}, ensure_ascii=False)
        return TaskRequests(requests, hashlib.sha256(frame.encode()).hexdigest())

    def _extract(self, output: str) -> str:
        d = self.declared
        if d.extraction == "first_line":
            output = output.strip().split("\n")[0]
        elif d.extraction == "before_blank_line":
            output = output.split("\n\n")[0]
        output = output.strip()
        return unicodedata.normalize("NFKC", output) if d.nfkc else output

    def score(self, request: Request, output: str) -> dict[str, Any]:
        from jeval.tasks.jaster.metrics import METRICS

        prediction = self._extract(output)
        target = unicodedata.normalize("NFKC", request.target) if self.declared.nfkc else request.target
        scores: dict[str, Any] = {"prediction": prediction, "reference": target}
        for name in self.declared.metrics:
            metric = METRICS[name]
            scores[name] = metric.sample(prediction, target, request.prompt) if metric.mean_of_samples else None
        return scores

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, Any]:
        from jeval.tasks.jaster.metrics import METRICS

        preds = [s["prediction"] for s in scores]
        trues = [s["reference"] for s in scores]
        return {name: METRICS[name].corpus(preds, trues, None) if scores else None for name in self.declared.metrics}


def _prepared(path: Path, name: str) -> list[dict[str, Any]]:
    if not path.exists():
        raise JevalError(f"{path} is missing; prepare the task again (`jeval data prepare {name}`)")
    return read_jsonl(path)
