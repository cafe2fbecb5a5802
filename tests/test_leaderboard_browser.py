"""The leaderboard page in a real browser (Debian chromium driven by Playwright): it renders from
file:// with every request refused except the page itself, the table sorts on a header click with
missing cells last, the figures are drawn with their legends whole, and on a 1280 px screen the
table fits by folding column groups, or scrolls sideways with the model column pinned. Screenshots
are kept under the test's tmp_path (their paths are printed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_support import WIDE_MODELS, build_results, build_wide_results, write_ratings

from jeval.cli import main

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LAPTOP = {"width": 1280, "height": 900}


def models_in_order(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard tbody tr td:first-child", "cells => cells.map(c => c.textContent)")


def header(page, label: str):
    """A column's header by its full label (the header itself may show a short one)."""
    return page.locator(f'#leaderboard th[data-key^="{label}|"]')


def offline_page(browser, html: Path, requested: list[str], errors: list[str], **context):
    page = browser.new_context(**context).new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requested.append(r.url))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
               else route.abort())
    page.goto(html.as_uri(), wait_until="load")
    return page


def test_page_renders_offline_sorts_and_draws(tmp_path, capsys):
    build_results(tmp_path)
    write_ratings(tmp_path / "arena.json", [("alpha", 1050, 1030, 1070, 120), ("beta", 990, 970, 1010, 100),
                                            ("gamma", 960, 930, 990, 80)])
    html = tmp_path / "leaderboard.html"
    assert main(["leaderboard", str(tmp_path / "results"), "--arena", str(tmp_path / "arena.json"),
                 "--format", "html", "--out", str(html), "--correlate"]) == 0
    requested: list[str] = []
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = offline_page(browser, html, requested, errors, viewport={"width": 1600, "height": 1200})
            assert page.title() == "jeval leaderboard"
            page.click("#unfold-all")
            assert models_in_order(page) == ["alpha", "beta", "delta", "gamma"]
            math_header = header(page, "MT-Bench math")
            assert math_header.text_content() == "math"
            assert math_header.get_attribute("title") == "MT-Bench math — judge gpt-4o / jeval-ja-v1"
            math_header.click()
            assert math_header.get_attribute("aria-sort") == "descending"
            assert models_in_order(page) == ["beta", "alpha", "delta", "gamma"]
            math_header.click()
            assert math_header.get_attribute("aria-sort") == "ascending"
            assert models_in_order(page) == ["alpha", "beta", "delta", "gamma"]
            header(page, "XL-Sum").click()
            assert models_in_order(page)[0] == "delta"
            header(page, "Arena rating").click()
            assert models_in_order(page) == ["alpha", "beta", "gamma", "delta"]
            page.locator("#leaderboard th.model").click()
            assert models_in_order(page) == ["alpha", "beta", "delta", "gamma"]

            best = page.eval_on_selector_all("#leaderboard td.best", "cells => cells.map(c => c.textContent)")
            assert "1050.0" in best and "12.00" in best
            radars = page.locator("svg.radar")
            assert radars.count() == 1
            assert radars.get_attribute("aria-label") == "Jaster categories (llm-jp-eval-1.4.1)"
            assert [radars.locator("polygon.series").nth(i).get_attribute("data-model") for i in range(2)] == \
                ["alpha", "beta"]
            assert page.locator("figure.radar ul.legend li").all_text_contents() == ["alpha", "beta"]
            intervals = page.locator("svg.intervals line.interval")
            assert [intervals.nth(i).get_attribute("data-model") for i in range(intervals.count())] == \
                ["alpha", "beta", "gamma"]
            assert page.eval_on_selector("img[alt='rank correlations']", "img => img.complete && img.naturalWidth > 0")
            shot = tmp_path / "leaderboard.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requested == [html.as_uri()]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with capsys.disabled():
        print(f"\nleaderboard screenshot: {shot}")


def widths(page) -> dict[str, float]:
    return page.evaluate("""() => {
        const wrap = document.getElementById("board-wrap");
        const table = document.getElementById("leaderboard");
        return {document: document.documentElement.scrollWidth, table: table.offsetWidth, box: wrap.clientWidth};
    }""")


def model_column_left_edges(page) -> list[float]:
    """The left edge of every model cell (header and rows), relative to the table's scroll box."""
    return page.evaluate("""() => {
        const box = document.getElementById("board-wrap").getBoundingClientRect().left + 1;
        const cells = [document.querySelector("#leaderboard th.model"),
                       ...document.querySelectorAll("#leaderboard tbody td:first-child")];
        return cells.map((c) => c.getBoundingClientRect().left - box);
    }""")


