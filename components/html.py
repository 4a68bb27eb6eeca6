"""Escaped HTML snippets. Every token is user-controlled text: escape it before it reaches unsafe_allow_html."""

from __future__ import annotations

import html
import re

# Alternating chip backgrounds plus a border and gap, so neighbours differ by more than colour.
CHIP_COLOURS = ("#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#ddd6fe", "#fed7aa")
CHIP_CSS = """
<style>
.llmx-chips{line-height:2.4;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.15rem;word-break:break-all}
.llmx-chip{display:inline-block;border:1px solid #1f2937;border-radius:4px;padding:0 3px;margin:1px 2px;color:#111827;white-space:pre}
.llmx-chip:nth-child(even){border-style:dashed}
.llmx-chip sub{font-size:.65em;color:#374151;margin-left:2px}
.llmx-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
</style>
"""


def esc(text: str) -> str:
    return html.escape(text, quote=True)


# Everything Streamlit's markdown gives meaning to: CommonMark, GFM tables and autolinks (http:, www.), LaTeX ($),
# colour and icon directives (:red[...], :material/x:), emoji shortcodes and HTML tags/entities.
_MD_SPECIAL = re.compile(r"""([\\`*_{}\[\]()#+\-.!|<>~$:&=^"'@/%])""")


# GFM finds literal autolinks (http://, www., name@host) in the text *after* escapes are resolved, so escaping
# can't stop them: an invisible word joiner after ":", "@" and "www" breaks the pattern instead.
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"[:@]|\bwww(?=\.)", re.I)


def escape_markdown(text: object) -> str:
    """User or URL text made inert for anything Streamlit renders as markdown (st.warning, st.caption, widget
    labels, spinners): every meaningful character is backslash-escaped, so it shows exactly as typed, as text."""
    text = _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, str(text))
    return _MD_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@~+-]+){2,}[\\/]?")


def error_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message as one short line for the page: no traceback, no server paths, markdown-inert."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    first = _PATH.sub("…", first)
    return escape_markdown(first if len(first) <= limit else first[:limit] + "…")


def plotly_text(text: object) -> str:
    """Text for a Plotly title, tick label or hover: Plotly reads a subset of HTML (<a href>, <b>, <br>), so escape it."""
    return html.escape(str(text), quote=False)


def chip(label: str, title: str, background: str, extra: str = "") -> str:
    """One token chip; label and title are escaped here. The title (id, bytes) is also in the chip as visually
    hidden text, so a screen reader reads it, not only a mouse user on hover."""
    return (f'<span class="llmx-chip" title="{esc(title)}" style="background:{esc(background)}">'
            f'{esc(label)}{extra}<span class="llmx-sr">, {esc(title)}</span></span>')


def token_titles(model, ids) -> list[str]:
    """A chip's hover and screen-reader text for each token id: "id 464 · bytes 20 74 68 65" (id only when the model
    does not say its bytes)."""
    rows = [model.token_row(int(i)) for i in ids]
    return [f"id {i}" + (f" · bytes {r.raw.hex(' ').upper()}" if r is not None and r.raw else "")
            for i, r in zip(ids, rows)]


def chips(items: list[tuple[str, str]], colours: tuple[str, ...] = CHIP_COLOURS, *, height: int | None = None,
          label: str = "tokens") -> str:
    """(label, hover title) pairs as a row of alternating chips. With `height`, the row scrolls in a box of that
    height that a keyboard can focus (and so scroll)."""
    body = "".join(chip(text, title, colours[i % len(colours)]) for i, (text, title) in enumerate(items))
    box = (f' tabindex="0" role="region" aria-label="{esc(label)}" style="height:{int(height)}px;overflow:auto"'
           if height else "")
    return f'{CHIP_CSS}<div class="llmx-chips"{box}>{body}</div>'


def table(rows: list[dict], label: str) -> str:
    """Rows of dicts as an HTML table (cells escaped) in a box a keyboard can focus and scroll when it is wider than
    the screen: st.table's scroll box cannot take focus (axe: scrollable-region-focusable)."""
    header = list(rows[0]) if rows else []
    head = "".join(f"<th scope='col'>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(h, ''))}</td>" for h in header) + "</tr>" for r in rows)
    return (f"{TABLE_CSS}<div class='llmx-table' tabindex='0' role='region' aria-label='{esc(label)}'>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


TABLE_CSS = """<style>
.llmx-table{overflow-x:auto;max-width:100%}
.llmx-table table{border-collapse:collapse;width:100%}
.llmx-table th,.llmx-table td{border-bottom:1px solid #d1d5db;padding:.3em .6em;text-align:left;vertical-align:top}
.llmx-table:focus-visible,.llmx-chips:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
</style>"""


def probability_colour(p: float) -> str:
    """Light red (unlikely) to light green (likely); the probability is also printed, so colour is not the only cue."""
    p = min(1.0, max(0.0, p))
    r, g = int(255 - 120 * p), int(180 + 60 * p)
    return f"rgb({r},{g},{int(190 - 60 * p)})"
