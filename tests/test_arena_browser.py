"""The arena in a real browser (Debian chromium driven by Playwright) against two real
`transformers serve` endpoints: a full blind battle, the reveal, the vote in the store and the
leaderboard; every byte the page receives before the vote is checked for the model names."""

from __future__ import annotations

import contextlib
import re

import pytest
from arena_support import NAMES, start_arena, start_endpoints, write_config

from jeval.arena.store import VoteStore

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# Records every chunk of every fetch response (Gradio's event stream included), every
# EventSource message and every WebSocket frame the page receives.
CAPTURE = """
(() => {
  window.__frames = [];
  const push = (x) => window.__frames.push(String(x));
  const fetch0 = window.fetch;
  window.fetch = async (...args) => {
    const response = await fetch0(...args);
    try {
      const copy = response.clone();
      if (copy.body) {
        const reader = copy.body.getReader();
        const decoder = new TextDecoder();
        (async () => {
          for (;;) {
            const {done, value} = await reader.read();
            if (done) break;
            push(decoder.decode(value, {stream: true}));
          }
        })();
      }
    } catch (e) { push("capture-error " + e); }
    return response;
  };
  const ES = window.EventSource;
  if (ES) window.EventSource = function (u, o) {
    const es = new ES(u, o);
    es.addEventListener("message", (ev) => push(ev.data));
    return es;
  };
  const WS = window.WebSocket;
  window.WebSocket = function (u, p) {
    const ws = new WS(u, p);
    ws.addEventListener("message", (ev) => push(ev.data));
    return ws;
  };
})();
"""


@pytest.fixture(scope="module")
def arena(tiny_checkpoint, tmp_path_factory):
    root = tmp_path_factory.mktemp("arena-browser")
    endpoints = start_endpoints(tiny_checkpoint, root)
    store = f"sqlite:///{root / 'votes.sqlite'}"
    config = write_config(root / "arena.yaml", endpoints.models(max_tokens=24), store,
                          leaderboard={"bootstrap": 20})
    app = start_arena(config, root / "arena.log")
    yield app, store, endpoints
    app.close()
    endpoints.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Traffic:
    """Everything a page received: response bodies (documents, config, assets) and stream frames."""

    def __init__(self, page):
        self.page = page
        self.responses = []
        page.on("response", lambda r: self.responses.append(r))
        self.ws_frames: list[str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: self.ws_frames.append(str(payload))))
        page.add_init_script(CAPTURE)

    def text(self) -> str:
        bodies = []
        for r in self.responses:
            if "/queue/data" in r.url or "/heartbeat/" in r.url:
                continue
            with contextlib.suppress(Exception):
                bodies.append(r.body().decode("utf-8", "replace"))
        frames = self.page.evaluate("window.__frames")
        return "\n".join([*bodies, *frames, *self.ws_frames, self.page.content()])


