"""The arena in a real browser (Debian chromium driven by Playwright).

Against two real `transformers serve` endpoints: a full blind battle, the reveal, the vote in the
store and the leaderboard; every byte the page receives before the vote is checked for the model
names. Against scripted loopback endpoints (tests/arena_endpoints.py: they answer with the prompt,
so a prompt is also a model's answer): the renderer with every request the page makes recorded,
the Japanese interface on a desktop and a phone (screenshots kept as test artefacts), the terms
gate, locked panes, regenerate, share links, and a dead model replaced without retyping.

Screenshots go to the test's tmp_path, and also to $JEVAL_TEST_ARTEFACTS/<test name>/ when that
variable names a folder."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from arena_endpoints import ScriptedEndpoints, dead_url
from arena_support import NAMES, start_arena, start_endpoints, write_config

from jeval.arena.store import VoteStore, battles_table, turns_table
from jeval.arena.texts import JA

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

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
                          leaderboard={"bootstrap": 20, "refresh_s": 1})
    app = start_arena(config, root / "arena.log")
    yield app, store, endpoints
    app.close()
    endpoints.close()


@pytest.fixture(scope="module")
def scripted():
    server = ScriptedEndpoints()
    yield server
    server.close()


@pytest.fixture(scope="module")
def echo_arena(scripted, tmp_path_factory):
    """Two models that answer with the prompt; Japanese interface, the built-in terms notice."""
    root = tmp_path_factory.mktemp("arena-echo")
    store = f"sqlite:///{root / 'votes.sqlite'}"
    config = write_config(root / "arena.yaml", [scripted.model(NAMES[0], "echo"), scripted.model(NAMES[1], "echo")],
                          store, leaderboard={"bootstrap": 10, "refresh_s": 1})
    app = start_arena(config, root / "arena.log")
    yield app, store
    app.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def save_shot(page, tmp_path: Path, name: str, full_page: bool = True) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)
    folder = os.environ.get("JEVAL_TEST_ARTEFACTS")
    if folder:
        target = Path(folder) / re.sub(r"[^\w.-]+", "_", os.environ.get("PYTEST_CURRENT_TEST", "test").split(" ")[0])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / name)
    return path


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


class Requests:
    """Every request the page makes; any to a host other than loopback is recorded and refused."""

    def __init__(self, context):
        self.all: list[str] = []
        self.remote: list[str] = []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        self.all.append(url)
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            self.remote.append(url)
            route.abort()


def open_arena(browser, url: str, viewport: dict | None = None, accept: bool = True, locale: str = "ja-JP"):
    context = browser.new_context(viewport=viewport or DESKTOP, locale=locale)
    requests = Requests(context)
    page = context.new_page()
    traffic = Traffic(page)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#prompt textarea")
    if accept:
        accept_terms(page)
    page.requests = requests
    return page, traffic


def accept_terms(page) -> None:
    assert page.is_disabled("#prompt textarea") and page.is_disabled("#send")
    page.click("#accept-terms")
    page.wait_for_function("() => !document.querySelector('#prompt textarea').disabled")
    assert not page.locator("#terms").is_visible()


def ask(page, prompt: str, prefix: str = "") -> None:
    """Send a prompt and wait until both answers are complete (the vote buttons open again)."""
    seen = page.locator(f"#{prefix}chat-a [data-testid='user']").count()
    page.fill(f"#{prefix}prompt textarea", prompt)
    page.click(f"#{prefix}send")
    page.wait_for_function(
        """([chat, vote, seen]) => document.querySelectorAll(chat + " [data-testid='user']").length > seen
                                   && !document.querySelector(vote).disabled""",
        arg=[f"#{prefix}chat-a", f"#{prefix}vote-a", seen], timeout=120_000)


def vote(page, button: str = "#vote-b", status: str = "#battle-status") -> str:
    page.click(button)
    page.wait_for_function(f"() => document.querySelector('{status}').innerText.includes('モデル A:')")
    return page.inner_text(status)


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
    assert JA.model_a in before_vote

    status = vote(page)
    assert all(name in status for name in NAMES)
    assert page.is_disabled("#vote-a") and page.is_disabled("#send") and page.is_disabled("#regenerate")
    assert set(NAMES) <= set(secrets_in(traffic.text(), endpoints)), "the capture must see the names once revealed"
    save_shot(page, tmp_path, "battle.png")

    store = VoteStore(store_url)
    exported = store.export()
    store.close()
    assert len(exported) == 1
    battle = exported[0]
    assert battle["winner"] == "model_b" and battle["anony"] is True and battle["turn"] == 2
    assert battle["flags"] == []
    revealed_a = status.split("モデル A:")[1].split("·")[0].strip(" *")
    assert battle["model_a"] == revealed_a

    page.get_by_role("tab", name=JA.board_tab).click()
    page.wait_for_selector("#board-table")
    for _ in range(60):
        if NAMES[0] in page.inner_text("#board-table"):
            break
        page.click("#board-refresh")
        page.wait_for_timeout(500)
    board = page.inner_text("#board-table")
    assert NAMES[1] in board and "0-1-0" in board and "1-0-0" in board
    assert all(name in page.inner_text("#board-winrates thead") for name in NAMES), "columns are named by model"
    assert all(name in page.inner_text("#board-counts thead") for name in NAMES)
    assert re.search(r"\b1\b", page.inner_text("#board-counts"))
    warnings = page.inner_text("#board-warnings")
    assert "無敗" in warnings and "未勝利" in warnings and "バトル 30 件未満" in warnings
    assert "prior = 1" in page.inner_text("#board-note")
    save_shot(page, tmp_path, "leaderboard.png")

    page.get_by_role("tab", name=JA.battle_tab).click()
    page.click("#new-round")
    page.wait_for_function("() => document.querySelector('#battle-status').innerText.trim() === ''")
    assert not page.is_disabled("#send") and page.is_disabled("#vote-a")
    assert page.requests.remote == []
    page.close()


RENDER_CASES = [
    "\\`<img src=https://evil.example/backtick.png onerror=window.__pwned=1>`",
    "![a cat](https://evil.example/markdown.png)",
    "<img src=https://evil.example/raw.png onerror=window.__pwned=2>",
    "<script>window.__pwned=3</script>",
    "<https://example.com/autolink>",
    '<iframe src="https://evil.example/frame"></iframe>',
    "[click](javascript:window.__pwned=4)",
    "<svg onload=window.__pwned=5></svg>",
]


def test_nothing_in_a_prompt_or_an_answer_loads_from_a_remote_host_or_runs(echo_arena, browser, tmp_path):
    app, _ = echo_arena
    page, _ = open_arena(browser, app.url)
    ask(page, "\n\n".join(RENDER_CASES))
    page.wait_for_timeout(1000)
    assert page.requests.remote == [], "the page must not reach any host but the arena's"
    assert page.evaluate("window.__pwned") is None
    for pane in ("#chat-a", "#chat-b"):
        content = f"{pane} .message-content"
        assert page.locator(f"{content} img, {content} script, {content} iframe, {content} svg").count() == 0
        assert page.locator(f"{content} a[href^='javascript']").count() == 0
        # both the prompt and the (echoed) answer: an autolink is a link, an image is a link to it
        assert page.locator(f"{content} a[href='https://example.com/autolink']").count() == 2
        assert page.locator(f"{content} a.arena-image-link[href='https://evil.example/markdown.png']").count() == 2
        text = page.inner_text(pane)
        assert "<img src=https://evil.example/backtick.png onerror=window.__pwned=1>" in text
        assert "<script>window.__pwned=3</script>" in text
    assert any(urlparse(u).hostname == "127.0.0.1" for u in page.requests.all)
    save_shot(page, tmp_path, "render-cases.png")
    page.close()


def test_the_japanese_interface_on_a_desktop_and_a_phone(echo_arena, browser, tmp_path):
    app, _ = echo_arena
    # an English browser: Gradio's own labels follow the arena's language, not the browser's
    page, _ = open_arena(browser, app.url, viewport=PHONE, accept=False, locale="en-US")
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert page.get_by_role("tab", name=JA.battle_tab).is_visible()

    def prompt_in_view() -> None:
        assert page.evaluate("window.scrollY") == 0
        box = page.locator("#prompt textarea").bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
        send = page.locator("#send").bounding_box()
        assert send is not None and send["y"] + send["height"] <= PHONE["height"], send

    assert page.locator("#terms").is_visible()
    prompt_in_view()
    save_shot(page, tmp_path, "phone-390-terms.png", full_page=False)
    accept_terms(page)
    prompt_in_view()
    ask(page, "日本の四季について、それぞれの特徴を**短く**教えてください。")
    assert page.locator("#chat-a button[aria-label='会話をクリア']").count() == 1, "Gradio's own label, in Japanese"
    page.evaluate("window.scrollTo(0, 0)")
    prompt_in_view()
    save_shot(page, tmp_path, "phone-390.png", full_page=False)
    save_shot(page, tmp_path, "phone-390-full.png")
    page.set_viewport_size(DESKTOP)
    page.wait_for_timeout(300)
    box = page.locator("#prompt textarea").bounding_box()
    chat = page.locator("#chat-a").bounding_box()
    assert box["y"] > chat["y"], "on a desktop the prompt sits under the answers"
    save_shot(page, tmp_path, "desktop-1280.png")
    assert page.requests.remote == []
    page.close()


def test_the_terms_must_be_accepted_before_the_first_prompt_also_over_the_api(echo_arena, browser):
    from gradio_client import Client

    app, store_url = echo_arena
    page, _ = open_arena(browser, app.url, accept=False)
    assert page.locator("#terms-text").inner_text().startswith(JA.terms_title.strip("# "))
    assert page.is_disabled("#prompt textarea") and page.is_disabled("#send")
    page.close()
    client = Client(app.url, verbose=False)
    out = client.predict("同意せずに送る", api_name="/battle_send")
    assert JA.terms_required in out[2]
    store = VoteStore(store_url)
    with store.engine.connect() as c:
        prompts = [r.prompt for r in c.execute(sa.select(turns_table.c.prompt))]
    store.close()
    assert "同意せずに送る" not in prompts
    client.predict(api_name="/accept_terms")
    out = client.predict("同意してから送る", api_name="/battle_send")
    assert out[2].startswith(JA.vote_now)


def test_a_pane_cannot_be_cleared_during_a_battle(echo_arena, browser, tmp_path):
    app, store_url = echo_arena
    page, _ = open_arena(browser, app.url)
    ask(page, "片方だけ消せない")
    clear = page.locator("#chat-a button[aria-label='会話をクリア']")
    assert not clear.is_visible()
    page.evaluate("document.querySelector(\"#chat-a button[aria-label='会話をクリア']\").click()")
    page.wait_for_function("() => document.querySelector('#chat-a').innerText.includes('片方だけ消せない')",
                           timeout=10_000)
    page.wait_for_timeout(500)
    assert page.inner_text("#chat-a").count("片方だけ消せない") == 2, "the pane is drawn again from the battle"
    status = vote(page, "#vote-a")
    assert all(name in status for name in NAMES)
    store = VoteStore(store_url)
    [row] = [r for r in store.export(conversations=True) if r["conversation_a"][0]["content"] == "片方だけ消せない"]
    store.close()
    assert row["conversation_a"][1]["content"] == row["conversation_b"][1]["content"] == "片方だけ消せない"
    page.close()


def test_regenerate_asks_the_same_pair_again_before_the_vote(echo_arena, browser):
    app, store_url = echo_arena
    page, _ = open_arena(browser, app.url)
    assert page.is_disabled("#regenerate")
    ask(page, "もう一度答えて")
    page.click("#regenerate")
    page.wait_for_function("() => document.querySelector('#battle-status').innerText.includes('もう一度回答')",
                           timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#vote-a').disabled")
    assert page.locator("#chat-a [data-testid='user']").count() == 1
    status = vote(page, "#vote-tie")
    assert page.is_disabled("#regenerate")
    store = VoteStore(store_url)
    rows = [r for r in store.export(conversations=True) if r["conversation_a"][0]["content"] == "もう一度答えて"]
    store.close()
    assert len(rows) == 1 and rows[0]["turn"] == 1 and rows[0]["winner"] == "tie"
    assert rows[0]["model_a"] in status
    page.close()


def test_a_voted_battle_can_be_shared_as_a_link(echo_arena, browser, tmp_path):
    app, _ = echo_arena
    page, _ = open_arena(browser, app.url)
    assert page.is_disabled("#share")
    ask(page, "共有したいバトル")
    assert page.is_disabled("#share")
    status = vote(page, "#vote-a")
    page.click("#share")
    page.wait_for_function("() => (document.querySelector('#share-link textarea, #share-link input')?.value || '')"
                           ".startsWith('http')", timeout=10_000)
    link = page.input_value("#share-link textarea, #share-link input")
    assert link.startswith(app.url.rstrip("/")) and "?share=" in link
    viewer = page.context.new_page()
    viewer.goto(link, wait_until="load")
    viewer.wait_for_selector("#shared-battle", timeout=30_000)
    shared = viewer.inner_text("#shared-battle")
    assert "共有したいバトル" in shared and JA.winner("model_a") in shared
    assert all(name in shared for name in NAMES) and all(name in status for name in NAMES)
    save_shot(viewer, tmp_path, "shared.png")
    viewer.goto(app.url.rstrip("/") + "/?share=no-such-battle", wait_until="load")
    viewer.wait_for_function("() => document.querySelector('#shared-html')?.innerText.includes('見つからない')",
                             timeout=30_000)
    page.close()


def test_side_by_side_votes_are_stored_as_named_and_kept_out_of_the_ranking(echo_arena, browser):
    app, store_url = echo_arena
    page, _ = open_arena(browser, app.url)
    page.get_by_role("tab", name=JA.side_tab).click()
    for picker, name in (("#side-pick-a", NAMES[1]), ("#side-pick-b", NAMES[0])):
        page.click(f"{picker} input")
        page.locator(f"{picker} li[role=option][aria-label='{name}']").click()
    ask(page, "こんにちは", prefix="side-")
    vote(page, "#side-vote-a", "#side-status")
    store = VoteStore(store_url)
    named = [b for b in store.export() if not b["anony"]]
    store.close()
    assert [(b["model_a"], b["model_b"], b["winner"]) for b in named] == [(NAMES[1], NAMES[0], "model_a")]
    page.close()


@pytest.fixture(scope="module")
def outage_arena(scripted, tmp_path_factory):
    """Two live models and one whose endpoint is gone, drawn almost always while it is in the draw."""
    root = tmp_path_factory.mktemp("arena-outage")
    store = f"sqlite:///{root / 'votes.sqlite'}"
    models = [scripted.model(NAMES[0], "echo"), scripted.model(NAMES[1], "echo"),
              {**scripted.model("kaede-1b", "echo"), "base_url": dead_url(), "weight": 1_000_000}]
    config = write_config(root / "arena.yaml", models, store, health={"cooldown_s": 600})
    app = start_arena(config, root / "arena.log")
    yield app, store
    app.close()


def test_a_dead_model_is_replaced_and_the_prompt_is_not_retyped(outage_arena, browser, tmp_path):
    app, store_url = outage_arena
    page, _ = open_arena(browser, app.url)
    page.fill("#prompt textarea", "一度だけ入力する質問")
    page.click("#send")
    page.wait_for_function("() => !document.querySelector('#vote-a').disabled", timeout=60_000)
    assert JA.retried in page.inner_text("#battle-status")
    assert page.inner_text("#chat-a").count("一度だけ入力する質問") == 2
    assert page.inner_text("#chat-b").count("一度だけ入力する質問") == 2
    save_shot(page, tmp_path, "outage.png")
    status = vote(page, "#vote-a")
    assert all(name in status for name in NAMES) and "kaede-1b" not in status
    store = VoteStore(store_url)
    [row] = store.export()
    with store.engine.connect() as c:
        battles = c.execute(sa.select(battles_table.c.model_a, battles_table.c.model_b, battles_table.c.status)).all()
    store.close()
    assert {row["model_a"], row["model_b"]} == set(NAMES)
    assert [b.status for b in battles if "kaede-1b" in (b.model_a, b.model_b)] == ["failed"], \
        "the battle with the dead model is kept, uncounted"
    page.close()
