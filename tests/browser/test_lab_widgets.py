"""In a real browser: the receptive-field explorer renders in JupyterLab and redraws when a slider moves.

nbval sees what the kernel sends, not what the front end makes of it; a widget whose JavaScript
does not match the kernel's ipywidgets shows "Error displaying widget" and only a browser notices.
"""

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

WIDGET_ERROR = "Error displaying widget"


def _run_all_cells(page: Page) -> None:
    """Wait for the kernel, then Run ▸ Run All Cells, and wait until the first cell has run."""
    expect(page.locator(".jp-KernelName").first).to_contain_text("Python", timeout=60_000)
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    expect(first_prompt).to_contain_text("[1]", timeout=60_000)


def test_receptive_field_explorer_renders_and_redraws(browser, lab):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        _explore(page, lab)
    except Exception:
        page.screenshot(path=str(lab.root / "failure.png"))
        print(f"screenshot: {lab.root / 'failure.png'}; server log: {lab.root / 'jupyterlab.log'}")
        raise
    finally:
        page.close()


def _explore(page: Page, lab) -> None:
    page.goto(f"{lab.url}/lab/tree/02_receptive_field.ipynb?token={lab.token}")
    expect(page.locator(".jp-Notebook")).to_be_visible(timeout=60_000)
    _run_all_cells(page)

    explorer = page.locator(".widget-interact")
    image = explorer.locator("img")
    expect(image).to_have_count(1, timeout=90_000)
    before = image.get_attribute("src")
    assert before and before.startswith("data:image/png")

    handle = explorer.locator(".noUi-handle").first  # the "kernel" slider
    handle.focus()
    page.keyboard.press("ArrowRight")
    expect(explorer.locator(".widget-readout").first).to_have_text("4", timeout=10_000)
    page.wait_for_function(
        "old => { const img = document.querySelector('.widget-interact img');"
        " return img !== null && img.src !== old; }", arg=before, timeout=30_000)
    after = image.get_attribute("src")
    assert after and after.startswith("data:image/png") and after != before

    assert WIDGET_ERROR not in page.locator("body").inner_text()
