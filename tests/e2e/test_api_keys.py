"""API keys in a real browser: two sessions in two separate browsers at once, against the loopback fake server.

Session A types its own key; session B types none and gets the host's class key (switched on with
LLMX_ALLOW_SERVER_KEY=1). The fake server records the Authorization header of every request, so the
test can prove B never used A's key, and that neither key shows up anywhere else: not in the other
page, its websocket traffic, any URL, browser storage or the Streamlit server log.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import need_shared
from tests.e2e.conftest import CHROMIUM_FLAGS, no_exception, open_page, screenshot, start_server, wait_idle
from tests.fake_openai_server import FakeOpenAI, expected_logprobs, WORDS
from tests.loopback_server import served

pytestmark = pytest.mark.e2e

KEY_A = "sk-good-A-" + secrets.token_hex(12)
HOST_KEY = "sk-good-HOST-" + secrets.token_hex(12)
PROMPT = "The animal I like best is the"


fake = served(FakeOpenAI)


@pytest.fixture(scope="module")
def api_app(fake):
    need_shared()
    proc, url, log = start_server({"LLMX_ALLOW_SERVER_KEY": "1", "OPENAI_API_KEY": HOST_KEY,
                                   "LLMX_API_BASE_URL": fake.base_url, "LLMX_SERVER_KEY_PER_MINUTE": "60"})
    yield url, log
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture
def other_browser(browser, tmp_path):
    """A second, separate browser (own process and fresh profile) beside the shared one."""
    owner = browser.browser
    assert owner is not None, "this Playwright gives no Browser for a persistent context"
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    context = owner.browser_type.launch_persistent_context(
        str(tmp_path / "profile-b"), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1600, "height": 1000})
    yield context
    context.close()


class Watched:
    """A page plus everything it sent and received: request URLs and websocket frames."""

    def __init__(self, page):
        self.page, self.urls, self.frames = page, [], []
        page.set_default_timeout(60_000)
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", self._socket)

    def _socket(self, ws):
        self.urls.append(ws.url)
        ws.on("framereceived", lambda payload: self.frames.append(payload))

    def received(self) -> bytes:
        return b"".join(f.encode() if isinstance(f, str) else f for f in self.frames)

    def visible_source(self) -> str:
        """The page's HTML and every field value except password fields, plus browser storage."""
        return self.page.evaluate("""() => {
            const fields = [...document.querySelectorAll('input, textarea')].filter(e => e.type !== 'password');
            const copy = document.documentElement.cloneNode(true);
            copy.querySelectorAll('input[type=password]').forEach(e => e.removeAttribute('value'));
            return [copy.outerHTML, ...fields.map(e => e.value),
                    JSON.stringify({...localStorage}), JSON.stringify({...sessionStorage}), location.href].join('\\n');
        }""")

    def password_values(self) -> list[str]:
        return self.page.evaluate("() => [...document.querySelectorAll('input[type=password]')].map(e => e.value)")


def open_app_page(page, url: str) -> None:
    """Open a page; close Streamlit's "Page not found" notice, which a hyphenated deep link can raise on the
    first run while Streamlit still sees the legacy pages/ folder (the page itself still opens)."""
    open_page(page, url)
    notice = page.locator("[role=dialog]").filter(has_text="Page not found")
    if notice.count():
        page.keyboard.press("Escape")
        notice.wait_for(state="detached")


def absent(secret: str, text: str | bytes, where: str) -> None:
    """Assert the secret is not in text; on failure show where it was found (with the secret cut short)."""
    needle = secret.encode() if isinstance(text, bytes) else secret
    at = text.find(needle)
    context = repr(text[max(0, at - 160): at + 20]).replace(secret[:14], "<KEY>") if at >= 0 else ""
    assert at < 0, f"key found in {where}: …{context}…"


def sidebar(page):
    return page.locator("[data-testid=stSidebar]")


def fill(page, label: str, value: str) -> None:
    box = sidebar(page).locator("[data-testid=stTextInput]").filter(has_text=label).locator("input")
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def choose_model(page, model: str) -> None:
    box = sidebar(page).locator("[data-testid=stSelectbox]").filter(has_text="Model").locator("input")
    box.click()
    box.fill(model)  # type to filter, as a user with a long list would
    page.get_by_role("option", name=model, exact=True).click()
    wait_idle(page)


def switch_on_api(page) -> None:
    sidebar(page).get_by_text("Use OpenAI or a compatible server").click()
    wait_idle(page)


def chart_labels(page, expect: list[str]) -> list[str]:
    """The first chart's bar labels, top bar first (the SVG lists them bottom-up), once they start with `expect`
    or after 20 s: Plotly draws, and redraws, after the script run has ended."""
    ticks = page.locator("[data-testid=stPlotlyChart]").first.locator(".ytick text")
    ticks.first.wait_for()
    try:  # Playwright polls the page until the labels start with `expect`
        page.wait_for_function(LABELS_START_WITH, arg=expect, timeout=20_000)
    except PlaywrightTimeout:
        pass  # the caller's assertion shows what was drawn instead
    return sorted(ticks.all_text_contents(), key=_rank)


