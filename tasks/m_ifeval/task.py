"""The `m_ifeval_ja` task: M-IFEval's 172 Japanese prompts, answered zero-shot over chat and
checked by rules (jeval.tasks.m_ifeval.checks), strict and loose.

`jeval data prepare m_ifeval_ja` fetches lightblue-tech/M-IFEval's `data/ja_input_data.jsonl` at
a pinned commit, checks that every item names only instructions the checker knows (with valid
arguments), and writes `items.jsonl` in the same form. Each prompt is sent as one user turn,
greedy, with room for 1,280 tokens (lm-eval's IFEval generation length). The metrics are IFEval's
four accuracies, named as lm-eval names them: prompt level (every instruction of the prompt
followed) and instruction level (each instruction on its own), strict and loose.

A run also writes upstream's files (`m_ifeval_ja/` in the run folder): the response data
(`prompt`, `response`) and `eval_results_strict.jsonl` / `eval_results_loose.jsonl`, so M-IFEval's
own tools read them, and `jeval ifeval check` checks any model's response file the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_jsonl, read_jsonl_numbered
from jeval.source_status import GITHUB_PINNED
from jeval.task import ColumnValue, GenerationTask, Request, Source, TaskInputs, TaskRequests, TaskSpec, finite

NAME = "m_ifeval_ja"
PROTOCOL = "jeval-m-ifeval-ja-1"
COMMIT = "0bc3143a919eef2f9ec64aa26da8a546086653de"
INPUT_DATA = Source(f"https://raw.githubusercontent.com/lightblue-tech/M-IFEval/{COMMIT}/data/ja_input_data.jsonl",
                    "d74fbbd10fe512ad0a487e1dc85823ecfb9addcdc08fb9182d68616d6056782e",
                    "Apache-2.0 (lightblue-tech/M-IFEval)", status=GITHUB_PINNED)
ITEMS_FILE = "items.jsonl"
MAX_TOKENS = 1280
METRICS = ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc", "inst_level_loose_acc")
OUTPUT_DIR = Path("m_ifeval_ja")


def read_items(path: Path) -> list[Any]:
    """The items of an M-IFEval input-data file, each checked against the checker's instructions;
    a malformed line, an unknown instruction id or bad arguments are errors naming the line."""
    from jeval.tasks.m_ifeval.checks import IfevalItem, validate

    items: list[Any] = []
    seen: dict[str, int] = {}
    for line, record in read_jsonl_numbered(path):
        try:
            item = IfevalItem.from_record(record)
            validate(item)
        except JevalError as e:
            raise JevalError(f"{path}:{line}: {e}") from None
        if item.prompt in seen:
            raise JevalError(f"{path}:{line}: item {item.key} repeats the prompt of line {seen[item.prompt]} "
                             "(responses are matched to items by their prompt)")
        seen[item.prompt] = line
        items.append(item)
    if not items:
        raise JevalError(f"{path}: no items")
    return items


def item_record(item: Any) -> dict[str, Any]:
    return {"key": item.key, "prompt": item.prompt, "instruction_id_list": list(item.instruction_ids),
            "kwargs": [dict(k) for k in item.kwargs]}


def verdicts(item: Any, response: str) -> dict[str, Any]:
    """One response's strict and loose verdicts, per instruction and for the whole prompt."""
    from jeval.tasks.m_ifeval.checks import follows

    strict, loose = follows(item, response), follows(item, response, loose=True)
    return {"follow_instruction_list": strict, "follow_all_instructions": all(strict),
            "follow_instruction_list_loose": loose, "follow_all_instructions_loose": all(loose)}


def accuracies(checked: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """IFEval's four accuracies over per-response verdicts (as `verdicts` gives them)."""
    if not checked:
        return {name: float("nan") for name in METRICS}
    strict = [v for c in checked for v in c["follow_instruction_list"]]
    loose = [v for c in checked for v in c["follow_instruction_list_loose"]]
    return {"prompt_level_strict_acc": sum(c["follow_all_instructions"] for c in checked) / len(checked),
            "inst_level_strict_acc": sum(strict) / len(strict) if strict else float("nan"),
            "prompt_level_loose_acc": sum(c["follow_all_instructions_loose"] for c in checked) / len(checked),
            "inst_level_loose_acc": sum(loose) / len(loose) if loose else float("nan")}


def by_instruction(checked: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | int]]:
    """Per instruction id: how often it was asked and followed (strict, loose)."""
    counts: dict[str, list[int]] = {}
    for c in checked:
        for name, s, lo in zip(c["instruction_id_list"], c["follow_instruction_list"],
                               c["follow_instruction_list_loose"], strict=True):
            found = counts.setdefault(name, [0, 0, 0])
            found[0], found[1], found[2] = found[0] + 1, found[1] + int(s), found[2] + int(lo)
    return {name: {"n": n, "strict": s / n, "loose": lo / n} for name, (n, s, lo) in sorted(counts.items())}


