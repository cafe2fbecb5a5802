"""Find the result files under results folders and read them into typed records.

Every `*.json` file under a folder is looked at: a `jeval run` results.json becomes a RunRecord
(read by jeval.schema, whatever version wrote it), a `jeval judge single` results.json a
JudgeRecord, with each score's coverage (how much of the benchmark was judged and whether that
meets the judge run's rule; results written before coverage was recorded get it derived from
their failure counts, and a file with neither is read as incomplete). Anything else (malformed
JSON, another tool's JSON, a pairwise judge run, an arena ratings file) is a Problem naming the
file and why it was not counted; nothing is dropped without one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.judges.coverage import DEFAULT_MIN_SHARE
from jeval.schema import RunResults, check_run, number_or_none, read_run


@dataclass(frozen=True)
class Problem:
    path: Path
    reason: str
    name: str = ""

    @property
    def shown(self) -> str:
        """The file as the notes of a table name it: relative to the folder it was found in."""
        return self.name or self.path.name


RunRecord = RunResults
"""One `jeval run` results.json, as jeval.schema reads it (any schema version)."""


@dataclass(frozen=True)
class Coverage:
    """Whether a judged score (and each category's) stands on enough judged items, and in words how
    many, e.g. "7 of 160 judged (4%), 4 of 8 categories; not judged: request_error 153"."""

    complete: bool
    summary: str
    categories: dict[str, tuple[bool, str]] = field(default_factory=dict)
    """Per category: complete or not, and e.g. "2 of 20 judged"."""

    def category(self, name: str) -> tuple[bool, str]:
        return self.categories.get(name, (self.complete, self.summary))


@dataclass(frozen=True)
class JudgeRecord:
    """One single-answer `jeval judge` results.json: a benchmark's scores per model (Japanese
    MT-Bench 1-10 unless results.json names another benchmark and scale)."""

    path: Path
    run_id: str
    created: str
    judge: str
    prompt_set: str
    scores: dict[str, dict[str, Any]]
    coverage: dict[str, Coverage] = field(default_factory=dict)
    benchmark: str = "jmt_bench"
    title: str = "MT-Bench"
    scale_max: float = 10.0

    @property
    def protocol(self) -> str:
        return f"judge {self.judge} / {self.prompt_set}"


@dataclass
class Collection:
    runs: list[RunRecord] = field(default_factory=list)
    judgments: list[JudgeRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    files_read: int = 0


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_coverage(model: str, cov: Any) -> str | None:
    if not isinstance(cov, dict) or not isinstance(cov.get("complete"), bool) \
            or not isinstance(cov.get("summary"), str):
        return f"the coverage of {model!r} has no boolean `complete` or no `summary`"
    categories = cov.get("categories", {})
    if not isinstance(categories, dict) or not all(
            isinstance(c, dict) and isinstance(c.get("complete"), bool) and _count(c.get("judged"))
            and _count(c.get("expected")) for c in categories.values()):
        return f"the coverage of {model!r} has malformed `categories`"
    return None


def read_coverage(scores: dict[str, Any]) -> Coverage:
    """A model's coverage as recorded; derived from the failure counts for results written before
    coverage was recorded (categories then unchecked); incomplete when neither is there."""
    cov = scores.get("coverage")
    if isinstance(cov, dict):
        categories = {name: (c["complete"], f"{c['judged']} of {c['expected']} judged")
                      for name, c in cov.get("categories", {}).items()}
        return Coverage(cov["complete"], cov["summary"], categories)
    judgments, failures = scores.get("judgments"), scores.get("failures")
    if isinstance(judgments, int) and isinstance(failures, int) and _count(judgments) and _count(failures) \
            and failures <= judgments and judgments > 0:
        judged = judgments - failures
        share = judged / judgments
        return Coverage(share >= DEFAULT_MIN_SHARE - 1e-12,
                        f"{judged} of {judgments} judged ({share:.0%}); categories not checked (results written "
                        "before jeval recorded coverage)")
    return Coverage(False, "coverage not recorded (no judgment or failure counts)")


def _check_judge(data: dict[str, Any]) -> str | None:
    judge = data.get("judge")
    if not isinstance(judge, dict) or not isinstance(judge.get("model"), str):
        return "`judge.model` is missing"
    prompt_set = data.get("prompt_set")
    if not isinstance(prompt_set, dict) or not isinstance(prompt_set.get("name"), str):
        return "`prompt_set.name` is missing"
    scores = data.get("scores")
    if not isinstance(scores, dict):
        return "`scores` is not an object"
    for model, s in scores.items():
        if not isinstance(s, dict) or not number_or_none(s.get("overall")) \
                or not isinstance(s.get("categories"), dict):
            return f"scores of {model!r} have no numeric `overall` or no `categories` object"
        if not all(number_or_none(v) for v in s["categories"].values()):
            return f"scores of {model!r} have a category score that is not a number"
        if "coverage" in s:
            why = _check_coverage(model, s["coverage"])
            if why:
                return why
    return None


def classify(path: Path, data: Any) -> RunRecord | JudgeRecord | Problem:
    if not isinstance(data, dict):
        return Problem(path, f"a JSON {type(data).__name__}, not a jeval results object")
    if "tasks" in data and "model" in data and "run_id" in data:
        why = check_run(data)
        if why:
            return Problem(path, f"malformed jeval run results: {why}")
        try:
            return read_run(path, data)
        except JevalError as e:
            return Problem(path, f"cannot be read as jeval run results: {' '.join(str(e).split())}")
    if data.get("mode") in ("single", "pairwise") and "judge" in data:
        if data["mode"] == "pairwise":
            return Problem(path, "a pairwise judge run (no per-model scores); give its battles.jsonl with --arena "
                                 "to rate the models")
        why = _check_judge(data)
        if why:
            return Problem(path, f"malformed jeval judge results: {why}")
        if all(s.get("overall") is None for s in data["scores"].values()):
            return Problem(path, "a judge run without a score (no judgment gave a verdict; its judgments.jsonl "
                                 "says why)")
        graded: dict[str, Any] = data["benchmark"] if isinstance(data.get("benchmark"), dict) else {}
        task = str(graded.get("task", "jmt_bench"))
        scale = graded.get("scale", [1, 10])
        return JudgeRecord(path, path.parent.name, str(data.get("created", "")), data["judge"]["model"],
                           data["prompt_set"]["name"], data["scores"],
                           {model: read_coverage(s) for model, s in data["scores"].items()},
                           task, "MT-Bench" if task == "jmt_bench" else str(graded.get("title", task)),
                           float(scale[1]) if isinstance(scale, list) and len(scale) == 2 else 10.0)
    if isinstance(data.get("models"), list) and str(data.get("method", "")).startswith("bradley-terry"):
        return Problem(path, "an arena ratings file; give it with --arena to add arena columns")
    return Problem(path, "not a jeval run or judge results file (unknown JSON)")


def read_one(path: Path) -> RunRecord | JudgeRecord | Problem:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        return Problem(path, f"not UTF-8 text ({e.reason})")
    except json.JSONDecodeError as e:
        return Problem(path, f"not valid JSON ({e.msg} at line {e.lineno})")
    except OSError as e:
        return Problem(path, f"cannot be read ({e.strerror})")
    return classify(path, data)


def collect(folders: list[Path]) -> Collection:
    """Every JSON file under `folders` (a file may also be named directly), classified."""
    found = Collection()
    paths: dict[Path, str] = {}
    for folder in folders:
        if folder.is_file():
            paths.setdefault(folder, folder.name)
        elif folder.is_dir():
            for p in sorted(folder.rglob("*.json")):
                if p.is_file() and not p.name.startswith("."):
                    paths.setdefault(p, p.relative_to(folder).as_posix())
        else:
            raise JevalError(f"{folder}: no such results folder or file")
    for path, name in paths.items():
        found.files_read += 1
        record = read_one(path)
        if isinstance(record, Problem):
            record = Problem(record.path, record.reason, name)
        if isinstance(record, RunRecord):
            found.runs.append(record)
        elif isinstance(record, JudgeRecord):
            found.judgments.append(record)
        else:
            found.problems.append(record)
    return found
