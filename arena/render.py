"""Prompts and answers as HTML that can carry no markup of their own and loads nothing.

The Markdown is rendered here, on the server, by markdown-it-py with raw HTML switched off, and
the panes show the result as it is (Gradio's Chatbot with `render_markdown=False`; its own
sanitiser stays on behind this). Rendering with the same parser that decides what is code and
what is text leaves no gap between an escaping rule and the renderer's reading of it, the gap
that let a backslash before a backtick carry a live `<img>` through the earlier pre-escaping.

- Raw HTML in the text (tags, comments, `<script>`) is shown as text.
- Links keep only http, https and mailto targets (others stay text) and open in a new tab
  without a referrer; `<https://…>` autolinks are links.
- Images are never loaded: a Markdown image becomes a link to it, so that a model's answer
  cannot make the voter's browser fetch a URL (a tracking pixel, a request to an intranet host).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token

SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _safe_link(url: str) -> bool:
    return url.strip().lower().startswith(SAFE_SCHEMES)


@dataclass(frozen=True)
class Renderer:
    """Markdown to safe HTML; `image_word` labels the link that stands in for an image."""

    image_word: str = "image"
    _md: MarkdownIt = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        md = MarkdownIt("commonmark", {"html": False, "breaks": True}).enable(["table", "strikethrough"])
        md.validateLink = _safe_link  # type: ignore[method-assign]
        word = self.image_word

        def image(renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
            token = tokens[idx]
            src = str(token.attrGet("src") or "")
            alt = "".join(t.content for t in token.children or [])
            label = f"[{word}: {alt}]" if alt else f"[{word}]"
            return (f'<a href="{escapeHtml(src)}" target="_blank" rel="noopener noreferrer nofollow" '
                    f'class="arena-image-link">{escapeHtml(label)}</a>')

        def link_open(renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
            tokens[idx].attrSet("target", "_blank")
            tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
            return renderer.renderToken(tokens, idx, options, env)

        md.add_render_rule("image", image)
        md.add_render_rule("link_open", link_open)
        object.__setattr__(self, "_md", md)

    def html(self, text: str) -> str:
        return self._md.render(text or "").strip()

    def chat_messages(self, prompts: Sequence[str], answers: Sequence[str],
                      note: str | None = None) -> list[dict[str, str]]:
        """Chatbot messages for one side; `answers` may be one shorter than `prompts` (still
        streaming). `note` (the arena's own Markdown) goes under the last answer."""
        out = []
        for i, prompt in enumerate(prompts):
            out.append({"role": "user", "content": self.html(prompt)})
            if i < len(answers):
                content = self.html(answers[i])
                if note and i == len(prompts) - 1:
                    content = f"{content}\n{self.html(note)}" if content else self.html(note)
                out.append({"role": "assistant", "content": content})
        return out
