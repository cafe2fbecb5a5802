"""The page around the arena: its style sheet (phone layout, locked panes) and the language of
Gradio's own labels.

Gradio translates its own labels (a chat pane's buttons, a table's menus, "Error") by the
browser's `navigator.language`, with no server setting, so a Japanese arena showed English
Gradio labels to English browsers and the reverse. `PageLanguage` is an ASGI middleware that adds
one script to the app's page, ahead of Gradio's own, reporting the arena's configured language
as the browser's; Gradio then picks its labels in that language like everything else."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PAGES = ("/", "")

CSS = """
.arena-pane .message-content, .arena-shared { overflow-wrap: anywhere; }
.arena-pane .message-content p { margin: 0.35em 0; }
.arena-pane pre, .arena-shared pre { white-space: pre-wrap; padding: 0.5em; border-radius: 6px;
                                     background: var(--background-fill-secondary); }
.arena-pane code, .arena-shared code { font-family: var(--font-mono); font-size: 0.92em; }
.arena-pane ul, .arena-shared ul { list-style: disc; padding-left: 1.4em; }
.arena-pane ol, .arena-shared ol { list-style: decimal; padding-left: 1.4em; }
.arena-pane table, .arena-shared table { border-collapse: collapse; }
.arena-pane th, .arena-pane td, .arena-shared th, .arena-shared td { border: 1px solid var(--border-color-primary);
                                                                    padding: 2px 6px; }
.arena-pane a, .arena-shared a { text-decoration: underline; }
/* A pane cannot be cleared on its own: the battle's two sides are one record. */
.arena-pane .icon-button-wrapper.top-panel { display: none !important; }
.arena-shared { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 1em; }
#terms { border: 1px solid var(--border-color-accent); border-radius: 8px; padding: 0.5em 1em; }
@media (max-width: 640px) {
  .arena-intro { font-size: 0.85em; }
  .arena-body > .arena-input { order: -1; }
  .arena-pane { height: 34vh !important; min-height: 0 !important; max-height: 34vh !important; }
  .arena-panes { flex-wrap: wrap; gap: 6px; }
  .arena-panes > * { min-width: 100% !important; }
  .arena-votes button { min-width: 45% !important; }
}
"""


def language_script(language: str) -> bytes:
    value = json.dumps(language)
    return ("<script>(() => {"
            f"const language = {value};"
            "Object.defineProperty(Navigator.prototype, 'language', {get: () => language, configurable: true});"
            "Object.defineProperty(Navigator.prototype, 'languages', {get: () => [language], configurable: true});"
            "document.documentElement.lang = language;"
            "})();</script>").encode()


class PageLanguage:
    """ASGI middleware: the app's page (`/`) gets `language_script` right after `<head>`."""

    def __init__(self, app: ASGIApp, language: str):
        self.app = app
        self.script = language_script(language)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in PAGES:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            await send_page(start, b"".join(body))

        async def send_page(start: Message, content: bytes) -> None:
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            encoded = any(k.lower() == b"content-encoding" for k, _ in headers)
            if kind.startswith(b"text/html") and not encoded and b"<head>" in content:
                content = content.replace(b"<head>", b"<head>" + self.script, 1)
            headers.append((b"content-length", str(len(content)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": content})

        await self.app(scope, receive, capture)
