"""What a pane shows of a prompt or an answer: Markdown as HTML with no markup of the text's own,
no image that loads, only http(s)/mailto links, autolinks as links. (The same cases in a real
browser, with every request recorded: tests/test_arena_browser.py.)"""

from __future__ import annotations

import re

import pytest

from jeval.arena.render import Renderer

render = Renderer("画像").html


def tags(html: str) -> set[str]:
    return {t.lower() for t in re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html)}


ALLOWED_TAGS = {"p", "a", "strong", "em", "code", "pre", "br", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
                "blockquote", "hr", "table", "thead", "tbody", "tr", "th", "td", "s"}


@pytest.mark.parametrize("text", [
    "\\`<img src=x onerror=alert(1)>`",
    "\\\\`<img src=x onerror=alert(1)>`",
    "<img src=https://evil.example/a.png>",
    "<script>alert(1)</script>",
    "<iframe src=https://evil.example/></iframe>",
    "<!-- <img src=x> -->",
    "<svg onload=alert(1)>",
    "`code` <b onmouseover=alert(1)>bold</b>",
    "<a href='javascript:alert(1)'>x</a>",
    "<style>body{background:url(https://evil.example/)}</style>",
    "x\n\n<details open ontoggle=alert(1)>",
])
def test_raw_html_never_becomes_markup(text):
    html = render(text)
    assert tags(html) <= ALLOWED_TAGS
    assert "<img" not in html and "<script" not in html and "<iframe" not in html and "<svg" not in html


def test_the_backslash_backtick_case_shows_the_tag_as_text():
    html = render("\\`<img src=x onerror=window.__pwned=1>`")
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in html
    assert "<img" not in html


def test_markdown_images_become_links_and_never_load():
    html = render("before ![a cat](https://evil.example/cat.png) after")
    assert "<img" not in html
    assert ('<a href="https://evil.example/cat.png" target="_blank" rel="noopener noreferrer nofollow" '
            'class="arena-image-link">[画像: a cat]</a>') in html
    assert "<img" not in render("![x](data:image/png;base64,AAAA)")
    assert "<img" not in render("[![inner](https://evil.example/i.png)](https://example.com/)")


def test_autolinks_and_links_render_with_safe_targets_only():
    html = render("see <https://example.com/a?b=1&c=2> and [docs](https://example.org/docs)")
    assert '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">' \
           'https://example.com/a?b=1&amp;c=2</a>' in html
    assert '<a href="https://example.org/docs"' in html
    for unsafe in ("[x](javascript:alert(1))", "[x](data:text/html,hi)", "[x](vbscript:msgbox)", "[x](file:///etc)",
                   "<javascript:alert(1)>", "[x](/gradio_api/file=secret)"):
        assert "<a" not in render(unsafe), unsafe


def test_markdown_keeps_its_meaning():
    assert render("**太字** と *斜体*") == "<p><strong>太字</strong> と <em>斜体</em></p>"
    assert render("```python\nprint('<b>')\n```") == \
        '<pre><code class="language-python">print(\'&lt;b&gt;\')\n</code></pre>'
    assert "<br />" in render("一行目\n二行目")
    assert "<table>" in render("| a | b |\n|---|---|\n| 1 | 2 |")
    assert render("") == ""


def test_chat_messages_render_both_roles_and_put_the_note_after_an_unclosed_fence():
    messages = Renderer().chat_messages(["q1", "<b>q2</b>"], ["a1", "```\nunclosed"], note="*(cut)*")
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[2]["content"] == "<p>&lt;b&gt;q2&lt;/b&gt;</p>"
    assert messages[3]["content"].endswith("</pre>\n<p><em>(cut)</em></p>")
    assert len(Renderer().chat_messages(["q1", "q2"], ["a1"])) == 3
