"""Shared set-up of the tests of tasks answered over chat (the chat benchmarks, M-IFEval): their
upstream files written as a mirror folder, and a loopback chat endpoint with canned answers (a
test double for a model)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from http_support import JsonHandler

from jeval.task import mirror_path


def jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def write_mirror_files(root: Path, files: dict[str, bytes]) -> Path:
    """`files` (URL: content) at their mirror paths (HOST/PATH) under `root`, with their checksums
    named in jeval-mirror.json."""
    for url, data in files.items():
        target = root / mirror_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "jeval-mirror.json").write_text(json.dumps(
        {"note": "jeval test items", "checksums": {u: hashlib.sha256(d).hexdigest() for u, d in files.items()}}))
    return root


class CannedChat(JsonHandler):
    """Model `m` over chat completions, answering each request with `answers[its last message]`;
    the request bodies are kept in `bodies`."""

    answers: ClassVar[dict[str, str]] = {}
    bodies: ClassVar[list[dict]] = []

    def do_GET(self):
        self._send({"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "vllm"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        text = self.answers[body["messages"][-1]["content"]]
        self._send({"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                    "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}]})


@contextmanager
def canned_chat(answers: dict[str, str]) -> Iterator[tuple[type[CannedChat], str]]:
    """A loopback CannedChat server with these answers, for the block: its handler class (with
    `bodies`, the requests it got) and its base URL."""
    handler = type("Handler", (CannedChat,), {"answers": answers, "bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield handler, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
