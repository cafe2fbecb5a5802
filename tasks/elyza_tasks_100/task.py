"""ELYZA-tasks-100: 100 Japanese instructions with a reference answer and grading notes, answered
over chat and graded 1-5 by an LLM judge (`jeval judge`).

`jeval data prepare elyza_tasks_100` fetches the dataset's `test.csv` (columns `input`, `output`,
`eval_aspect`; quoted fields span lines) at a pinned revision and writes `questions.jsonl`, one
record per row in file order:

    {"question_id": 1..100, "category": "elyza_tasks_100", "turns": [input],
     "reference": output, "eval_aspect": eval_aspect}

Protocol `jeval-elyza-tasks-100-1`: the instruction as the one user turn (no system prompt),
greedy, up to 2,048 new tokens, as shisa-ai/shaberi generated ELYZA-tasks-100 answers when its
published gpt-4-turbo judgments began (llm_functions.py @ af091b4, 2024-04-04: temperature 0,
max_tokens 2048; shaberi later moved to temperature 0.2, min_p 0.1 and a system prompt).

It also writes `judge_prompts.jsonl`, the grading prompt of the GPT-4 automatic evaluation with
ELYZA's rubric (Northern-System-Service/gpt4-autoeval's `prompt_eval.txt`, a 1-5 grade asked as
JSON `{"reason", "grade"}`), as one FastChat judge-prompt record named `elyza-autoeval`; its
placeholders are renamed to the judge's (`{input_text}` -> `{question}`, `{output_text}` ->
`{ref_answer_1}`, `{eval_aspect}` -> `{criteria}`, `{pred}` -> `{answer}`), nothing else changes.

A run writes the answers twice (run folder): FastChat's answer format
(`answers/elyza_tasks_100.jsonl`) and shaberi's answer file (`answers/elyza_tasks_100.shaberi.jsonl`,
JSON Lines `{"Question", "output", "eval_aspect", "ModelAnswer"}` in the dataset's order).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl
from jeval.source_status import GITHUB_PINNED, SourceStatus
from jeval.task import Source
from jeval.tasks.chat_bench.files import ChatQuestion, read_questions
from jeval.tasks.chat_bench.task import ChatBenchTask, ChatProtocol

NAME = "elyza_tasks_100"
REVISION = "240fc800c4695d86ce0f32a713e199cd2ba66ab6"
"""The dataset's `main` when this was written (2023-12-27); `test.csv` is unchanged since its
first upload (2ea63e3, 2023-08-28)."""
SHA256 = "51412fbfc955e06e59f6cae2cb564b43758cb5360d6dd65715e6558861dd524c"
TEST_CSV = Source(
    f"https://huggingface.co/datasets/elyza/ELYZA-tasks-100/resolve/{REVISION}/test.csv", SHA256,
    "CC BY-SA 4.0 (ELYZA-tasks-100, ELYZA, Inc.)",
    alternatives=(
        # Byte-identical copies of the same file kept in GitHub repositories.
        "https://raw.githubusercontent.com/YoutechA320U/ELYZA-tasks-100-AutoEval/"
        "6fef053b2eb8b7952d873a4bb45000a515785745/test.csv",
        "https://raw.githubusercontent.com/wmoto-ai/elyza-tasks-100-humanevaluator/"
        "50c4d7511f9e304d8840293e0bac9f25c919a19d/data/elyza_tasks_100.csv",
    ),
    status=SourceStatus("available", "open", "its checksum is that of the two public GitHub copies, at pinned "
                                             "commits, tried where Hugging Face does not give the file"))
AUTOEVAL_COMMIT = "75413eaad90ce47ef648f2be60960f8d2b35d88f"
JUDGE_PROMPT = Source(
    f"https://raw.githubusercontent.com/Northern-System-Service/gpt4-autoeval/{AUTOEVAL_COMMIT}/assets/prompt_eval.txt",
    "f95cde798920d6d3600a403bfd31927e26f62bdc0eed48aa6e4c3cb95968a459", "MIT (Northern-System-Service/gpt4-autoeval)",
    status=GITHUB_PINNED)
"""The judge's prompt, not the answers' (the judge records the prompt set it used), so a stand-in
copy does not mark the generation protocol."""
JUDGE_PROMPT_NAME = "elyza-autoeval"
PLACEHOLDERS = {"input_text": "question", "output_text": "ref_answer_1", "eval_aspect": "criteria", "pred": "answer"}
JUDGE_PROMPTS_FILE = "judge_prompts.jsonl"
HEADER = ("input", "output", "eval_aspect")
QUESTIONS_FILE = "questions.jsonl"
SHABERI_FILE = Path("answers") / f"{NAME}.shaberi.jsonl"
PROTOCOL = ChatProtocol(
    "jeval-elyza-tasks-100-1", max_tokens=2048, temperatures={}, default_temperature=0.0,
    basis="shisa-ai/shaberi llm_functions.py @ af091b4 (2024-04-04): one user message, temperature 0, "
          "max_tokens 2048")


@dataclass(frozen=True)
class ElyzaTask:
    input: str
    output: str
    eval_aspect: str


def read_tasks_csv(path: Path) -> list[ElyzaTask]:
    """The rows of ELYZA-tasks-100's CSV: a header of exactly `input,output,eval_aspect`, then
    three non-empty fields a row (quoted fields may span lines). A malformed row is an error
    naming the line where it starts and its row number."""
    try:
        text = path.read_bytes().decode("utf-8-sig")  # line breaks inside quoted fields kept as they are
    except FileNotFoundError:
        raise JevalError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        raise JevalError(f"{path}: not UTF-8 text ({e.reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    tasks: list[ElyzaTask] = []
    header_seen = False
    start = 1
    try:
        for fields in reader:
            where = f"{path}:{start}"
            start = reader.line_num + 1
            if not fields:
                continue
            if not header_seen:
                if tuple(fields) != HEADER:
                    raise JevalError(f"{where}: the header must be exactly {','.join(HEADER)}, found "
                                     f"{','.join(fields)[:200]}")
                header_seen = True
                continue
            row = len(tasks) + 1
            if len(fields) != len(HEADER):
                raise JevalError(f"{where}: row {row} has {len(fields)} fields, expected {len(HEADER)} "
                                 f"({', '.join(HEADER)}); a field holding a comma or a line break must be quoted")
            empty = [name for name, value in zip(HEADER, fields, strict=True) if not value.strip()]
            if empty:
                raise JevalError(f"{where}: row {row} has an empty {', '.join(empty)}")
            tasks.append(ElyzaTask(*fields))
    except csv.Error as e:
        raise JevalError(f"{path}:{start}: row {len(tasks) + 1} is not valid CSV ({e})") from None
    if not header_seen:
        raise JevalError(f"{path}: the file is empty (expected a header {','.join(HEADER)} and rows)")
    if not tasks:
        raise JevalError(f"{path}: the file holds a header and no rows")
    return tasks


def judge_prompt_record(path: Path, url: str) -> dict[str, str]:
    """The grading prompt as a FastChat judge-prompt record, its placeholders renamed; a file
    without exactly the four placeholders is not the prompt this protocol reads."""
    import string

    template = path.read_text(encoding="utf-8")
    try:
        found = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as e:
        raise JevalError(f"{path}: not a prompt template ({e})") from None
    if found != set(PLACEHOLDERS):
        raise JevalError(f"{path}: the grading prompt must hold the placeholders {', '.join(sorted(PLACEHOLDERS))}; "
                         f"found {', '.join(sorted(found)) or 'none'}")
    for old, new in PLACEHOLDERS.items():
        template = template.replace("{" + old + "}", "{" + new + "}")
    return {"name": JUDGE_PROMPT_NAME, "type": "single", "category": "general", "output_format": "grade-json",
            "system_prompt": "", "prompt_template": template, "description": "ELYZA-tasks-100 grading, 1-5",
            "source": url}


class ElyzaTasks100Task(ChatBenchTask):
    name = NAME
    label = "ELYZA-tasks-100"
    protocol = PROTOCOL

    def sources(self) -> tuple[Source, ...]:
        return (TEST_CSV, JUDGE_PROMPT)

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        tasks = read_tasks_csv(files[TEST_CSV.url])
        atomic_write_jsonl(out_dir / JUDGE_PROMPTS_FILE,
                           [judge_prompt_record(files[JUDGE_PROMPT.url], JUDGE_PROMPT.url)])
        atomic_write_jsonl(out_dir / QUESTIONS_FILE, [
            {"question_id": n, "category": NAME, "turns": [t.input], "reference": t.output,
             "eval_aspect": t.eval_aspect}
            for n, t in enumerate(tasks, 1)])

    def prepared_counts(self, task_dir: Path) -> dict[str, int]:
        return {"test": len(self.read_prepared(task_dir))}

    def read_prepared(self, task_dir: Path) -> list[ChatQuestion]:
        return read_questions(task_dir / QUESTIONS_FILE, "int", text_fields=("reference", "eval_aspect"))

    def item_metadata(self, question: ChatQuestion) -> dict[str, Any]:
        return {"reference": question.extra["reference"], "eval_aspect": question.extra["eval_aspect"]}

    def write_outputs(self, rows: list[dict[str, Any]], run_dir: Path, results: Mapping[str, Any]) -> None:
        """FastChat's answer format, and shaberi's answer file."""
        super().write_outputs(rows, run_dir, results)
        atomic_write_jsonl(run_dir / SHABERI_FILE, [
            {"Question": row["prompt"], "output": row["reference"], "eval_aspect": row["eval_aspect"],
             "ModelAnswer": row["output"]}
            for row in rows])
