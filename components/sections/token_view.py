"""Token chips, id lists and counts for the tokenizer page, plus the caches around lib.tokens.tokenization.

Every piece of token text is escaped (components.html.esc) before it reaches st.html; st.html
never runs scripts. Neighbouring chips differ in colour *and* border style, with a gap between.
"""

from __future__ import annotations

import unicodedata

import regex
import streamlit as st

import logging

from components.charts import CATEGORICAL
from components.html import CHIP_COLOURS, esc, escape_markdown, error_line
from lib.bounded_cache import ByteBoundedCache
from lib.models import hub
from lib.tokens import chat_format as chats
from lib.tokens import loading
from lib.tokens.segmentation import Segment, Segmentation
from lib.tokens import tokenization as T

LOG = logging.getLogger("llmx")
RENDER_CAP = 2000        # chips drawn per view; counts always cover the whole text
LABEL_CAP = 200          # characters shown inside one chip
COLOURS = CHIP_COLOURS  # one palette for every token chip
WHITESPACE = {" ": "·", "\t": "→", "\n": "↵", "\r": "␍", "\r\n": "␍↵"}
_GRAPHEME = regex.compile(r"\X")

CSS = """<style>
.tv-wrap{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:22px;line-height:2.35;
  direction:ltr;overflow-wrap:anywhere}
.tv{display:inline-block;border:2px solid #1f2937;border-radius:6px;padding:0 5px;margin:3px 4px 3px 0;
  color:#111827;white-space:pre;unicode-bidi:isolate;line-height:1.5;vertical-align:middle}
.tv.alt{border-style:dashed}
.tv .ws{color:#4b5563}
.tv .cc{font-size:.6em;border:1px solid #6b7280;border-radius:3px;padding:0 2px;color:#374151}
.tv .n{font-size:.55em;font-weight:700;vertical-align:super;margin-left:3px;color:#1f2937}
.tv.sp{background:#111827 !important;color:#fff;font-weight:700;border-color:#111827}
.tv.pt{border-style:dotted;border-color:#b91c1c;color:#7f1d1d}
.tv.id{font-variant-numeric:tabular-nums}
.tv-legend{font-size:16px;color:#374151;margin-top:4px}
</style>"""


_NAMES = {0x00: "NUL", 0x7F: "DEL", 0x200B: "ZWSP", 0x200C: "ZWNJ", 0x200D: "ZWJ", 0xFEFF: "BOM",
          0x200E: "LRM", 0x200F: "RLM", 0x202E: "RLO", 0x202D: "LRO", 0x00A0: "NBSP"}
_EMOJI = regex.compile(r"\p{Extended_Pictographic}")


def _mark(char: str) -> str:
    return _NAMES.get(ord(char), f"U+{ord(char):04X}")


def _invisible(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp") or (
        unicodedata.category(char) == "Zs" and char != " ")


def visible_html(text: str) -> str:
    """Escaped text with spaces, tabs, newlines and invisible characters made visible."""
    parts = []
    shown = 0
    for g in _GRAPHEME.findall(text):
        if shown >= LABEL_CAP:
            parts.append(f'<span class="cc">… {len(text) - shown:,} more characters</span>')
            break
        shown += len(g)
        if g in WHITESPACE:
            parts.append(f'<span class="ws">{WHITESPACE[g]}</span>')
        elif all(_invisible(c) for c in g):
            parts.append("".join(f'<span class="cc">{esc(_mark(c))}</span>' for c in g))
        elif _EMOJI.search(g):
            parts.append(esc(g))  # ZWJ and modifiers inside an emoji sequence: show the emoji
        else:
            parts.append("".join(f'<span class="cc">{esc(_mark(c))}</span>' if _invisible(c) else esc(c) for c in g))
    return "".join(parts)


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data)


def _title(seg: Segment, source: str) -> str:
    lines = []
    if len(seg.ids) == 1:
        lines.append(f"token #{seg.index + 1} · id {seg.ids[0]}" + (" · special token" if seg.special else ""))
    else:
        lines.append(f"{len(seg.ids)} tokens that only together make whole characters:")
    for tid, raw in zip(seg.ids, seg.token_bytes or (seg.bytes,)):
        lines.append(f"id {tid}: bytes {_hex(raw)}" if len(seg.ids) > 1 else f"bytes {_hex(raw)}")
    if seg.partial:
        lines.append("not a whole UTF-8 character, so its bytes are shown")
    if source and source != seg.text:
        lines.append(f"from the text: {source[:80]!r}")
    return "\n".join(lines)


