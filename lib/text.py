"""Text helpers every page shares: one way to clean invalid Unicode, one way to show whitespace."""

from __future__ import annotations

import unicodedata

WHITESPACE_GLYPHS = {" ": "␣", "\t": "→", "\r": "␍", "\n": "↵"}


def clean_text(text: str) -> str:
    """Unpaired surrogates (not valid Unicode, so no tokenizer or JSON encoder can take them) become U+FFFD;
    surrogate pairs that spell a real character are joined."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def lone_surrogates(text: str) -> int:
    """How many code points clean_text() replaces in `text`."""
    return clean_text(text).count("\ufffd") - text.count("\ufffd")


def strip_controls(text: str) -> str:
    """Drop control characters, keeping newlines and tabs."""
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


def is_true(value: object) -> bool:
    """A switch from a link, an environment variable or a secret: 1/true/yes/on, any case."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def show_whitespace(text: str) -> str:
    """Make spaces, tabs and newlines visible: ␣ for space, → for tab, ↵ for newline."""
    return "".join(WHITESPACE_GLYPHS.get(c, c) for c in text)
