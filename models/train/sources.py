"""Reading the corpora a training config names into documents, chats or preference pairs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from transformers import PreTrainedTokenizerBase

from jeval.errors import JevalError
from jeval.models.train import corpus
from jeval.models.train.config import SourceConfig

log = logging.getLogger(__name__)


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as e:
                raise JevalError(f"{path}:{n}: not valid JSON ({e.msg})") from None


def _messages(path: Path, n: int, record: Any) -> list[dict[str, str]]:
    messages = record.get("messages") if isinstance(record, dict) else None
    if not (isinstance(messages, list) and messages
            and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in messages)):
        raise JevalError(f"{path}:{n}: expected {{\"messages\": [{{\"role\": ..., \"content\": ...}}, ...]}}")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def jaster_pairs(path: Path) -> list[tuple[str, str]]:
    """(zero-shot llm-jp-eval prompt, answer) for every sample of a prepared Jaster split; the
    header comes from the task's `frame.json` beside it, as the evaluation reads it."""
    from jeval.tasks.jaster.protocol import build_prompt, read_split

    data = read_split(path)
    frame = path.parent / "frame.json"
    header = json.loads(frame.read_text(encoding="utf-8"))["header"] if frame.is_file() else ""
    if not header:
        log.warning("%s: no frame.json beside it; prompts are built without llm-jp-eval's header sentence", path)
    return [(build_prompt(header, data["instruction"], [], s["input"]), s["output"]) for s in data["samples"]]


def chats(source: SourceConfig) -> list[list[dict[str, str]]]:
    """Conversations of a `chat` or `jaster` source (a Jaster sample is one user/assistant turn)."""
    out: list[list[dict[str, str]]] = []
    for path in source.paths:
        if source.format == "chat":
            out.extend(_messages(path, n, r) for n, r in _jsonl(path))
        elif source.format == "jaster":
            out.extend([{"role": "user", "content": p}, {"role": "assistant", "content": a}]
                       for p, a in jaster_pairs(path))
        else:
            raise JevalError(f"sources.{source.name}: SFT needs chat or jaster data, not {source.format}")
    if source.format == "builtin":
        out.extend(c["messages"] for c in corpus.chat_documents())
    return out


def preferences(source: SourceConfig) -> list[dict[str, str]]:
    out = []
    for path in source.paths:
        for n, r in _jsonl(path):
            if not (isinstance(r, dict) and all(isinstance(r.get(k), str) for k in ("prompt", "chosen", "rejected"))):
                raise JevalError(f"{path}:{n}: expected string fields prompt, chosen, rejected")
            out.append({k: r[k] for k in ("prompt", "chosen", "rejected")})
    return out


def documents(source: SourceConfig, tokenizer: PreTrainedTokenizerBase | None, seed: int = 0) -> list[str]:
    """The source as plain documents. Chats are rendered with the tokenizer's chat template
    (without it, as `role: content` lines, which is what a tokenizer is trained on)."""
    if source.format == "builtin":
        texts = corpus.pretraining_documents(seed) + corpus.multiple_choice_documents(seed)
        return texts + [_render(c["messages"], tokenizer) for c in corpus.chat_documents(seed)]
    out: list[str] = []
    for path in source.paths:
        if source.format == "text":
            blocks = path.read_text(encoding="utf-8").split("\n\n")
            out.extend(b.strip() for b in blocks if b.strip())
        elif source.format == "jsonl":
            for n, r in _jsonl(path):
                text = r.get(source.text_field) if isinstance(r, dict) else None
                if not isinstance(text, str):
                    raise JevalError(f"{path}:{n}: no string field {source.text_field!r} (set text_field)")
                out.append(text)
        elif source.format == "chat":
            out.extend(_render(_messages(path, n, r), tokenizer) for n, r in _jsonl(path))
        elif source.format == "jaster":
            out.extend(p + a for p, a in jaster_pairs(path))
        elif source.format == "preference":
            out.extend(r["prompt"] + r["chosen"] for r in preferences(source))
    if not out:
        raise JevalError(f"sources.{source.name}: no documents in {', '.join(map(str, source.paths))}")
    return out


def _render(messages: list[dict[str, str]], tokenizer: PreTrainedTokenizerBase | None) -> str:
    if tokenizer is not None and tokenizer.chat_template:
        return cast(str, tokenizer.apply_chat_template(messages, tokenize=False))
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages)
