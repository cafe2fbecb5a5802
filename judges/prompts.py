"""Prompt sets: named collections of judge prompts in FastChat's judge-prompt format.

`jeval-ja-v1` is jeval's own (judges/default_prompts.py); a benchmark's upstream sets
(`fastchat-ja`, `fastchat-en`, `ja-vicuna-qa`, `rakuda`, `elyza-autoeval`) are written by
`jeval data prepare <benchmark>`; any FastChat-format JSONL file may be given by path. A prompt is
chosen by role the way FastChat's gen_judgment does: single or pairwise, turn 1 or the whole
dialogue (turn 2), plain or reference-guided. Role names differ between sets (`pair-v2` in
FastChat's MT-Bench set, `pair` in Japanese Vicuna QA's); a set holding one prompt of a type (Rakuda's
`pair-ja`, ELYZA's grading prompt) uses it for that type's first-turn roles.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from jeval.errors import JevalError
from jeval.judges import default_prompts
from jeval.judges.benchmarks import BENCHMARKS, JudgedBenchmark
from jeval.tasks.jmt_bench.files import read_judge_prompts

Mode = Literal["single", "pairwise", "pairwise5"]

_NAMES: dict[tuple[Mode, bool, bool], tuple[str, ...]] = {
    ("single", False, False): ("single-v1", "single"),
    ("single", True, False): ("single-math-v1", "single-math"),
    ("single", False, True): ("single-v1-multi-turn",),
    ("single", True, True): ("single-math-v1-multi-turn",),
    ("pairwise", False, False): ("pair-v2", "pair"),
    ("pairwise", True, False): ("pair-math-v1", "pair-math"),
    ("pairwise", False, True): ("pair-v2-multi-turn",),
    ("pairwise", True, True): ("pair-math-v1-multi-turn",),
    ("pairwise5", False, False): ("pair5-v1",),
    ("pairwise5", True, False): ("pair5-math-v1",),
    ("pairwise5", False, True): ("pair5-v1-multi-turn",),
    ("pairwise5", True, True): ("pair5-math-v1-multi-turn",),
}


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    type: str
    system_prompt: str
    prompt_template: str
    output_format: str
    source: str

    def fields(self) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(self.prompt_template) if f}

    def render(self, values: dict[str, str]) -> list[dict[str, str]]:
        """The chat messages for the judge: the system prompt, then the filled template."""
        missing = self.fields() - values.keys()
        if missing:
            raise JevalError(f"judge prompt {self.name!r} ({self.source}) needs {', '.join(sorted(missing))}, "
                             "which this comparison does not have")
        user = self.prompt_template.format_map(values)
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*messages, {"role": "user", "content": user}]


@dataclass(frozen=True)
class PromptSet:
    name: str
    prompts: dict[str, JudgePrompt]

    def choose(self, mode: Mode, reference: bool, multi_turn: bool) -> JudgePrompt:
        names = _NAMES[(mode, reference, multi_turn)]
        found = next((self.prompts[n] for n in names if n in self.prompts), None)
        if found is None and not multi_turn and mode != "pairwise5":
            kind = "single" if mode == "single" else "pairwise"
            sole = [p for p in self.prompts.values() if p.type == kind]
            found = sole[0] if len(sole) == 1 else None
        if found is None:
            what = {"single": "single-answer", "pairwise": "pairwise", "pairwise5": "5-level pairwise"}[mode]
            raise JevalError(f"prompt set {self.name!r} has no {' or '.join(repr(n) for n in names)} prompt for "
                             f"{what} grading{' of turn 2' if multi_turn else ''}; use --prompt-set "
                             f"{default_prompts.NAME}")
        return found

    @property
    def fingerprint(self) -> str:
        blob = json.dumps({n: [p.system_prompt, p.prompt_template, p.output_format]
                           for n, p in sorted(self.prompts.items())}, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


def _from_records(name: str, records: list[dict[str, str]], default_source: str) -> PromptSet:
    return PromptSet(name, {
        r["name"]: JudgePrompt(r["name"], r["type"], r["system_prompt"], r["prompt_template"], r["output_format"],
                               r.get("source", default_source))
        for r in records
    })


def load_prompt_set(spec: str | None, data_dir: Path, benchmark: JudgedBenchmark | None = None) -> PromptSet:
    """A prompt set by name (`jeval-ja-v1` or one of the benchmark's upstream sets; None: the
    benchmark's default) or a JSONL file path."""
    benchmark = benchmark or BENCHMARKS["jmt_bench"]
    spec = spec or benchmark.default_prompt_set
    if spec == default_prompts.NAME:
        return _from_records(spec, default_prompts.records(), "jeval")
    if spec in benchmark.prompt_sets:
        path = data_dir / benchmark.task / benchmark.prompt_sets[spec]
        if not path.exists():
            raise JevalError(f"prompt set {spec!r} comes with the upstream data: run `jeval data prepare "
                             f"{benchmark.task}` (it is looked for in {path})")
        return _from_records(spec, read_judge_prompts(path), str(path))
    path = Path(spec)
    if path.suffix == ".jsonl" or path.exists():
        return _from_records(path.stem, read_judge_prompts(path), str(path))
    raise JevalError(f"unknown prompt set {spec!r} for {benchmark.title}; use "
                     f"{', '.join([default_prompts.NAME, *benchmark.prompt_sets])} or a judge-prompt JSONL file")
