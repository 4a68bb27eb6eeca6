"""A browser sample of the fuzz corpus (tests/app/test_fuzz.py runs all of it through AppTest): hostile links
open without an exception, without any dialog (a script that ran would call alert), and no link made of user
text. Plus issue 13's browser-only item: continuations do not outlive the knobs that made them."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import no_exception, open_page, wait_idle

pytestmark = pytest.mark.e2e

HOSTILE = ('[click](http://evil.example/) <script>alert(1)</script> <img src=x onerror=alert(1)> '
           '<a href="javascript:alert(1)">x</a> $x$ :red[x] www.evil.example')
Q = quote(HOSTILE, safe="")
# Raw query strings, as a student could paste them (invalid percent-encoding included, item 19).
URLS = [
    f"next-token?model={Q}&prompt={Q}&picks={Q}",
    f"sampling?model={Q}&prompt={Q}&top_p={Q}",
    f"tokenizer?tokenizers=cl100k_base,{Q}&text={Q}&view=Side+by+side",
    f"training-stages?family={Q}&prompt=%G1%25%32%35&expected=%E0%A4&tokens=1",
    f"model-scale?models=bert-base,{Q}&view=BERT+vs+GPT&bert={Q}&sentence=%ZZ",
]


@pytest.mark.parametrize("path", URLS)
def test_hostile_link_is_shown_as_text(page, app_url, path):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, f"{app_url}/{path}")
    no_exception(page)
    main = page.locator("[data-testid=stApp]")
    links = main.locator("a[href*='evil.example'], a[href^='javascript']")
    assert links.count() == 0, links.evaluate_all(
        "els => els.map(e => e.parentElement.parentElement.outerHTML.slice(0, 400))")
    assert main.get_by_text("stopped on an unexpected problem").count() == 0
    assert not dialogs, dialogs
    assert page.locator("h1").count() >= 1  # the page still renders


def test_continuations_leave_when_the_knobs_move(page, app_url):
    """Issue 13 item 13: under "with these knobs" only continuations made with the current knobs."""
    open_page(page, f"{app_url}/sampling?prompt={quote('She opened the door and')}&temperature=0.9")
    page.get_by_role("button", name="Generate three continuations").click()
    wait_idle(page)
    assert page.get_by_text("Seed 0", exact=True).count() == 1
    thumb = page.get_by_role("slider", name="Temperature (0 = greedy)")  # the knob panel's temperature
    thumb.focus()
    thumb.press("ArrowLeft")  # sent on its own after the keys stop: a fragment rerun, only the knobs panel runs again
    expect(page).to_have_url(re.compile(r"temperature=0\.85(&|$)"))
    wait_idle(page)
    no_exception(page)
    assert page.get_by_text("Seed 0", exact=True).count() == 0
    assert page.get_by_text("generate again").count() == 1