SPOKEN = {" ": " space ", "\t": " tab ", "\n": " newline ", "\r": " return "}


def _spoken(seg: Segment, show_ids: bool) -> str:
    """What a screen reader says for a chip (its aria-label starts with this): whitespace by name, bytes as hex."""
    if show_ids:
        return "ids " + " ".join(map(str, seg.ids))
    if seg.partial:
        return "bytes " + _hex(seg.bytes)
    text = "".join(SPOKEN.get(c, _mark(c) if _invisible(c) else c) for c in seg.text[:LABEL_CAP])
    return " ".join(text.split()) or "empty"


def chip_html(seg: Segment, position: int, show_ids: bool, source: str = "") -> str:
    classes = ["tv"] + (["alt"] if position % 2 else []) + (["sp"] if seg.special else []) \
        + (["pt"] if seg.partial else []) + (["id"] if show_ids else [])
    if show_ids:
        body = esc(" ".join(map(str, seg.ids)))
    elif seg.partial:
        body = esc(_hex(seg.bytes))
    else:
        body = visible_html(seg.text) or '<span class="cc">empty</span>'
    if len(seg.ids) > 1 and not show_ids:
        body += f'<span class="n">{len(seg.ids)}</span>'
    title = esc(_title(seg, source)).replace("\n", "&#10;")
    spoken = esc(f"{_spoken(seg, show_ids)}; " + _title(seg, source).replace("\n", "; "))
    chip = (f'<span class="{" ".join(classes)}" style="background:{COLOURS[position % len(COLOURS)]}" '
            f'title="{title}" role="img" aria-label="{spoken}">{body}</span>')
    newlines = min(seg.text.count("\n"), 2) if not show_ids and not seg.special else 0
    return chip + "<br>" * newlines


def chips_html(seg: Segmentation, show_ids: bool = False, cap: int = RENDER_CAP) -> str:
    parts = [chip_html(s, k, show_ids, seg.text[s.char_start:s.char_end]) for k, s in enumerate(seg.segments[:cap])]
    return f'{CSS}<div class="tv-wrap">{"".join(parts)}</div>'


LEGEND = ("Chips alternate colour and border. · is a space, → a tab, ↵ a newline. A small raised number means that "
          "many tokens together make one character (hover for each id and its bytes). Dark chips are special "
          "tokens; hex like F0 9F is raw bytes that are not a whole character.")


def render_tokens(seg: Segmentation, show_ids: bool = False, cap: int = RENDER_CAP, legend: bool = True) -> None:
    """Chips (or ids), with the 'showing the first N of M tokens' line when capped."""
    shown_segments = seg.segments[:cap]
    shown_tokens = sum(len(s.ids) for s in shown_segments)
    if not seg.ids:
        st.info("No tokens: the text is empty." if not seg.text else "No tokens.")
        return
    st.html(chips_html(seg, show_ids, cap))
    if shown_tokens < seg.n_tokens:
        st.caption(f"Showing the first {shown_tokens:,} of {seg.n_tokens:,} tokens. The counts cover the whole text.")
    if show_ids:
        ids = list(seg.ids[:max(shown_tokens, 1)])
        st.code(", ".join(map(str, ids)) + (" …" if len(ids) < seg.n_tokens else ""), language=None, wrap_lines=True)
    if legend:
        st.html(f'<div class="tv-legend">{esc(LEGEND)}</div>')


CHARACTERS_HELP = ("Unicode code points, as Python's len() counts them: an accent typed as its own mark, or an emoji "
                   "joined from several (👨‍👩‍👧), counts each part.")


def render_counts(seg: Segmentation) -> None:
    c = seg.counts
    cols = st.columns(4)
    cols[0].metric("Tokens", f"{c.tokens:,}")
    cols[1].metric("Characters", f"{c.characters:,}", help=CHARACTERS_HELP)
    cols[2].metric("Words", f"{c.words:,}")
    cols[3].metric("Characters per token", f"{c.chars_per_token:.2f}")


def name(tokenizer: str) -> str:
    """A tokenizer's label for markdown (headings, captions, spinners): typed hub ids are user text."""
    return escape_markdown(loading.label(tokenizer))


def render_notes(notes) -> None:
    for note in notes:
        st.info(escape_markdown(note), icon="ℹ️")


# --- caches --------------------------------------------------------------------------------


