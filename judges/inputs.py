"""What a judging run reads: a benchmark's prepared questions and reference answers, and model
answers given as run folders of `jeval run --tasks <benchmark>` or FastChat answer JSONL files.

`--questions` and `--limit` judge a subset (by question id; the first N questions by id). The
score's coverage is still counted against the whole benchmark, so a subset's mean is marked
incomplete everywhere (console, results.json, leaderboard): it is not the benchmark's score.
results.json also records the subset."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from jeval.errors import JevalError
from jeval.io import read_jsonl_numbered
from jeval.judges.benchmarks import JudgedBenchmark
from jeval.tasks.jmt_bench.files import Answer, IdKind, Question, QuestionId, question_id, read_answers, read_questions


@dataclass(frozen=True)
class Inputs:
    benchmark: JudgedBenchmark
    questions: dict[QuestionId, Question]
    answers: dict[str, dict[QuestionId, Answer]]
    references: dict[QuestionId, Answer]
    reference_name: str | None
    criteria: dict[QuestionId, str] = field(default_factory=dict)
    """Per-question grading notes (ELYZA-tasks-100's eval_aspect), shown to the judge."""
    subset: tuple[QuestionId, ...] | None = None
    """The questions judged where not all were (--questions, --limit)."""

    @property
    def models(self) -> list[str]:
        return list(self.answers)

    def reference_for(self, question: Question) -> Answer | None:
        """The reference answer, for the questions the benchmark grades against one."""
        if not self.benchmark.graded_with_reference(question.category):
            return None
        ref = self.references.get(question.question_id)
        if ref is None:
            where = f"the reference {self.reference_name!r}" if self.reference_name else "its questions.jsonl"
            raise JevalError(f"question {question.question_id} ({question.category}) is graded against a reference "
                             f"answer, and {where} has none for it")
        return ref


def answers_path(path: Path, benchmark: JudgedBenchmark) -> Path:
    if path.is_dir():
        candidate = path / benchmark.answers_file
        if not candidate.exists():
            raise JevalError(f"{path} is a folder without {benchmark.answers_file}; give the folder of a "
                             f"`jeval run --tasks {benchmark.task}` run or a FastChat answer JSONL file")
        return candidate
    if not path.exists():
        raise JevalError(f"{path}: no such answer file or run folder")
    return path


def _inline(folder: Path, kind: IdKind) -> tuple[dict[QuestionId, Answer], dict[QuestionId, str]]:
    """Reference answers and grading notes that questions.jsonl carries itself (`reference`,
    `eval_aspect`)."""
    references: dict[QuestionId, Answer] = {}
    criteria: dict[QuestionId, str] = {}
    path = folder / "questions.jsonl"
    for line, row in read_jsonl_numbered(path):
        qid = question_id(row.get("question_id"), f"{path}:{line}", kind)
        for name, target in (("reference", None), ("eval_aspect", criteria)):
            value = row.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise JevalError(f"{path}:{line}: {name} must be text")
            if target is None:
                references[qid] = Answer(qid, "reference", (value,))
            else:
                target[qid] = value
    return references, criteria


def _references(benchmark: JudgedBenchmark, folder: Path, reference: str | None
                ) -> tuple[dict[QuestionId, Answer], str | None]:
    name = reference or benchmark.default_reference
    if name is None:
        return {}, None
    if name in benchmark.references:
        path = folder / benchmark.references[name]
    else:
        path = Path(name)
        if not path.exists():
            offered = " nor ".join(benchmark.references) or "(it has no reference sets)"
            raise JevalError(f"--reference {name!r} is neither {offered} for {benchmark.title} nor a file")
    return {a.question_id: a for a in read_answers(path, benchmark.id_kind)}, name


def _chosen(questions: dict[QuestionId, Question], ids: Collection[str] | None, limit: int | None,
            kind: IdKind) -> tuple[QuestionId, ...] | None:
    if ids is None and limit is None:
        return None
    given = {question_id(i, "--questions", kind) for i in ids} if ids is not None else set(questions)
    chosen: list[QuestionId] = sorted(given)
    unknown = [q for q in chosen if q not in questions]
    if unknown:
        raise JevalError(f"--questions: {', '.join(map(str, unknown[:5]))} not among the {len(questions)} "
                         "prepared questions")
    if limit is not None:
        if limit < 1:
            raise JevalError(f"--limit must be 1 or more, got {limit}")
        chosen = chosen[:limit]
    return tuple(chosen)


def load_inputs(benchmark: JudgedBenchmark, data_dir: Path, answer_paths: list[Path], reference: str | None = None,
                question_ids: Collection[str] | None = None, limit: int | None = None) -> Inputs:
    folder = benchmark.folder(data_dir)
    questions = {q.question_id: q for q in read_questions(folder / "questions.jsonl", benchmark.id_kind)}
    if benchmark.inline_references:
        references, criteria = _inline(folder, benchmark.id_kind)
        reference_name = None
    else:
        (references, reference_name), criteria = _references(benchmark, folder, reference), {}
    subset = _chosen(questions, question_ids, limit, benchmark.id_kind)
    judged = set(subset) if subset is not None else set(questions)
    answers: dict[str, dict[QuestionId, Answer]] = {}
    seen: set[tuple[str, QuestionId]] = set()
    for given in answer_paths:
        path = answers_path(given, benchmark)
        for a in read_answers(path, benchmark.id_kind):
            if a.question_id not in questions:
                raise JevalError(f"{path}: answer to question {a.question_id}, which is not among the "
                                 f"{len(questions)} prepared questions of {benchmark.title}")
            if (a.model_id, a.question_id) in seen:
                raise JevalError(f"{path}: a second answer of {a.model_id} to question {a.question_id} "
                                 "(two answer files of the same model?)")
            seen.add((a.model_id, a.question_id))
            if a.question_id in judged:
                answers.setdefault(a.model_id, {})[a.question_id] = a
    if not answers:
        raise JevalError("no answers given (--answers RUN_DIR_OR_FILE)")
    return Inputs(benchmark, questions, answers, references, reference_name, criteria, subset)