def scroll_to_the_right(page) -> float:
    return page.evaluate("""() => {
        const wrap = document.getElementById("board-wrap");
        wrap.scrollLeft = wrap.scrollWidth;
        return wrap.scrollLeft;
    }""")


def visible_headers(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard th[data-col]", "ths => ths.filter(th => th.offsetParent !== null)"
                                     ".map(th => th.dataset.key || 'model')")


def test_at_1280_px_groups_fold_to_fit_and_the_model_column_stays_when_scrolled(tmp_path, capsys):
    build_wide_results(tmp_path)
    html = tmp_path / "wide.html"
    assert main(["leaderboard", str(tmp_path / "results"), "--arena", str(tmp_path / "arena.json"),
                 "--format", "html", "--out", str(html)]) == 0
    requested: list[str] = []
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        try:
            page = offline_page(browser, html, requested, errors, viewport=LAPTOP)
            every_column = page.locator("#leaderboard th[data-col]").count()
            folded = widths(page)
            assert folded["document"] <= LAPTOP["width"], "the page itself never scrolls sideways"
            assert folded["table"] <= folded["box"], "folded to fit"
            shown = visible_headers(page)
            assert "Jaster AVG|llm-jp-eval-1.4.1|4" in shown and "Jaster NLI|llm-jp-eval-1.4.1|4" not in shown
            assert "MT-Bench|judge gpt-4o / jeval-ja-v1|" in shown and len(shown) < every_column
            fold_shot = tmp_path / "leaderboard-1280-folded.png"
            page.screenshot(path=str(fold_shot))

            jaster = page.locator("#leaderboard th.band", has_text="llm-jp-eval-1.4.1/chat")
            assert jaster.get_attribute("data-folded") == "true"
            jaster.locator("button.fold").click()
            assert jaster.get_attribute("data-folded") == "false" and jaster.get_attribute("colspan") == "13"
            assert "Jaster NLI|llm-jp-eval-1.4.1/chat|4" in visible_headers(page)

            page.click("#unfold-all")
            assert len(visible_headers(page)) == every_column
            unfolded = widths(page)
            assert unfolded["table"] > 2 * unfolded["box"] and unfolded["document"] <= LAPTOP["width"]
            assert model_column_left_edges(page) == pytest.approx([0] * (len(WIDE_MODELS) + 1), abs=1)
            assert scroll_to_the_right(page) > unfolded["table"] - unfolded["box"] - 2
            assert model_column_left_edges(page) == pytest.approx([0] * (len(WIDE_MODELS) + 1), abs=1)
            last = header(page, "Arena votes").bounding_box()
            box = page.locator("#board-wrap").bounding_box()
            assert box["x"] < last["x"] and last["x"] + last["width"] <= box["x"] + box["width"] + 1
            scroll_shot = tmp_path / "leaderboard-1280-scrolled.png"
            page.screenshot(path=str(scroll_shot))

            legend = page.locator("figure.radar ul.legend li")
            assert set(legend.all_text_contents()) == set(WIDE_MODELS)
            assert page.eval_on_selector_all("figure.radar ul.legend li", """items => items.every((li) => {
                const figure = li.closest("figure").getBoundingClientRect(), r = li.getBoundingClientRect();
                return li.scrollWidth <= li.clientWidth && r.right <= figure.right + 1; })""")
            assert page.eval_on_selector_all("svg.intervals text", """texts => texts.every((t) => {
                const b = t.getBBox(), svg = t.ownerSVGElement.viewBox.baseVal;
                return b.x >= 0 && b.x + b.width <= svg.width; })""")
            notes = page.locator("ol.notes li").all_text_contents()
            assert len(notes) == len(set(notes))
            assert sum("different data or numbers of items" in n for n in notes) == 1

            no_script = offline_page(browser, html, requested, errors, viewport=LAPTOP, java_script_enabled=False)
            assert len(visible_headers(no_script)) == every_column, "without scripts nothing is folded"
            assert no_script.locator("button.fold:visible, #fold-controls:visible").count() == 0
            assert scroll_to_the_right(no_script) > 0
            assert model_column_left_edges(no_script) == pytest.approx([0] * (len(WIDE_MODELS) + 1), abs=1)
            plain = widths(no_script)
        finally:
            browser.close()
    assert errors == []
    assert set(requested) == {html.as_uri()}
    for shot in (fold_shot, scroll_shot):
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with capsys.disabled():
        print(f"\nat 1280 px: document {folded['document']} px wide; table {folded['table']} px folded "
              f"(box {folded['box']} px), {unfolded['table']} px with every column, {plain['table']} px "
              f"without scripts\nscreenshots: {fold_shot} {scroll_shot}")