# Bounded by bytes, not by entries (64 entries of 10 MB texts once held ~11 GB): a segmented text costs about
# 22 bytes per character (GPT-2, measured with tracemalloc), charged here as 32, so 64 MB per process holds about
# two million characters of text whatever their number; the oldest go first.
SEGMENTATION_BYTES_PER_CHAR = 32
_SEGMENTATIONS: ByteBoundedCache[Segmentation] = ByteBoundedCache(
    64 * 2**20, size=lambda key, seg: SEGMENTATION_BYTES_PER_CHAR * len(key[1]) + 4096)


def _segmentation(name: str, text: str, limit: int | None, group: bool) -> Segmentation:
    return _SEGMENTATIONS.get((name, text, limit, group), lambda: T.segment(name, text, limit=limit, group=group))


def segmentation(name: str, text: str, limit: int | None = RENDER_CAP, group: bool = True) -> Segmentation | None:
    """Cached segmentation, or None after showing why this tokenizer can't be used here."""
    try:
        with st.spinner(f"Loading {escape_markdown(loading.label(name))}…"):
            return _segmentation(loading.canonical(name), text, limit, group)
    except hub.ModelUnavailable as exc:
        st.warning(error_line(exc))
    except Exception:  # a broken hub tokenizer must not take the page down; the detail goes to the server log
        LOG.exception("tokenizer %r failed", name)
        st.error(f"The tokenizer {escape_markdown(loading.label(name))} could not be used here. Pick another one, or check the hub id.")
    return None


@st.cache_resource(max_entries=64, show_spinner=False)
def _decoded(name: str, ids: tuple[int, ...], limit: int | None) -> Segmentation:
    return T.decode(name, ids, limit=limit)


def decoded(name: str, ids: tuple[int, ...], limit: int | None = RENDER_CAP) -> Segmentation | None:
    try:
        with st.spinner(f"Loading {escape_markdown(loading.label(name))}…"):
            return _decoded(loading.canonical(name), ids, limit)
    except hub.ModelUnavailable as exc:
        st.warning(error_line(exc))
    except ValueError as exc:
        st.error(error_line(exc))
    except Exception:
        LOG.exception("decoding with %r failed", name)
        st.error(f"The tokenizer {escape_markdown(loading.label(name))} could not decode these ids. Pick another one.")
    return None


@st.cache_resource(max_entries=64, show_spinner=False)
def _chat(source: str, messages: tuple[tuple[str, str], ...], add_generation_prompt: bool) -> chats.ChatFormat:
    return chats.chat_format(source, [{"role": r, "content": c} for r, c in messages], add_generation_prompt, RENDER_CAP)


def chat(source: str, messages: list[tuple[str, str]], add_generation_prompt: bool) -> chats.ChatFormat | None:
    try:
        with st.spinner("Loading the chat tokenizer (transformers)…"):
            return _chat(source, tuple(messages), add_generation_prompt)
    except hub.ModelUnavailable as exc:
        st.warning(error_line(exc))
    except Exception:  # templates are user-supplied Jinja on the hub; say so, don't crash
        LOG.exception("chat template of %r failed", source)
        st.error(f"The chat template of {escape_markdown(source)} failed on these turns. Try another chat tokenizer.")
    return None


@st.cache_data(ttl=60, show_spinner=False)
def chat_sources() -> list[tuple[str, str, str]]:
    return [(s.name, s.label, s.about) for s in chats.chat_sources()]


PATTERNS = ("", "/", ".", "x", "\\", "+")


def tokens_per_language_chart(frame, languages: list[str]):
    """Grouped horizontal bars: tokens per language for each tokenizer. Patterns and printed counts, not colour alone."""
    import plotly.express as px

    n_tok = frame["Tokenizer"].nunique()
    fig = px.bar(frame, y="Language", x="Tokens", color="Tokenizer", pattern_shape="Tokenizer", barmode="group",
                 orientation="h", text="Tokens", pattern_shape_sequence=PATTERNS,
                 category_orders={"Language": languages},
                 color_discrete_sequence=CATEGORICAL)
    fig.update_traces(textposition="outside", textfont_size=18, cliponaxis=False)
    fig.update_layout(font=dict(size=20), height=min(1600, 140 + 22 * len(languages) * max(n_tok, 2)),
                      margin=dict(t=10, b=10, l=10, r=40), bargap=0.25,
                      legend=dict(orientation="h", y=1.0, yanchor="bottom", x=0, xanchor="left", title=""),
                      xaxis_title="tokens (fewer is cheaper)", yaxis_title="")
    return fig
