"""The comparison table in a real browser (Chromium through Playwright): pick papers in the papers
view, compare them, click a cell and see its source sentence highlighted in the abstract; a chat
question that asks to compare gets the table under its answer."""

from __future__ import annotations

import pytest

from .test_ui_browser import ARTIFACTS, app_url, ask, browser, page, wait_answer  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
              pytest.mark.filterwarnings("ignore:The copy keyword")]


def test_pick_compare_click_cell_and_see_sentence(page, pipeline):  # noqa: F811
    ARTIFACTS.mkdir(exist_ok=True)
    # 1. pick two papers in the papers view
    page.get_by_role("tab", name="Papers").click()
    picked = []
    for row in (0, 1):
        page.locator(f"#rag-p-table [data-testid='cell-{row}-0']").click()
        page.wait_for_function("(n) => (document.querySelector('#rag-p-id input, #rag-p-id textarea') || {}).value "
                               "&& !document.querySelector('#rag-p-id input, #rag-p-id textarea').value.startsWith(n)",
                               arg="\u0000")
        pid = page.locator("#rag-p-id input, #rag-p-id textarea").first.input_value()
        if picked and pid == picked[-1]:
            page.wait_for_function("(old) => document.querySelector('#rag-p-id input, #rag-p-id textarea').value !== old", arg=pid)
            pid = page.locator("#rag-p-id input, #rag-p-id textarea").first.input_value()
        picked.append(pid)
        page.locator("#rag-p-compare").click()
    assert len(set(picked)) == 2

    # 2. compare them: one row per paper, the cells the API gives
    page.get_by_role("tab", name="Compare").click()
    page.locator("#rag-cmp-go").click()
    page.wait_for_function("() => document.querySelector('#rag-cmp-status').innerText.includes('papers** compared') "
                           "|| document.querySelector('#rag-cmp-status').innerText.includes('papers compared')")
    expected = pipeline.compare(picked, backend="extractive")
    header = page.locator("#rag-cmp-table thead").inner_text()
    assert "Method" in header and "Key result" in header
    for i, r in enumerate(expected.rows):
        assert page.locator(f"#rag-cmp-table [data-testid='cell-{i}-0']").inner_text().strip() == r.title
    col = 1 + expected.columns.index("method")
    row = next(i for i, r in enumerate(expected.rows) if r.cells["method"].text)
    cell = expected.rows[row].cells["method"]
    assert cell.text in page.locator(f"#rag-cmp-table [data-testid='cell-{row}-{col}']").inner_text()

    # 3. click the cell: its sentence is highlighted in the abstract
    page.locator(f"#rag-cmp-table [data-testid='cell-{row}-{col}']").click()
    page.wait_for_selector("#rag-cmp-detail mark")
    assert page.locator("#rag-cmp-detail mark").inner_text().strip() == cell.sentence
    assert page.locator("#rag-cmp-detail mark").count() == 1
    assert expected.rows[row].title in page.locator("#rag-cmp-detail .rag-card-title").inner_text()
    page.screenshot(path=str(ARTIFACTS / "ui_compare.png"), full_page=True)

    # 4. a chat question that asks to compare: the table under the answer
    page.get_by_role("tab", name="Ask").click()
    page.get_by_label("Extractive (no model)").check()
    ask(page, "How do the papers on pruning neural networks at initialization differ?")
    text = wait_answer(page, 1)
    assert "Side by side" in text and "Key result" in text
    # and the sources of that answer can be compared in the Compare tab
    ans = pipeline.answer("How do the papers on pruning neural networks at initialization differ?", backend="extractive")
    shown = list(dict.fromkeys([c.paper.title for c in ans.citations] + [h.paper.title for h in ans.retrieved]))[:8]
    page.locator("#rag-compare-sources").click()
    page.wait_for_function("(n) => document.querySelectorAll(`#rag-cmp-table [data-testid$='-0'][data-testid^='cell-']`).length === n",
                           arg=len(shown))
    titles = [page.locator(f"#rag-cmp-table [data-testid='cell-{i}-0']").inner_text().strip() for i in range(len(shown))]
    assert titles == shown
    page.screenshot(path=str(ARTIFACTS / "ui_compare_chat.png"), full_page=True)
