"""Japanese MT-Bench: 80 two-turn questions in 8 categories, answered over chat completions.

`jeval data prepare jmt_bench` fetches Stability-AI/FastChat's jp-stable data at a pinned commit
(questions, reference answers, judge prompts) and writes the prepared folder:

    questions.jsonl                      the questions (FastChat format, integer ids)
    reference_answer/gpt-4.jsonl         GPT-4 reference answers (FastChat jp-stable's default)
    reference_answer/gpt-4o.jsonl        GPT-4o answers with human corrections (Nejumi 3's)
    judge_prompts/fastchat-ja.jsonl      Japanese single-turn prompts; the prompts the Japanese
                                         file lacks (turn 2, pairwise) from FastChat's own file
    judge_prompts/fastchat-en.jsonl      FastChat's judge prompts as they are

`jeval run --tasks jmt_bench` asks turn 1, then turn 2 with the first exchange in the dialogue,
and writes the answers in FastChat's answer format (`answers/jmt_bench.jsonl` in the run folder)
for `jeval judge`. Scores come from the judge; the run itself only records that turns were answered.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl
from jeval.source_status import GITHUB_PINNED
from jeval.task import ColumnValue, DialogueTask, Request, Source, TaskInputs, TaskRequests, TaskSpec
from jeval.tasks.fastchat_files import run_answer_record
from jeval.tasks.jmt_bench.files import Answer, read_answers, read_judge_prompts, read_questions
from jeval.tasks.jmt_bench.protocols import PROTOCOLS, protocol

COMMIT = "e37eb28ee490480f6f4989274ed47c55f7dfce82"
BASE = f"https://raw.githubusercontent.com/Stability-AI/FastChat/{COMMIT}/fastchat/llm_judge/data"
LICENSE = "Apache-2.0 (Stability-AI/FastChat)"
QUESTIONS = Source(f"{BASE}/japanese_mt_bench/question_full.jsonl",
                   "8f56c8bd5ff93d2120409bc8f77f0020e673c74548c9637f2aace12a323834e5", LICENSE, status=GITHUB_PINNED)
REF_GPT4 = Source(f"{BASE}/japanese_mt_bench/reference_answer/gpt-4.jsonl",
                  "0631685c4ebc66390970588b658e4d19047fafb0a00ec1d841616686c07b0d6b", LICENSE, status=GITHUB_PINNED)
REF_GPT4O = Source(f"{BASE}/japanese_mt_bench/reference_answer/base-gpt4o-with-human-annotation.jsonl",
                   "8ea6c0b82073908f94b57f67918de5f11286e1dd7334b366ecf47a2c9b774996", LICENSE, status=GITHUB_PINNED)
JUDGE_JA = Source(f"{BASE}/judge_ja_prompts.jsonl",
                  "a3ef723f4e282ced514c8919773549675f0c0f87a61e5a5f46c320b048803b40", LICENSE, status=GITHUB_PINNED)
JUDGE_EN = Source(f"{BASE}/judge_prompts.jsonl",
                  "fd283293406d024f44c174b094ef48031d0687a4682fd3a56b29b138f80281b6", LICENSE, status=GITHUB_PINNED)
REFERENCES = {"gpt-4": REF_GPT4, "gpt-4o": REF_GPT4O}
ANSWERS_FILE = Path("answers") / "jmt_bench.jsonl"


def _answer_rows(answers: list[Answer], model_id: str) -> list[dict[str, Any]]:
    return [{"question_id": a.question_id, "model_id": model_id,
             "choices": [{"index": 0, "turns": list(a.turns)}]} for a in answers]


class JMTBenchTask(DialogueTask):
    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("jmt_bench", "MT-Bench", PROTOCOLS["fastchat"].name, "jmt_bench", needs=frozenset({"chat"}),
                        variants=tuple(PROTOCOLS))

    def sources(self) -> tuple[Source, ...]:
        return (QUESTIONS, REF_GPT4, REF_GPT4O, JUDGE_JA, JUDGE_EN)

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        questions = read_questions(files[QUESTIONS.url])
        for q in questions:
            if len(q.turns) != 2:
                raise JevalError(f"{files[QUESTIONS.url]}: question {q.question_id} has {len(q.turns)} turns, not 2")
        atomic_write_jsonl(out_dir / "questions.jsonl",
                           [{"question_id": q.question_id, "category": q.category, "turns": list(q.turns)}
                            for q in questions])
        for name, source in REFERENCES.items():
            answers = read_answers(files[source.url])
            atomic_write_jsonl(out_dir / "reference_answer" / f"{name}.jsonl", _answer_rows(answers, name))
        english = read_judge_prompts(files[JUDGE_EN.url])
        japanese = read_judge_prompts(files[JUDGE_JA.url])
        have = {p["name"] for p in japanese}
        merged = ([{**p, "source": JUDGE_JA.url} for p in japanese]
                  + [{**p, "source": JUDGE_EN.url} for p in english if p["name"] not in have])
        atomic_write_jsonl(out_dir / "judge_prompts" / "fastchat-ja.jsonl", merged)
        atomic_write_jsonl(out_dir / "judge_prompts" / "fastchat-en.jsonl",
                           [{**p, "source": JUDGE_EN.url} for p in english])

    def requests(self, inputs: TaskInputs) -> TaskRequests:
        chosen = protocol(inputs.variant)
        questions = read_questions(inputs.data_dir / "questions.jsonl")[:inputs.limit]
        requests = [
            Request(task=self.spec.name, key=str(q.question_id), prompt=q.turns[0], max_tokens=chosen.max_tokens,
                    target="", temperature=chosen.temperature(q.category),
                    metadata={"question_id": q.question_id, "category": q.category, "turn": 1,
                              "turns": list(q.turns), "protocol": chosen.name,
                              "temperature": chosen.temperature(q.category), "max_tokens": chosen.max_tokens},
                    messages=({"role": "user", "content": q.turns[0]},))
            for q in questions
        ]
        fingerprint = hashlib.sha256(json.dumps(chosen.describe(), sort_keys=True).encode()).hexdigest()
        return TaskRequests(requests, fingerprint, chosen.name)

    def follow_up(self, request: Request, output: str) -> Request | None:
        turns = request.metadata["turns"]
        turn = request.metadata["turn"]
        if turn >= len(turns):
            return None
        messages = (*request.messages, {"role": "assistant", "content": output},
                    {"role": "user", "content": turns[turn]})
        answers = [*request.metadata.get("answers", []), output]
        prompt = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)
        return Request(task=self.spec.name, key=request.key, prompt=prompt, max_tokens=request.max_tokens, target="",
                       temperature=request.temperature, sampling=request.sampling,
                       metadata={**request.metadata, "turn": turn + 1, "answers": answers},
                       messages=messages)

    def score(self, request: Request, output: str) -> dict[str, Any]:
        turns = [*request.metadata.get("answers", []), output]
        return {"answered_turns": sum(1 for t in turns if t.strip()) / len(request.metadata["turns"])}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, float]:
        if not scores:
            return {"answered_turns": float("nan")}
        return {"answered_turns": sum(s["answered_turns"] for s in scores) / len(scores)}

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        """None: answering is not a score; MT-Bench columns come from `jeval judge` results."""
        return []

    def write_outputs(self, rows: list[dict[str, Any]], run_dir: Path, results: Mapping[str, Any]) -> None:
        """The answers in FastChat's answer format, for `jeval judge` and FastChat's own tools."""
        model = results["model"]
        now = time.time()
        out = []
        for row in rows:
            turns = [*row.get("answers", []), row["output"]]
            out.append(run_answer_record(row["question_id"], turns, model, now, {
                "protocol": row["protocol"], "temperature": row["temperature"], "max_tokens": row["max_tokens"]}))
        atomic_write_jsonl(run_dir / ANSWERS_FILE, out)