def open_arena(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    traffic = Traffic(page)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#prompt textarea")
    return page, traffic


def ask(page, prompt: str, prefix: str = "") -> None:
    """Send a prompt and wait until both answers are complete (the vote buttons open again)."""
    marker = prompt[:6]
    seen = page.inner_text(f"#{prefix}chat-a").count(marker)
    page.fill(f"#{prefix}prompt textarea", prompt)
    page.click(f"#{prefix}send")
    page.wait_for_function(
        """([chat, vote, marker, seen]) => document.querySelector(chat).innerText.split(marker).length - 1 > seen
                                           && !document.querySelector(vote).disabled""",
        arg=[f"#{prefix}chat-a", f"#{prefix}vote-a", marker, seen], timeout=120_000)


def secrets_in(text: str, endpoints) -> list[str]:
    """Model names, endpoint URLs and endpoint ports (as `:PORT`, the way a URL or host shows one: a
    bare five-digit number also turns up by chance inside timestamps and ids)."""
    lowered = text.lower()
    words = [*NAMES, *(s.base_url for s in endpoints.servers)]
    found = [w for w in words if w.lower() in lowered]
    ports = [s.base_url.rsplit(":", 1)[1].split("/")[0] for s in endpoints.servers]
    return found + [f":{p}" for p in ports if re.search(rf"(?<![0-9]):{p}(?![0-9])", text)]


def test_a_blind_battle_from_prompt_to_leaderboard(arena, browser, tmp_path):
    app, store_url, endpoints = arena
    page, traffic = open_arena(browser, app.url)
    assert page.is_disabled("#vote-a")

    ask(page, "日本で一番高い山は？")
    answers = [page.inner_text("#chat-a"), page.inner_text("#chat-b")]
    assert all("日本で一番高い山は？" in a for a in answers)
    frames = page.evaluate("window.__frames")
    assert sum("process_generating" in f for f in frames) >= 3, "answers were not streamed"
    ask(page, "もう少し詳しく。")
    assert page.inner_text("#chat-a").count("もう少し詳しく。") == 1

    before_vote = traffic.text()
    assert secrets_in(before_vote, endpoints) == []
    assert "Model A" in before_vote

    page.click("#vote-b")
    page.wait_for_function("() => document.querySelector('#battle-status').innerText.includes('Model A:')")
    status = page.inner_text("#battle-status")
    assert all(name in status for name in NAMES)
    assert page.is_disabled("#vote-a") and page.is_disabled("#send")
    assert set(NAMES) <= set(secrets_in(traffic.text(), endpoints)), "the capture must see the names once revealed"
    page.screenshot(path=str(tmp_path / "battle.png"), full_page=True)

    store = VoteStore(store_url)
    exported = store.export()
    store.close()
    assert len(exported) == 1
    battle = exported[0]
    assert battle["winner"] == "model_b" and battle["anony"] is True and battle["turn"] == 2
    assert battle["flags"] == []
    revealed_a = status.split("Model A:")[1].split("·")[0].strip(" *")
    assert battle["model_a"] == revealed_a

    page.get_by_role("tab", name="Leaderboard").click()
    page.wait_for_function(f"() => document.querySelector('#board-table').innerText.includes('{NAMES[0]}')",
                           timeout=60_000)
    board = page.inner_text("#board-table")
    assert NAMES[1] in board and "0-1-0" in board and "1-0-0" in board
    page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)

    page.get_by_role("tab", name="Battle").click()
    page.click("#new-round")
    page.wait_for_function("() => document.querySelector('#battle-status').innerText.trim() === ''")
    assert not page.is_disabled("#send") and page.is_disabled("#vote-a")
    page.close()


def test_html_and_script_in_messages_stay_text(arena, browser, tmp_path):
    app, _, _ = arena
    page, _ = open_arena(browser, app.url)
    payload = ('<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
               '<iframe src="javascript:window.__pwned=3"></iframe> [link](javascript:window.__pwned=4)')
    ask(page, payload)
    links = page.locator("#chat-a a")
    if links.count():
        links.first.click()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#chat-a img[src='x'], #chat-a script, #chat-a iframe").count() == 0
    assert "<img src=x" in page.inner_text("#chat-a")
    page.screenshot(path=str(tmp_path / "html-as-text.png"), full_page=True)
    page.close()


def test_side_by_side_votes_are_stored_as_named_and_kept_out_of_the_ranking(arena, browser):
    app, store_url, _ = arena
    page, _ = open_arena(browser, app.url)
    page.get_by_role("tab", name="Side-by-side").click()
    for picker, name in (("#side-pick-a", NAMES[1]), ("#side-pick-b", NAMES[0])):
        page.click(f"{picker} input")
        page.locator(f"{picker} li[role=option][aria-label='{name}']").click()
    ask(page, "こんにちは", prefix="side-")
    page.click("#side-vote-a")
    page.wait_for_function("() => document.querySelector('#side-status').innerText.includes('Model A:')")
    store = VoteStore(store_url)
    named = [b for b in store.export() if not b["anony"]]
    store.close()
    assert [(b["model_a"], b["model_b"], b["winner"]) for b in named] == [(NAMES[1], NAMES[0], "model_a")]
    page.close()
