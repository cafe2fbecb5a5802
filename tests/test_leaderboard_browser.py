"""The leaderboard page in a real browser (Debian chromium driven by Playwright): it renders from
file:// with every request refused except the page itself, the table sorts on a header click with
missing cells last, and the figures are drawn. A screenshot is kept under the test's tmp_path."""

from __future__ import annotations

import pytest
from leaderboard_support import build_results, write_ratings

from jeval.cli import main

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def models_in_order(page) -> list[str]:
    return page.eval_on_selector_all("#leaderboard tbody tr td:first-child", "cells => cells.map(c => c.textContent)")


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
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requested.append(r.url))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
                       else route.abort())
            page.goto(html.as_uri(), wait_until="load")

            assert page.title() == "jeval leaderboard"
            assert models_in_order(page) == ["alpha", "beta", "delta", "gamma"]
            math_header = page.locator("#leaderboard th", has_text="MT-Bench math")
            math_header.click()
            assert math_header.get_attribute("aria-sort") == "descending"
            assert models_in_order(page) == ["beta", "alpha", "delta", "gamma"]
            math_header.click()
            assert math_header.get_attribute("aria-sort") == "ascending"
            assert models_in_order(page) == ["alpha", "beta", "delta", "gamma"]
            page.locator("#leaderboard th", has_text="XL-Sum").click()
            assert models_in_order(page)[0] == "delta"
            page.locator("#leaderboard th", has_text="Arena rating").click()
            assert models_in_order(page) == ["alpha", "beta", "gamma", "delta"]
            page.locator("#leaderboard th", has_text="Model").click()
            assert models_in_order(page) == ["alpha", "beta", "delta", "gamma"]

            best = page.eval_on_selector_all("#leaderboard td.best", "cells => cells.map(c => c.textContent)")
            assert "1050.0" in best and "12.00" in best
            radars = page.locator("svg.radar")
            assert radars.count() == 1
            assert radars.get_attribute("aria-label") == "Jaster categories (llm-jp-eval-1.4.1)"
            assert [radars.locator("polygon.series").nth(i).get_attribute("data-model") for i in range(2)] == \
                ["alpha", "beta"]
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
