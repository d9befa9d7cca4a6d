"""The web form in a real browser: Debian's /usr/bin/chromium driven by Playwright.

Needs ``pip install playwright`` and ``apt-get install chromium`` (never ``playwright install``).
SOURCED_SCREENSHOTS=1 saves /tmp/sourced-answer.png and /tmp/sourced-abstain.png.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")

import uvicorn  # noqa: E402

from service.api import create_app  # noqa: E402
from service.config import Settings  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
QUOTE = ("Washington has 2,500 soldiers in Iraq and some 900 troops in Syria as part of the "
         "coalition against ISIS.")
SEED = f"""---
title: Iraq, US resume talks on US-led coalition withdrawal
url: https://example.com/iraq-talks
published: 2024-02-11
---
Iraq said Sunday 📷 it had resumed talks with the United States on the future of the coalition.

The United States has retaliated with several deadly strikes targeting these groups. {QUOTE} \
Its troops in Iraq are deployed at the invitation of Baghdad.

Currently US troops in Iraq provide assistance to government forces.
"""
MARKUP = """# Markup in an article

This page quotes <script>alert(1)</script> and <img src=x onerror=alert(2)> as plain text.
"""
# Two articles making one claim with different numbers (as in tests/test_conflicts.py).
BUSES = "The city council approved {n} new electric buses on Monday, the mayor{who} said.\n"
SHOTS = os.environ.get("SOURCED_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    (root / "corpus").mkdir()
    (root / "corpus" / "iraq-talks.md").write_text(SEED, encoding="utf-8")
    (root / "corpus" / "markup.md").write_text(MARKUP, encoding="utf-8")
    (root / "corpus" / "buses-a.txt").write_text("Buses A\n" + BUSES.format(n=40, who=""), encoding="utf-8")
    (root / "corpus" / "buses-b.txt").write_text("Buses B\n" + BUSES.format(n=25, who="'s office"), encoding="utf-8")
    settings = Settings(index_dir=root / "idx", embedder="hash", reader="fake", corpus_dir=root / "corpus")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # a free loopback port, held until uvicorn takes it over
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 760})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def ask(page, base_url: str, question: str) -> None:
    page.goto(base_url)
    assert page.evaluate("document.activeElement.id") == "question"  # autofocus
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    page.wait_for_selector("#results[aria-busy=false] > div", timeout=30_000)


def test_answer_is_shown_inside_its_paragraph_and_links_to_the_article(page, base_url):
    ask(page, base_url, "How many US troops are in Iraq?")
    assert page.inner_text("#answer-text") == "2,500"
    paragraph = page.locator("blockquote.context p")
    assert QUOTE in paragraph.inner_text()
    assert "retaliated with several deadly strikes" in paragraph.inner_text()  # the paragraph
    assert "Currently US troops" not in paragraph.inner_text()  # ... and only that one
    assert page.inner_text("blockquote.context .quote") == QUOTE
    assert page.inner_text("blockquote.context .quote mark") == "2,500"
    assert "confidence" in page.inner_text(".answer-card") and " ms" in page.inner_text(".answer-card")
    assert page.inner_text(".answer-card .source .published") == "published 2024-02-11"
    if SHOTS:
        page.screenshot(path="/tmp/sourced-answer.png", full_page=True)
    page.click("text=Iraq, US resume talks on US-led coalition withdrawal")
    page.wait_for_selector("mark#quote")
    assert page.inner_text("mark#quote") == QUOTE
    assert page.locator("mark#quote").is_visible()
    assert page.evaluate("document.activeElement.id") == "quote"  # scrolled to and focused
    assert page.dialogs == []


def test_not_found_state_shows_reason_and_nearest_passages(page, base_url):
    ask(page, base_url, "How many British troops are in Iraq?")
    assert page.inner_text("h2.not-found") == "Not found in these articles"
    assert page.inner_text(".reason").strip()
    assert page.locator(".passages li").count() >= 1
    assert "confidence" in page.inner_text(".not-found-card")
    if SHOTS:
        page.screenshot(path="/tmp/sourced-abstain.png", full_page=True)


def test_sources_that_disagree_are_both_shown(page, base_url):
    ask(page, base_url, "How many electric buses did the city council approve?")
    answer = page.inner_text("#answer-text")
    assert answer in ("40", "25")
    conflict = page.inner_text("#conflict")
    assert "Sources disagree" in conflict
    other = "25" if answer == "40" else "40"
    assert page.inner_text("#conflict strong") == other
    assert BUSES.format(n=other, who="'s office" if other == "25" else "").strip() in conflict
    assert "Buses" in page.inner_text("#conflict .source a")


def test_markup_in_an_article_is_shown_as_text_never_run(page, base_url):
    text = page.request.get(f"{base_url}/documents/markup").json()["text"]
    start = text.index("<script>")
    end = start + len("<script>alert(1)</script>")
    page.goto(f"{base_url}/?doc=markup&start={start}&end={end}")
    page.wait_for_selector(".doc-text")
    assert "<script>alert(1)</script> and <img src=x onerror=alert(2)>" in page.inner_text(".doc-text")
    assert page.inner_text("mark#quote") == "<script>alert(1)</script>"
    assert page.locator("#document-view script, #document-view img").count() == 0
    page.wait_for_timeout(300)  # give a would-be onerror handler time to fire
    assert page.dialogs == []


def test_unknown_document_and_empty_question_show_messages(page, base_url):
    page.goto(f"{base_url}/?doc=nope")
    assert page.inner_text("[role=alert]") == "No document with id 'nope'."
    page.goto(base_url)
    page.keyboard.type("   ")
    page.keyboard.press("Enter")
    assert page.inner_text("[role=alert]") == "Type a question first."


def test_an_overlong_question_gets_a_sentence_not_a_validator_message(page, base_url):
    page.goto(f"{base_url}/?q={'x' * 1234}")  # a link can carry what the input's maxlength stops
    page.wait_for_selector("[role=alert]", timeout=30_000)
    assert page.inner_text("[role=alert]") == (
        "The question is 1,234 characters long; the limit is 1,000. Ask it in fewer words."
    )


def test_filters_are_sent_with_the_question_and_kept_in_the_link(page, base_url):
    page.goto(base_url)
    assert not page.locator("#published-from").is_visible()  # collapsed until asked for
    page.click("summary:has-text('Filters')")
    page.fill("#published-from", "2024-02-12")
    page.fill("#source", "www.example.com")
    page.fill("#question", "How many US troops are in Iraq?")
    page.keyboard.press("Enter")
    page.wait_for_selector("#results[aria-busy=false] > div", timeout=30_000)
    assert page.inner_text(".reason") == (
        "No articles match the filters: published 2024-02-12 or later, source example.com."
    )
    page.reload()  # the link carries the filters: the same question, filtered the same way
    page.wait_for_selector("#results[aria-busy=false] > div", timeout=30_000)
    assert page.locator("#filters").get_attribute("open") is not None
    assert page.input_value("#published-from") == "2024-02-12"
    page.fill("#published-from", "2024-02-11")
    page.click("button[type=submit]")
    page.wait_for_selector("#answer-text", timeout=30_000)
    assert page.inner_text("#answer-text") == "2,500"
