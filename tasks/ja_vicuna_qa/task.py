"""The Japanese Vicuna QA benchmark (ku-nlp): 80 single-turn questions in 9 categories, answered
over chat and judged by an LLM (`jeval judge`: pairwise against a baseline, or single-answer
grading; reference-guided for math and coding).

`jeval data prepare ja_vicuna_qa` fetches ku-nlp/ja-vicuna-qa-benchmark's `data/jp_bench/` at a
pinned commit and writes:

    questions.jsonl               {"question_id": int, "category": str, "turns": [str]}
    reference_answer/gpt-4.jsonl  GPT-4 reference answers, FastChat's answer format:
                                  {"question_id": int, "answer_id": str, "model_id": str,
                                   "choices": [{"index": 0, "turns": [str]}], "tstamp": float|null}
    judge_prompts.jsonl           upstream's judge prompts (pair, pair-math, single, single-math) as
                                  they are, plus "source" (the URL)

Question ids are integers (a numeric string upstream is read as its integer, as upstream's own
scripts do with `int(question["question_id"])`); a reference answer to a question that is not in
the question file is an error.

Protocol `ja-vicuna-qa-ku-nlp-1`, the settings of upstream's llm_judge/gen_model_answer.py at that
commit: the per-category temperature table of that script (`DEFAULT_TEMPERATURE_MAP`; upstream's
model configs leave the temperature to it since this commit), sent as it is (0.001 is all but
greedy), and a length of 2,048 tokens (the configs' `max_length: 2048`, which upstream counts with
the prompt; jeval bounds the answer alone: recorded as not applied).

A run writes the answers in FastChat's answer format (`answers/ja_vicuna_qa.jsonl` in the run
folder), `question_id` an integer as upstream's answer files have it.
"""

from __future__ import annotations

from pathlib import Path

from jeval.io import atomic_write_jsonl
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.chat_bench.files import ChatQuestion, read_answers, read_judge_prompts, read_questions
from jeval.tasks.chat_bench.task import ChatBenchTask, ChatProtocol

NAME = "ja_vicuna_qa"
COMMIT = "128a862da6a4478c3e80ab3c3b716d1417380751"
BASE = f"https://raw.githubusercontent.com/ku-nlp/ja-vicuna-qa-benchmark/{COMMIT}/data/jp_bench"
LICENSE = "Apache-2.0 (ku-nlp/ja-vicuna-qa-benchmark)"
QUESTIONS = Source(f"{BASE}/question.jsonl", "0a66a22e6c07773c35bfd2c12c1226ff2873d3e7b70981b9dec7ca8efb72b5d0",
                   LICENSE, status=GITHUB_PINNED)
REFERENCE = Source(f"{BASE}/reference_answer/gpt-4/results.jsonl",
                   "078918a9138607b91e4614097c1f6b1208e9563616ef4a1cc0339aa6526e4427", LICENSE, status=GITHUB_PINNED)
JUDGE_PROMPTS = Source(f"{BASE}/judge_prompts.jsonl",
                       "429c07ec35405812b26e10273520d8cd6ffe923808ab6021d431d9ae537be684", LICENSE,
                       status=GITHUB_PINNED)
JUDGE_PROMPT_NAMES = ("pair", "pair-math", "single", "single-math")
QUESTIONS_FILE = "questions.jsonl"
REFERENCE_FILE = Path("reference_answer") / "gpt-4.jsonl"
JUDGE_PROMPTS_FILE = "judge_prompts.jsonl"
PROTOCOL = ChatProtocol(
    "ja-vicuna-qa-ku-nlp-1", max_tokens=2048,
    temperatures={"writing": 0.7, "roleplay": 0.7, "knowledge": 0.001, "math": 0.001, "coding": 0.001,
                  "common-sense": 0.3, "counterfactual": 0.7, "fermi": 0.3, "generic": 0.1},
    default_temperature=None,
    basis=f"ku-nlp/ja-vicuna-qa-benchmark @ {COMMIT[:7]}: llm_judge/gen_model_answer.py DEFAULT_TEMPERATURE_MAP, "
          "configs' max_length 2048",
    not_applied={"max_length_counts_prompt": True})


class JaVicunaQATask(ChatBenchTask):
    name = NAME
    label = "Japanese Vicuna QA"
    protocol = PROTOCOL

    def sources(self) -> tuple[Source, ...]:
        return (QUESTIONS, REFERENCE, JUDGE_PROMPTS)

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        questions = self.check_categories(read_questions(files[QUESTIONS.url], "int"), files[QUESTIONS.url])
        known = {q.question_id for q in questions}
        references = read_answers(files[REFERENCE.url], "int", known)
        prompts = read_judge_prompts(files[JUDGE_PROMPTS.url], JUDGE_PROMPT_NAMES)
        atomic_write_jsonl(out_dir / QUESTIONS_FILE, [q.record() for q in questions])
        atomic_write_jsonl(out_dir / REFERENCE_FILE, [a.record() for a in references])
        atomic_write_jsonl(out_dir / JUDGE_PROMPTS_FILE, [{**p, "source": JUDGE_PROMPTS.url} for p in prompts])

    def prepared_counts(self, task_dir: Path) -> dict[str, int]:
        return {"test": len(self.read_prepared(task_dir)),
                "reference_answers": len(read_answers(task_dir / REFERENCE_FILE, "int")),
                "judge_prompts": len(read_judge_prompts(task_dir / JUDGE_PROMPTS_FILE))}

    def read_prepared(self, task_dir: Path) -> list[ChatQuestion]:
        return read_questions(task_dir / QUESTIONS_FILE, "int")
