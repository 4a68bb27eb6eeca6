"""The tokenizer page in a real browser: deep links, counts against tiktoken, no script injection."""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

import pytest

from tests.conftest import TIKTOKEN_CACHE
from tests.e2e.conftest import no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))


def encoding(name: str):
    import tiktoken

    return tiktoken.get_encoding(name)


def tall(page) -> None:
    """Streamlit scrolls inside its own container, so a full-page screenshot is one viewport: make it tall."""
    page.set_viewport_size({"width": 1600, "height": 2400})


def link(app_url: str, **params) -> str:
    return f"{app_url}/tokenizer?{urlencode(params, quote_via=quote)}"


def metric(page, label: str) -> str:
    box = page.locator("[data-testid=stMetric]").filter(has_text=label).first
    return box.locator("[data-testid=stMetricValue]").inner_text().strip()


def chip_text(page, index: int = 0) -> str:
    """The text the chips spell, with the visible-space dots turned back into spaces."""
    return page.locator(".tv-wrap").nth(index).inner_text().replace("·", " ").replace("\n", "")


def test_deep_link_shows_cl100k_count(page, app_url):
    text = "When I arrived back at the panda breeding facility, they are splashing! 🦙 1234567 × 89"
    tall(page)
    open_page(page, link(app_url, text=text, tokenizers="cl100k_base,r50k_base"))
    no_exception(page)
    expected = len(encoding("cl100k_base").encode_ordinary(text))
    assert metric(page, "Tokens") == f"{expected:,}"
    assert metric(page, "Characters") == f"{len(text):,}"
    assert chip_text(page).startswith("When I arrived back")
    # hover text names the id and bytes of the first token
    first_id = encoding("cl100k_base").encode_ordinary(text)[0]
    assert f"id {first_id}" in page.locator(".tv").first.get_attribute("title")
    screenshot(page, "tokenizer-single")


def test_lecture_preset_splits_splashing(page, app_url):
    open_page(page, link(app_url, text=" they are splashing", tokenizers="p50k_base"))
    chips = [c.replace("·", " ") for c in page.locator(".tv").all_inner_texts()]
    assert chips == [" they", " are", " spl", "ashing"]


def test_script_and_html_in_text_are_shown_not_run(page, app_url):
    evil = 'hi <img src=x onerror="window.__pwned=1"> and <script>window.__pwned=2</script> bye'
    for view in ["Single view", "Side by side", "Decode"]:
        open_page(page, link(app_url, text=evil, tokenizers="cl100k_base,r50k_base", view=view))
        no_exception(page)
        if view != "Decode":
            assert evil in chip_text(page)
        page.wait_for_timeout(500)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("[data-testid=stApp] img[src=x]").count() == 0
    # the decode tab prints the literal text back
    ids = ",".join(map(str, encoding("cl100k_base").encode_ordinary(evil)))
    open_page(page, link(app_url, view="Decode", decode_with="cl100k_base", ids=ids))
    assert evil in page.locator("[data-testid=stCode]").first.inner_text()
    assert page.evaluate("window.__pwned") is None
    open_page(page, link(app_url, view="Chat format", user=evil))
    no_exception(page)
    assert page.evaluate("window.__pwned") is None
    assert evil in page.locator("[data-testid=stCode]").last.inner_text()


def test_side_by_side_and_multilingual(page, app_url):
    text = "Tokenizers differ: 1234567 × 89 = 109876463, and 今天天气很好 🦙"
    tall(page)
    open_page(page, link(app_url, text=text, tokenizers="cl100k_base,r50k_base,hf:bert-base-uncased",
                         view="Side by side"))
    no_exception(page)
    headings = page.locator("h3").all_inner_texts()
    for name, label in [("cl100k_base", "cl100k_base"), ("r50k_base", "r50k_base")]:
        n = len(encoding(name).encode_ordinary(text))
        assert any(h.startswith(label) and f"{n:,} tokens" in h for h in headings), headings
    assert any(h.startswith("BERT WordPiece") for h in headings)
    assert "[CLS]" in page.locator(".tv-wrap").nth(2).inner_text()
    screenshot(page, "tokenizer-side-by-side")

    open_page(page, link(app_url, tokenizers="cl100k_base,r50k_base,p50k_base", view="Multilingual"))
    no_exception(page)
    page.locator(".js-plotly-plot").first.wait_for()
    page.locator("[data-testid=stDataFrame]").first.wait_for(timeout=30_000)  # mounts after the script finishes
    screenshot(page, "tokenizer-multilingual")


def test_decode_and_chat_views(page, app_url):
    tall(page)
    open_page(page, link(app_url, view="Decode", decode_with="cl100k_base", ids="9468, 99, 247, 64"))
    no_exception(page)
    assert page.locator("[data-testid=stCode]").first.inner_text().strip() == "🦙a"
    open_page(page, link(app_url, view="Decode", decode_with="cl100k_base", ids="9468 99"))
    assert "F0 9F A6" in page.locator(".tv-wrap").first.inner_text()
    assert "\ufffd" not in page.locator(".tv-wrap").first.inner_text()
    screenshot(page, "tokenizer-decode")
    open_page(page, link(app_url, view="Chat format", chat="chatml-gpt2"))
    no_exception(page)
    assert page.locator(".tv.sp").count() >= 5
    assert page.get_by_text("The whole conversation is the prompt:", exact=False).count() == 1
    screenshot(page, "tokenizer-chat")


def test_hundred_thousand_characters_stay_exact_and_capped(page, app_url):
    text = ("The panda breeding facility, 2023: 🦙 splashing frogs. " * 2000)[:100_000]
    while len(text.encode("utf-16-le")) // 2 > 100_000:  # the browser's maxlength counts UTF-16 units (🦙 is two)
        text = text[:-1]
    open_page(page, link(app_url, tokenizers="cl100k_base"))
    box = page.get_by_role("textbox", name="Text", exact=True)
    box.fill(text)
    box.press("Control+Enter")
    wait_idle(page)
    page.get_by_text("Showing the first", exact=False).first.wait_for()
    no_exception(page)
    assert metric(page, "Tokens") == f"{len(encoding('cl100k_base').encode_ordinary(text)):,}"
    assert metric(page, "Characters") == f"{len(text):,}"  # code points, as the page says
    assert page.locator(".tv").count() <= 2000
    screenshot(page, "tokenizer-100k")
