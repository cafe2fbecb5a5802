"""`jeval ifeval check`: check any model's M-IFEval responses without running the model.

The responses come in upstream's response-data form (one JSON object a line with `prompt` and
`response`); the prompt identifies the item among the prepared M-IFEval items (or those of an
upstream input-data file given with `--input-data`). `--format json` writes one line per response
as upstream's `eval_results_{strict,loose}.jsonl` do; `--format table` (the default) prints the four
accuracies and the per-instruction rates. Every response is checked in both modes; `--loose`
chooses which verdicts the JSON lines carry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from jeval.errors import JevalError
from jeval.io import atomic_write_text, default_home, read_jsonl_numbered
from jeval.tasks.m_ifeval.task import ITEMS_FILE, NAME, accuracies, by_instruction, read_items, upstream_rows, verdicts


def read_responses(path: Path) -> list[tuple[int, str, str]]:
    """(line, prompt, response) per line of a response-data file; a line without both as text, or
    a prompt given twice, is an error naming the line."""
    found: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for line, record in read_jsonl_numbered(path):
        prompt, response = record.get("prompt"), record.get("response")
        if not isinstance(prompt, str) or not isinstance(response, str):
            raise JevalError(f"{path}:{line}: expected {{\"prompt\": text, \"response\": text}} (M-IFEval's "
                             "response-data form)")
        if prompt in seen:
            raise JevalError(f"{path}:{line}: the prompt of line {seen[prompt]} again; give one response per prompt")
        seen[prompt] = line
        found.append((line, prompt, response))
    if not found:
        raise JevalError(f"{path}: no responses")
    return found


def check_file(responses: Path, items_file: Path) -> list[dict[str, Any]]:
    items = {item.prompt: item for item in read_items(items_file)}
    checked = []
    for line, prompt, response in read_responses(responses):
        item = items.get(prompt)
        if item is None:
            raise JevalError(f"{responses}:{line}: the prompt is not one of the {len(items)} M-IFEval items of "
                             f"{items_file} (it begins {prompt[:40]!r}); responses are matched by their exact prompt")
        checked.append({**verdicts(item, response), "instruction_id_list": list(item.instruction_ids),
                        "prompt": prompt, "output": response})
    return checked


def table(checked: list[dict[str, Any]]) -> str:
    scores = accuracies(checked)
    lines = [f"{len(checked)} responses", ""]
    lines += [f"{name:<24} {value:.4f}" for name, value in scores.items()]
    lines += ["", f"{'instruction':<46} {'n':>4} {'strict':>7} {'loose':>7}"]
    for name, row in by_instruction(checked).items():
        lines.append(f"{name:<46} {row['n']:>4} {row['strict']:>7.3f} {row['loose']:>7.3f}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    items_file = args.input_data or (args.data_dir or default_home() / "data") / NAME / ITEMS_FILE
    if not items_file.exists():
        raise JevalError(f"{items_file}: no M-IFEval items; run `jeval data prepare {NAME}` or give --input-data "
                         "(upstream's ja_input_data.jsonl)")
    checked = check_file(args.responses, items_file)
    if args.format == "json":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in upstream_rows(checked, loose=args.loose))
    else:
        text = table(checked) + "\n"
    if args.output is not None:
        atomic_write_text(args.output, text)
        scores = accuracies(checked)
        print(f"{len(checked)} responses checked; prompt-level strict {scores['prompt_level_strict_acc']:.4f}, "
              f"loose {scores['prompt_level_loose_acc']:.4f}; written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Instruction following (M-IFEval, Japanese): check "
                                                            "responses by M-IFEval's rules.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug logging")
    sub = parser.add_subparsers(dest="ifeval_command", metavar="ACTION", required=True)
    p = sub.add_parser("check", help="check a response-data file (JSON Lines with prompt and response)")
    p.add_argument("responses", type=Path, help="JSON Lines, one {\"prompt\", \"response\"} per line")
    p.add_argument("--loose", action="store_true", help="with --format json: loose verdicts (default: strict)")
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="table: accuracies and per-instruction rates; json: one line per response as upstream's "
                        "eval_results files")
    p.add_argument("--input-data", type=Path, help="upstream's ja_input_data.jsonl (default: the prepared items)")
    p.add_argument("--data-dir", type=Path, help="prepared data (default: $JEVAL_HOME/data)")
    p.add_argument("--output", type=Path, help="write here instead of standard output")
    p.set_defaults(func=cmd_check)
    return parser
