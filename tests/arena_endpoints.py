"""A loopback server speaking the OpenAI-compatible streaming chat API (and the moderation API)
for arena tests that need a model to behave in a set way, which `transformers serve` on the tiny
checkpoint cannot be made to do: answer with a given text (the renderer cases), write a thinking
block, ignore max_tokens and stream without end, or flag a prompt. Real HTTP and real SSE frames:
the arena reaches it with the same client it uses for real endpoints.

One server, several behaviours chosen by the path's first part:
- `/echo/v1`: the answer is the last user message, streamed in small pieces;
- `/think/v1`: `<think>` + a secret + `</think>`, then the echo;
- `/endless/v1`: an endless stream of text, whatever max_tokens says (counts what it sent and
  whether the client hung up);
- `/moderation/v1/moderations`: flagged when the input contains FORBIDDEN; `/broken/v1/moderations`
  answers 500.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from dataclasses import dataclass, field

from http_support import JsonHandler

THINKING_SECRET = "考えている内容は見せない"


@dataclass
class Stats:
    endless_chars: int = 0
    endless_closed: bool = False
    requests: list[dict] = field(default_factory=list)


def _chunk(text: str) -> bytes:
    body = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()), "model": "scripted",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


def _handler(stats: Stats) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            stats.requests.append({"path": self.path, **request})
            mode = self.path.strip("/").split("/")[0]
            if self.path.endswith("/moderations"):
                if mode == "broken":
                    self._send({"error": "moderation is down"}, 500)
                    return
                text = request.get("input", "")
                self._send({"id": "modr-test", "model": "scripted",
                            "results": [{"flagged": "FORBIDDEN" in str(text), "categories": {}}]})
                return
            if not self.path.endswith("/chat/completions"):
                self._send({"error": "not found"}, 404)
                return
            last = next((m["content"] for m in reversed(request.get("messages", [])) if m["role"] == "user"), "")
            if isinstance(last, list):
                last = "".join(part.get("text", "") for part in last)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                if mode == "endless":
                    piece = "長い回答が続きます。" * 20
                    while True:
                        self.wfile.write(_chunk(piece))
                        self.wfile.flush()
                        stats.endless_chars += len(piece)
                        time.sleep(0.001)
                text = f"<think>{THINKING_SECRET}</think>\n{last}" if mode == "think" else last
                for i in range(0, len(text), 7):
                    self.wfile.write(_chunk(text[i:i + 7]))
                    self.wfile.flush()
                    time.sleep(0.005)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                if mode == "endless":
                    stats.endless_closed = True
            self.close_connection = True

    return Handler


class ScriptedEndpoints:
    def __init__(self):
        self.stats = Stats()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.stats))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{mode}/v1"

    def model(self, name: str, mode: str, **extra) -> dict:
        return {"name": name, "base_url": self.url(mode), "model": f"scripted-{mode}",
                "params": {"max_tokens": 64, "temperature": 0.0}, **extra}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def dead_url() -> str:
    """An API root on a loopback port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def refuse_forbidden(text: str) -> bool:
    """A moderation callable for `moderation.callable: arena_endpoints:refuse_forbidden`."""
    return "FORBIDDEN" in text


def broken_check(text: str) -> bool:
    raise RuntimeError("the moderation service is down")
