"""The benchmarks `jeval judge` grades, each the task whose answers it reads.

A benchmark says where its prepared files are (questions, reference answers, upstream judge
prompts, all written by `jeval data prepare <task>`), how many turns its questions have, which
questions are graded against a reference answer, which grading modes its protocol defines, the
prompt set used when none is named, and the scale of its single-answer scores.

- `jmt_bench`: Japanese MT-Bench, FastChat's protocol (two turns, 1-10, math/reasoning/coding
  against reference answers); default prompts jeval's own `jeval-ja-v1`.
- `ja_vicuna_qa`: ku-nlp's Japanese Vicuna QA, the same protocol on one turn; default prompts its
  own Japanese FastChat prompts (`ja-vicuna-qa`).
- `rakuda`: Rakuda, pairwise only, the verdict 1/2/3 on the judge's last line (prompt set `rakuda`).
- `elyza_tasks_100`: ELYZA-tasks-100, single answers graded 1-5 against each task's reference
  answer and its own grading notes (`criteria`); prompt set `elyza-autoeval`, the GPT-4 automatic
  evaluation prompt with the ELYZA rubric.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from jeval.errors import JevalError
from jeval.judges.verdicts import TEN, Scale
from jeval.tasks.jmt_bench.files import NEED_REFERENCE, IdKind

GradingMode = Literal["single", "pairwise"]
ALL_CATEGORIES = "*"


@dataclass(frozen=True)
class JudgedBenchmark:
    task: str
    title: str
    turns: int
    modes: frozenset[GradingMode]
    default_prompt_set: str
    prompt_sets: Mapping[str, str] = field(default_factory=dict)
    """Upstream prompt sets: name -> file under the prepared folder."""
    references: Mapping[str, str] = field(default_factory=dict)
    """Reference answer sets (`--reference NAME`): name -> FastChat answer file under the prepared folder."""
    default_reference: str | None = None
    need_reference: tuple[str, ...] = ()
    """Categories graded against a reference answer; ALL_CATEGORIES: every question, whose own
    `reference` field in questions.jsonl holds it."""
    scale: Scale = TEN
    leaderboard_group: str = ""
    id_kind: IdKind = "int"
    """Question ids: integers, or strings kept exactly (Rakuda's)."""

    @property
    def answers_file(self) -> Path:
        """Where a `jeval run` of the task writes its answers, in FastChat's format."""
        return Path("answers") / f"{self.task}.jsonl"

    @property
    def inline_references(self) -> bool:
        return self.need_reference == (ALL_CATEGORIES,)

    def graded_with_reference(self, category: str) -> bool:
        return self.inline_references or category in self.need_reference

    def folder(self, data_dir: Path) -> Path:
        found = data_dir / self.task
        if not (found / "questions.jsonl").exists():
            raise JevalError(f"no prepared {self.title} data in {found}; run `jeval data prepare {self.task}` "
                             "(add --mirror DIR_OR_URL when offline) or pass --data-dir")
        return found

    def check_mode(self, mode: GradingMode) -> None:
        if mode not in self.modes:
            raise JevalError(f"{self.title} is graded {' and '.join(sorted(self.modes))} only, not {mode}")

    def as_dict(self) -> dict[str, object]:
        return {"task": self.task, "title": self.title, "scale": list(self.scale)}


BENCHMARKS: dict[str, JudgedBenchmark] = {b.task: b for b in (
    JudgedBenchmark("jmt_bench", "Japanese MT-Bench", 2, frozenset({"single", "pairwise"}), "jeval-ja-v1",
                    prompt_sets={"fastchat-ja": "judge_prompts/fastchat-ja.jsonl",
                                 "fastchat-en": "judge_prompts/fastchat-en.jsonl"},
                    references={"gpt-4": "reference_answer/gpt-4.jsonl", "gpt-4o": "reference_answer/gpt-4o.jsonl"},
                    default_reference="gpt-4", need_reference=NEED_REFERENCE, leaderboard_group="mtbench"),
    JudgedBenchmark("ja_vicuna_qa", "Japanese Vicuna QA", 1, frozenset({"single", "pairwise"}), "ja-vicuna-qa",
                    prompt_sets={"ja-vicuna-qa": "judge_prompts.jsonl"},
                    references={"gpt-4": "reference_answer/gpt-4.jsonl"}, default_reference="gpt-4",
                    need_reference=NEED_REFERENCE, leaderboard_group="ja_vicuna_qa"),
    JudgedBenchmark("rakuda", "Rakuda", 1, frozenset({"pairwise"}), "rakuda",
                    prompt_sets={"rakuda": "judge_prompts.jsonl"}, leaderboard_group="rakuda", id_kind="str"),
    JudgedBenchmark("elyza_tasks_100", "ELYZA-tasks-100", 1, frozenset({"single"}), "elyza-autoeval",
                    prompt_sets={"elyza-autoeval": "judge_prompts.jsonl"}, need_reference=(ALL_CATEGORIES,),
                    scale=(1.0, 5.0), leaderboard_group="elyza"),
)}


def benchmark(name: str) -> JudgedBenchmark:
    found = BENCHMARKS.get(name)
    if found is None:
        raise JevalError(f"unknown benchmark {name!r} for the judge; it grades {', '.join(BENCHMARKS)}")
    return found


def benchmark_of_answers(paths: list[Path]) -> JudgedBenchmark:
    """The benchmark whose answers the run folders hold (one answers file each); FastChat answer
    files say nothing about their benchmark, so without a run folder it is Japanese MT-Bench."""
    found = {b.task for p in paths if p.is_dir() for b in BENCHMARKS.values() if (p / b.answers_file).exists()}
    if len(found) > 1:
        raise JevalError(f"the answer folders hold answers of several benchmarks ({', '.join(sorted(found))}); "
                         "choose one with --benchmark")
    return BENCHMARKS[found.pop()] if found else BENCHMARKS["jmt_bench"]
