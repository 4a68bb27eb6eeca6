"""What a rendered AppTest page shows, read the way a browser would: which text goes through markdown,
which through HTML, which into Plotly. The fuzz suite and the issue-13 tests assert on these."""

from __future__ import annotations

import json
import re
from components.presentation import PAGE_JS
from components.sections.lecture_view import KEYS_JS

FIXED_SCRIPTS = {PAGE_JS, KEYS_JS}  # the app's own fixed scripts: no user text in them

# Element fields that Streamlit renders as markdown (bodies, labels, help, spinners, alerts, captions).
MARKDOWN_TYPES = {"markdown", "caption", "title", "header", "subheader", "alert", "exception"}
LABEL_FIELDS = ("label", "help", "placeholder")
JS_HREF = re.compile(r"""href\s*=\s*["']?\s*javascript:""", re.I)
AUTOLINK = re.compile(r"(https?://|www\.|@)[\w.-]*evil", re.I)
GUARD_TEXT = "stopped on an unexpected problem"


def elements(at) -> list:
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        if getattr(node, "proto", None) is not None:
            out.append(node)
        stack.extend(getattr(node, "children", {}).values())
    return out


def _field(proto, name):
    try:
        return getattr(proto, name)
    except AttributeError:
        return None


def markdown_texts(at) -> list[str]:
    """Every string the browser will run through the markdown renderer (without unsafe HTML)."""
    texts = []
    for el in elements(at):
        proto, kind = el.proto, getattr(el, "type", "")
        if kind in MARKDOWN_TYPES or type(el).__name__ in ("Markdown", "Caption", "Title", "Header", "Subheader",
                                                          "Warning", "Error", "Info", "Success"):
            if not _field(proto, "allow_html"):
                body = _field(proto, "body")
                if isinstance(body, str):
                    texts.append(body)
        for name in LABEL_FIELDS:
            value = _field(proto, name)
            if isinstance(value, str) and value:
                texts.append(value)
    return texts


def html_texts(at) -> list[str]:
    """Every string the browser inserts as HTML: st.html bodies and unsafe-HTML markdown."""
    out = []
    for el in elements(at):
        proto = el.proto
        if getattr(el, "type", "") == "html" or (_field(proto, "allow_html") and isinstance(_field(proto, "body"), str)):
            out.append(proto.body)
    return out


def plotly_strings(at) -> list[str]:
    out = []
    for el in elements(at):
        if getattr(el, "type", "") == "plotly_chart":
            stack = [json.loads(el.proto.spec)]
            while stack:
                item = stack.pop()
                if isinstance(item, str):
                    out.append(item)
                elif isinstance(item, dict):
                    stack.extend(item.values())
                elif isinstance(item, list):
                    stack.extend(item)
    return out


def problems(at, marker: str = "evil.example") -> list[str]:
    """Everything wrong with a rendered page, as readable lines (empty when the page is fine)."""
    found = [f"exception element: {e.value[:200]}" for e in at.exception]
    found += [f"guard caught an error: {e.value[:200]}" for e in at.error if GUARD_TEXT in e.value]
    headed = any(getattr(el, "type", "") == "title" or type(el).__name__ == "Title" for el in elements(at)) or any(
        text.startswith("#") for text in markdown_texts(at))  # a markdown heading (the Lecture page's step title)
    if not headed:
        found.append("the page did not render its title")
    for text in markdown_texts(at):
        if marker in text:  # escaped user text reads "evil\.example"; bare, GFM would make it a link
            found.append(f"user text reached markdown unescaped: {text[:200]!r}")
        elif AUTOLINK.search(re.sub(r"\\(.)", r"\1", text)):  # GFM autolinks text after resolving escapes
            found.append(f"user text would become a link: {text[:200]!r}")
    for text in html_texts(at):
        if text in FIXED_SCRIPTS:
            continue
        low = text.lower()
        if "<script" in low or "<img" in low or JS_HREF.search(text) or "<a href" in low and marker in low:
            found.append(f"user markup reached HTML unescaped: {text[:200]!r}")
    for text in plotly_strings(at):
        low = text.lower()
        if "<a" in low or "<script" in low or "<img" in low:
            found.append(f"user markup reached a Plotly spec: {text[:200]!r}")
    return found
