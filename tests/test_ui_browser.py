"""The chat UI in a real browser: Playwright driving Debian's Chromium (headless) against the app
served by the test on 127.0.0.1. Screenshots go to tests/artifacts/ (gitignored)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword")]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-extensions", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
QUESTION = "Which papers study pruning neural networks at initialization?"
TIMEOUT = 60_000  # ms; the machine is shared

# Records every text the last answer bubble shows, so the test can see the answer stream in.
WATCH_JS = """
() => {
  window.__botTexts = [];
  const chat = document.querySelector('#rag-chat');
  const note = () => {
    const bots = chat.querySelectorAll('[data-testid="bot"]');
    if (!bots.length) return;
    const t = bots[bots.length - 1].innerText.trim();
    if (t && window.__botTexts[window.__botTexts.length - 1] !== t) window.__botTexts.push(t);
  };
  new MutationObserver(note).observe(chat, {subtree: true, childList: true, characterData: true});
}
"""



@pytest.fixture(scope="module")
def app_url(pipeline):
    from ui.app import create_app, launch

    app = create_app(pipeline)
    port = free_port()
    launch(app, pipeline.settings.ui, "127.0.0.1", port, block=False, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/test.sh does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    ctx = browser.new_context(viewport={"width": 1480, "height": 1000})
    p = ctx.new_page()
    p.set_default_timeout(TIMEOUT)
    outside = []
    p.on("request", lambda r: outside.append(r.url) if not r.url.startswith((app_url, "data:", "blob:")) else None)
    p.goto(app_url)
    p.wait_for_selector("#rag-question textarea")
    yield p
    ctx.close()
    assert not outside, f"the page fetched from outside the app: {outside[:5]}"


def ask(page, question: str) -> None:
    page.fill("#rag-question textarea", question)
    page.keyboard.press("Enter")


def wait_answer(page, count: int) -> str:
    """Wait until the ``count``-th answer is final (it ends with the footer line) and return it."""
    page.wait_for_function(
        """(n) => { const b = document.querySelectorAll('#rag-chat [data-testid="bot"]');
                    return b.length >= n && /backend|do not cover|⚠️/.test(b[n - 1].innerText)
                           && !b[n - 1].innerText.includes('▌'); }""", arg=count)
    return page.locator('#rag-chat [data-testid="bot"]').nth(count - 1).inner_text()


def test_ask_stream_cite_filter_and_browse_papers(page, pipeline):
    ARTIFACTS.mkdir(exist_ok=True)
    expected = pipeline.answer(QUESTION, backend="extractive")
    assert expected.citations, "the example question should be answerable"

    # 1. ask: the answer streams in and the cited paper appears in the sources panel
    page.get_by_label("Extractive (no model)").check()
    page.wait_for_function("() => document.querySelector('#rag-backend-info').innerText.includes('Extractive')")
    page.evaluate(WATCH_JS)
    ask(page, QUESTION)
    text = wait_answer(page, 1)
    seen = page.evaluate("() => window.__botTexts")
    assert len(seen) >= 2 and "Searching" in seen[0], seen  # a placeholder first, then the streamed answer
    assert "[1]" in text and "backend extractive" in text
    first = page.locator("#rag-sources .rag-cited").first
    first.wait_for()
    assert expected.citations[0].paper.title in first.locator(".rag-card-title").inner_text()
    assert page.locator("#rag-sources .rag-cited mark").count() >= 1  # supporting sentences highlighted
    assert page.locator("#rag-question textarea").input_value() == ""
    page.screenshot(path=str(ARTIFACTS / "ui_chat.png"), full_page=True)

    # 2. a type filter: every cited or retrieved paper is an Oral
    page.locator("#rag-type").get_by_label("Oral").check()
    ask(page, "Which papers are about sparse neural networks?")
    text = wait_answer(page, 2)
    assert "[1]" in text or "do not cover" in text
    types = page.locator("#rag-sources .rag-badge[class*='rag-type-']").all_text_contents()  # also collapsed ones
    assert types and set(types) == {"Oral"}, types
    page.screenshot(path=str(ARTIFACTS / "ui_filtered.png"), full_page=True)

    # 3. the papers view: filter the corpus (orals of ICLR 2023), open one, see similar papers
    page.get_by_role("tab", name="Papers").click()
    page.locator("#rag-p-type").get_by_label("Oral").check()
    page.locator("#rag-p-year input").fill("2023")
    page.locator("#rag-p-year input").press("Enter")
    want = [p for p in pipeline.retriever.papers if p.type == "Oral" and p.year == 2023]
    page.wait_for_function("(n) => document.querySelector('#rag-p-count').innerText.startsWith(n + ' of')",
                           arg=len(want))
    page.locator("#rag-p-table [data-testid='cell-0-0']").click()
    page.wait_for_selector("#rag-p-similar .rag-similar li")
    shown = page.locator("#rag-p-detail .rag-card-title").inner_text()
    assert shown in {p.title for p in want}
    pid = page.locator("#rag-p-id input, #rag-p-id textarea").first.input_value()
    similar = page.locator("#rag-p-similar li .rag-li-title").all_inner_texts()
    assert similar == [h.paper.title for h in pipeline.similar(pid, 5)]
    page.screenshot(path=str(ARTIFACTS / "ui_papers.png"), full_page=True)

    # 4. the index panel
    page.get_by_role("tab", name="Index").click()
    page.wait_for_function("() => document.querySelector('#rag-index-info').innerText.includes('Papers indexed')")
    assert "all-MiniLM-L6-v2" in page.locator("#rag-index-info").inner_text()