def upstream_rows(checked: Sequence[Mapping[str, Any]], loose: bool) -> list[dict[str, Any]]:
    """Rows of upstream's `eval_results_{strict,loose}.jsonl` from checked responses (verdicts
    with the `prompt` and the `output` checked)."""
    suffix = "_loose" if loose else ""
    return [{"follow_all_instructions": c[f"follow_all_instructions{suffix}"],
             "follow_instruction_list": c[f"follow_instruction_list{suffix}"],
             "instruction_id_list": c["instruction_id_list"], "prompt": c["prompt"], "response": c["output"]}
            for c in checked]


class MIFEvalJaTask(GenerationTask):
    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(NAME, "IF", PROTOCOL, "m_ifeval", needs=frozenset({"chat"}),
                        primary_metric="prompt_level_strict_acc", label="M-IFEval ja", column_group="instruction")

    def sources(self) -> tuple[Source, ...]:
        return (INPUT_DATA,)

    def convert(self, files: dict[str, Path], out_dir: Path) -> None:
        items = read_items(files[INPUT_DATA.url])
        atomic_write_jsonl(out_dir / ITEMS_FILE, [item_record(i) for i in items])

    def prepared_counts(self, task_dir: Path) -> dict[str, int]:
        return {"test": len(read_jsonl_numbered(task_dir / ITEMS_FILE))}

    def requests(self, inputs: TaskInputs) -> TaskRequests:
        if inputs.shots:
            raise JevalError(f"{NAME}: M-IFEval is zero-shot; drop --shots {inputs.shots}")
        items = read_items(inputs.data_dir / ITEMS_FILE)[:inputs.limit]
        requests = [Request(task=NAME, key=str(item.key), prompt=item.prompt, max_tokens=MAX_TOKENS, target="",
                            metadata={"instruction_id_list": list(item.instruction_ids),
                                      "kwargs": [dict(k) for k in item.kwargs]},
                            messages=({"role": "user", "content": item.prompt},))
                    for item in items]
        fingerprint = hashlib.sha256(json.dumps({"protocol": PROTOCOL, "max_tokens": MAX_TOKENS}).encode()).hexdigest()
        return TaskRequests(requests, fingerprint)

    def score(self, request: Request, output: str) -> dict[str, Any]:
        from jeval.tasks.m_ifeval.checks import IfevalItem

        item = IfevalItem(int(request.key), request.prompt, tuple(request.metadata["instruction_id_list"]),
                          tuple(request.metadata["kwargs"]))
        return {**verdicts(item, output), "instruction_id_list": list(item.instruction_ids)}

    def aggregate(self, scores: list[dict[str, Any]]) -> dict[str, Any]:
        return {**accuracies(scores), "by_instruction": by_instruction(scores)}

    def columns(self, result: Mapping[str, Any]) -> list[ColumnValue]:
        metrics = result.get("metrics", {})
        return [ColumnValue("M-IFEval ja", "instruction", finite(metrics.get("prompt_level_strict_acc")),
                            tasks=(NAME,)),
                ColumnValue("M-IFEval ja loose", "instruction", finite(metrics.get("prompt_level_loose_acc")),
                            order=1, tasks=(NAME,))]

    def write_outputs(self, rows: list[dict[str, Any]], run_dir: Path, results: Mapping[str, Any]) -> None:
        folder = run_dir / OUTPUT_DIR
        atomic_write_jsonl(folder / "input_response_data.jsonl",
                           [{"prompt": r["prompt"], "response": r["output"]} for r in rows])
        atomic_write_jsonl(folder / "eval_results_strict.jsonl", upstream_rows(rows, loose=False))
        atomic_write_jsonl(folder / "eval_results_loose.jsonl", upstream_rows(rows, loose=True))
