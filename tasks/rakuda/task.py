"""Rakuda (v2): 40 Japanese questions on geography, politics, history and society (地理, 政治, 歴史,
社会), answered over chat and compared pairwise by an LLM judge (`jeval judge`).

`jeval data prepare rakuda` fetches yuzu-ai/japanese-llm-ranking at a pinned commit: the v2
questions (FastChat format, string ids) and the judge prompts that define Rakuda's pairwise
protocol (`pair-ja`), and writes:

    questions.jsonl       {"question_id": str (upstream's id, unchanged), "category": str, "turns": [str]}
    judge_prompts.jsonl   upstream's judge-prompt records as they are, plus "source" (the URL)

Protocol `rakuda-v2-jrank-1`, the settings of jrank's answer scripts at that commit
(gen_api_model_answer.py, gen_local_model_answer.py): the temperature of FastChat's MT-Bench
category table, else 0.7 -- Rakuda's four categories are not in the table, so every question is
sampled at 0.7 -- and up to 1,024 new tokens (`--max_tokens` default 1024). The local-model script
also samples with top_p 0.9 and counts the prompt in its 1,024 tokens; a chat request from jeval
carries neither (recorded as not applied).

A run writes the answers in FastChat's answer format (`answers/rakuda.jsonl` in the run folder),
`question_id` as the questions have it (a string).
"""

from __future__ import annotations

from pathlib import Path

from jeval.io import atomic_write_jsonl
from jeval.source_status import GITHUB_PINNED
from jeval.task import Source
from jeval.tasks.chat_bench.files import ChatQuestion, read_judge_prompts, read_questions
from jeval.tasks.chat_bench.task import ChatBenchTask, ChatProtocol

NAME = "rakuda"
COMMIT = "fae1ee79c69b0c3acf8e8a1994e43c7952e7bd9c"
BASE = f"https://raw.githubusercontent.com/yuzu-ai/japanese-llm-ranking/{COMMIT}/jrank/data"
LICENSE = "Apache-2.0 (yuzu-ai/japanese-llm-ranking)"
QUESTIONS = Source(f"{BASE}/rakuda_v2/questions.jsonl",
                   "008af104f80f4d8ccabc848253715ee6a95d404d3399b44c88e82a5dbcdbcda2", LICENSE, status=GITHUB_PINNED)
JUDGE_PROMPTS = Source(f"{BASE}/judge_prompts.jsonl",
                       "2dd1e84bce78b9b7b12b8e574cc61be30066b4ad5ffaf76b7cd5a726a20b65b5", LICENSE,
                       status=GITHUB_PINNED)
JUDGE_PROMPT_NAMES = ("pair-ja",)
"""The prompt Rakuda's pairwise judging uses (gen_judgment.py, `make_judge_pairwise`)."""
QUESTIONS_FILE = "questions.jsonl"
JUDGE_PROMPTS_FILE = "judge_prompts.jsonl"
PROTOCOL = ChatProtocol(
    "rakuda-v2-jrank-1", max_tokens=1024,
    temperatures={"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0, "reasoning": 0.0,
                  "stem": 0.1, "humanities": 0.1},
    default_temperature=0.7,
    basis=f"yuzu-ai/japanese-llm-ranking @ {COMMIT[:7]}: jrank/common.py temperature_config (else 0.7), "
          "gen_api_model_answer.py --max_tokens 1024",
    not_applied={"top_p": 0.9, "max_tokens_counts_prompt": True})


class RakudaTask(ChatBenchTask):
    name = NAME
    label = "Rakuda"
    protocol = PROTOCOL

    def sources(self) -> tuple[Source, ...]:
        return (QUESTIONS, JUDGE_PROMPTS)

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        questions = self.check_categories(read_questions(files[QUESTIONS.url], "str"), files[QUESTIONS.url])
        prompts = read_judge_prompts(files[JUDGE_PROMPTS.url], JUDGE_PROMPT_NAMES)
        atomic_write_jsonl(out_dir / QUESTIONS_FILE, [q.record() for q in questions])
        atomic_write_jsonl(out_dir / JUDGE_PROMPTS_FILE, [{**p, "source": JUDGE_PROMPTS.url} for p in prompts])

    def prepared_counts(self, task_dir: Path) -> dict[str, int]:
        return {"test": len(self.read_prepared(task_dir)),
                "judge_prompts": len(read_judge_prompts(task_dir / JUDGE_PROMPTS_FILE))}

    def read_prepared(self, task_dir: Path) -> list[ChatQuestion]:
        return read_questions(task_dir / QUESTIONS_FILE, "str")
