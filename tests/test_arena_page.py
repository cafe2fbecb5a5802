"""The page the arena serves says its configured language to Gradio before Gradio's own scripts
run, so that Gradio's labels follow the arena's language (Japanese by default, English on
request) whatever the browser's language is; nothing else the app serves is changed."""

from __future__ import annotations

import random
import socket

import httpx
import pytest

from jeval.arena.app import launch
from jeval.arena.config import parse_config
from jeval.arena.service import ArenaService
from jeval.arena.store import VoteStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_page_reports_the_arena_language_before_gradio_loads(tmp_path, language):
    config = parse_config({"models": [{"name": "x", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
                                      {"name": "y", "base_url": "http://127.0.0.1:9/v1", "model": "m"}],
                           "store": f"sqlite:///{tmp_path / 'votes.sqlite'}", "ui": {"language": language}})
    service = ArenaService(config, VoteStore(config.store), random.Random(0))
    demo, url = launch(service, "127.0.0.1", free_port())
    try:
        page = httpx.get(url, headers={"Accept-Language": "fr-FR"})
        assert page.status_code == 200 and int(page.headers["content-length"]) == len(page.content)
        html = page.text
        script = html.index(f'const language = "{language}";')
        assert script < html.index('<script type="module"'), "before Gradio's own module"
        assert html.count("const language") == 1
        config_json = httpx.get(url.rstrip("/") + "/config").text
        assert "const language" not in config_json
        tab = "Battle" if language == "en" else "バトル"
        assert tab in config_json
    finally:
        demo.close()
        service.store.close()