def _rank(label: str) -> int:
    head = label.split(".")[0]
    return int(head) if head.isdigit() else 10**6


# The first chart's labels, ordered by their rank prefix ("3. ␣cat"), start with the expected ones (as _rank sorts).
LABELS_START_WITH = """expect => {
    const chart = document.querySelector('[data-testid=stPlotlyChart]');
    if (!chart) return false;
    const rank = t => /^\\d+\\./.test(t) ? parseInt(t, 10) : 1e6;
    const texts = [...chart.querySelectorAll('.ytick text')].map(e => e.textContent)
        .map((t, i) => [rank(t), i, t]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(x => x[2]);
    return expect.every((label, i) => texts[i] === label);
}"""


def expected_labels(n: int) -> list[str]:
    """The fake server's top tokens for PROMPT, as the chart labels them ("1. ␣quokka")."""
    return [f"{rank}. {WORDS[i].replace(' ', '␣')}" for rank, (i, _) in enumerate(expected_logprobs(PROMPT)[:n], 1)]


def test_two_sessions_never_share_a_key(api_app, fake, browser, other_browser):
    url, log = api_app
    a = Watched(browser.new_page())
    b = Watched(other_browser.new_page())
    try:
        # Session A: its own key, the fake server's base URL, a model that needs a valid key.
        open_app_page(a.page, f"{url}/next-token?prompt={quote(PROMPT)}&n=5")
        switch_on_api(a.page)
        fill(a.page, "Base URL", fake.base_url)
        before_key = len(fake.recorded())  # until A types a key, A too gets the host's key
        fill(a.page, "API key", KEY_A)
        choose_model(a.page, "private-model")
        no_exception(a.page)
        assert chart_labels(a.page, expected_labels(5))[:5] == expected_labels(5)
        assert a.password_values() == [KEY_A]
        screenshot(a.page, "api-keys-session-a")
        done_by_a = len(fake.recorded())
        used_by_a = fake.recorded()[before_key:]
        assert used_by_a and all(r.authorization == f"Bearer {KEY_A}" for r in used_by_a)

        # Session B, open at the same time in another browser: no key typed, so the host's key.
        open_app_page(b.page, f"{url}/next-token?prompt={quote(PROMPT)}&n=5")
        switch_on_api(b.page)
        assert b.page.get_by_text("No key needed").count() == 1
        choose_model(b.page, "private-model")
        no_exception(b.page)
        assert chart_labels(b.page, expected_labels(5))[:5] == expected_labels(5)
        assert b.password_values() == [""]
        screenshot(b.page, "api-keys-session-b")
        used_by_b = fake.recorded()[done_by_a:]
        assert used_by_b, "session B sent nothing to the server"
        assert all(r.authorization == f"Bearer {HOST_KEY}" for r in used_by_b)

        # Both sessions keep working side by side; A still uses only A's key.
        for session, expected in ((a, KEY_A), (b, HOST_KEY), (a, KEY_A)):
            mark = len(fake.recorded())
            field = sidebar(session.page).locator("[data-testid=stTextInput]").filter(has_text="Base URL")
            current = field.locator("input").input_value()
            # Same server, new text: the session builds a new client and lists the models again.
            fill(session.page, "Base URL", fake.base_url if current.endswith("/") else fake.base_url + "/")
            later = fake.recorded()[mark:]
            assert later and {r.authorization for r in later} == {f"Bearer {expected}"}

        # Neither key leaks: not into the other page, its websocket traffic, URLs, storage or the server log.
        everything = fake.recorded()
        assert sum(r.authorization == f"Bearer {KEY_A}" for r in everything) >= 2
        for r in everything:
            assert KEY_A not in r.path and HOST_KEY not in r.path
        b_source, a_source = b.visible_source(), a.visible_source()
        for secret in (KEY_A, HOST_KEY):
            absent(secret, b_source, "session B's page")
            absent(secret, a_source, "session A's page outside its password field")
            absent(secret, b.received(), "session B's websocket traffic")
            absent(secret, "\n".join(a.urls + b.urls + [a.page.url, b.page.url]), "a URL")
            absent(secret, Path(log).read_text(errors="replace"), "the Streamlit server log")
        absent(HOST_KEY, a.received(), "session A's websocket traffic")
        no_exception(a.page)
        no_exception(b.page)
    finally:
        a.page.close()
        b.page.close()


def test_errors_show_a_message_not_a_traceback(api_app, fake, page):
    url, _ = api_app
    open_app_page(page, f"{url}/next-token?prompt={quote(PROMPT)}")
    switch_on_api(page)
    fill(page, "Base URL", fake.base_url)
    fill(page, "API key", "sk-bad-" + secrets.token_hex(8))
    choose_model(page, "private-model")
    alert = page.locator("[data-testid=stAlert]").filter(has_text="401")
    assert alert.count() == 1 and "rejected the API key" in alert.inner_text()
    no_exception(page)
    before = len(fake.recorded())
    choose_model(page, "busy-model")
    assert page.locator("[data-testid=stAlert]").filter(has_text="Wait 7 s").count() == 1
    no_exception(page)
    screenshot(page, "api-keys-error")
    assert len(fake.recorded()) == before + 1  # one request for the 429, none for the reruns after it
