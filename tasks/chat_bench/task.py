"""What the single-turn chat benchmarks share: a named generation protocol (temperature per
category, answer length), one chat request per question (the question as the one user turn, no
system prompt; the server applies the model's chat template), and the answers written in
FastChat's answer format for `jeval judge`.

These benchmarks are scored by an LLM judge, not by the run: the run's only metric is `answered`
(the share of questions with a non-empty answer), and the task declares no leaderboard columns.
They are zero-shot: `--shots N` is refused.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl
from jeval.task import ColumnValue, GenerationTask, Request, TaskInputs, TaskRequests, TaskSpec
from jeval.tasks.chat_bench.files import ChatQuestion
from jeval.tasks.fastchat_files import run_answer_record


@dataclass(frozen=True)
class ChatProtocol:
    """How answers are generated. A temperature of 0 is greedy decoding."""

    name: str
    max_tokens: int
    temperatures: Mapping[str, float]
    """Temperature per question category."""
    default_temperature: float | None
    """For a category not in `temperatures`; None: such a category is an error."""
    basis: str
    """Where the settings come from."""
    not_applied: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the reference implementation that an OpenAI-compatible chat request from jeval
    does not carry (recorded, not applied)."""

    def knows(self, category: str) -> bool:
        return category in self.temperatures or self.default_temperature is not None

    def temperature(self, category: str) -> float:
        if category in self.temperatures:
            return self.temperatures[category]
        if self.default_temperature is None:
            raise JevalError(f"protocol {self.name} has no temperature for category {category!r} "
                             f"(it knows: {', '.join(self.temperatures)})")
        return self.default_temperature

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "max_tokens": self.max_tokens, "temperatures": dict(self.temperatures),
                "default_temperature": self.default_temperature, "basis": self.basis,
                "not_applied": dict(self.not_applied), "messages": "the question as the one user turn"}


class ChatBenchTask(GenerationTask):
    """A single-turn chat benchmark: subclasses say what it is called, how its questions are
    prepared and read, and which protocol generates its answers."""

    name: str
    label: str
    protocol: ChatProtocol

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(self.name, "chat", self.protocol.name, self.name, needs=frozenset({"chat"}), label=self.label)

    @property
    def answers_file(self) -> Path:
        return Path("answers") / f"{self.name}.jsonl"

    @abstractmethod
    def read_prepared(self, task_dir: Path) -> list[ChatQuestion]:
        """The prepared questions, in order."""

    def item_metadata(self, question: ChatQuestion) -> dict[str, Any]:
        """What a request carries beyond the question id, category and decoding (for write_outputs)."""
        return {}

    def check_categories(self, questions: list[ChatQuestion], path: Path) -> list[ChatQuestion]:
        """The questions, each of a category the protocol has a temperature for."""
        for q in questions:
            if not self.protocol.knows(q.category):
                raise JevalError(f"{path}: question {q.question_id!r} has category {q.category!r}, for which "
                                 f"protocol {self.protocol.name} has no temperature (it knows: "
                                 f"{', '.join(self.protocol.temperatures)})")
        return questions

    def max_shots(self, task_dir: Path) -> int | None:
        return 0

    def requests(self, inputs: TaskInputs) -> TaskRequests:
        if inputs.shots:
            raise JevalError(f"{self.name} is zero-shot; drop --shots {inputs.shots}")
        chosen = self.protocol
        requests = []
        for q in self.read_prepared(inputs.data_dir)[:inputs.limit]:
            temperature = chosen.temperature(q.category)
            requests.append(Request(
                task=self.name, key=str(q.question_id), prompt=q.text, max_tokens=chosen.max_tokens, target="",
                temperature=temperature,
                metadata={"question_id": q.question_id, "category": q.category, "protocol": chosen.name,
                          "temperature": temperature, "max_tokens": chosen.max_tokens, **self.item_metadata(q)},
                messages=({"role": "user", "content": q.text},)))
        fingerprint = hashlib.sha256(json.dumps(chosen.describe(), sort_keys=True).encode()).hexdigest()
        return TaskRequests(requests, fingerprint)

    def score(self, request: Request, output: str) -> dict[str, Any]:
        return {"answered": 1.0 if output.strip() else 0.0}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, Any]:
        if not scores:
            return {"answered": float("nan")}
        return {"answered": sum(s["answered"] for s in scores) / len(scores)}

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        """None: answering is not a score; this benchmark's columns come from `jeval judge`."""
        return []

    def fastchat_answers(self, rows: list[dict[str, Any]], results: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The answers in FastChat's answer format (`question_id` typed as in the prepared questions)."""
        model = results["model"]
        recorded = results.get("tasks", {}).get(self.name, {}).get("protocol")
        now = time.time()
        return [run_answer_record(row["question_id"], [row["output"]], model, now, {
                    "protocol": recorded or row["protocol"], "temperature": row["temperature"],
                    "max_tokens": row["max_tokens"]})
                for row in rows]

    def write_outputs(self, rows: list[dict[str, Any]], run_dir: Path, results: Mapping[str, Any]) -> None:
        """The answers in FastChat's answer format, for `jeval judge` and FastChat-style tools."""
        atomic_write_jsonl(run_dir / self.answers_file, self.fastchat_answers(rows, results))
