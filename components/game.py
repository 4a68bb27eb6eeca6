"""Streamlit pieces of the class guessing game: the shared store, cached word scorers, the histogram, the QR code."""

from __future__ import annotations

import csv
import io
import os
import secrets
from pathlib import Path

import streamlit as st

from components.html import esc
from components.state import to_query
from lib.classroom.links import PUBLIC_URL_ENV, app_base, join_url, unreachable_host
from lib.classroom.maths import HistRow, hf_scorer, histogram, model_words
from lib.classroom.store import GameStore, Round, open_store

STORE_ENV = "LLMX_GAME_STORE"          # redis://host:6379/0, sqlite:///path/game.sqlite3, or a path


def default_store_url() -> str:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return str(state / "llm-explainer" / "game.sqlite3")


@st.cache_resource(show_spinner=False)
def _store(url: str) -> GameStore:
    return open_store(url)


def get_store() -> GameStore:
    """The process's store (from $LLMX_GAME_STORE); stops the page with one line when it can't be reached."""
    url = os.environ.get(STORE_ENV) or default_store_url()
    try:
        return _store(url)
    except Exception as exc:  # noqa: BLE001 - any connection error becomes one readable line
        st.error(f"The game's store can't be reached ({type(exc).__name__}); check {STORE_ENV}.")
        st.stop()


class RoundScore:
    """The model's view of one prompt: word probabilities and its own likeliest words."""

    def __init__(self, model_id: str, prompt: str):
        from components.loaders import get_model_or_fallback

        model, _ = get_model_or_fallback(model_id)
        self.model_name = model.name
        self.scorer = hf_scorer(model, prompt)
        self.top_words = model_words(lambda i: model.token_row(i).text, self.scorer.first_step(), n=5)

    def rows(self, counts, true_word: str = "") -> list[HistRow]:
        """The histogram rows; the true word (once revealed) always has a row."""
        extra = self.top_words + ([true_word] if true_word and true_word not in self.top_words else [])
        return histogram(counts, self.scorer.word_prob, extra_words=extra)


@st.cache_resource(max_entries=32, show_spinner="Asking the model…")
def round_score(model_id: str, prompt: str) -> RoundScore:
    """One per (model, prompt) per process, shared by the lecturer and every student. (The model's objects are
    moved out of the collector's reach once, at start-up: components/setup.freeze_heap.)"""
    return RoundScore(model_id, prompt)


def session_id() -> str:
    """An anonymous id for this browser tab, kept in ?me= so a reload keeps the same guess slot."""
    if "game_me" not in st.session_state:
        me = st.query_params.get("me", "")
        st.session_state.game_me = me if me.isalnum() and 16 <= len(me) <= 64 else secrets.token_hex(16)
    to_query(me=st.session_state.game_me)
    return st.session_state.game_me


def join_link(round_id: str) -> tuple[str, str | None]:
    """The students' link (from $LLMX_PUBLIC_URL, else the address this page was opened at) and, when phones
    can't reach that address (localhost, loopback), a warning saying what to do."""
    configured = os.environ.get(PUBLIC_URL_ENV, "").strip()
    base = app_base(configured) or app_base(st.context.url or "") or "http://localhost:8501"
    link = join_url(base, round_id)
    host = unreachable_host(link)
    if host is None:
        return link, None
    where = f"{PUBLIC_URL_ENV} is" if configured else "this page is open at"
    return link, (f"Phones can't join: {where} {host}, which on a phone means the phone itself. Open /game at "
                  f"this computer's network address (e.g. http://192.168.x.y:8501), or set {PUBLIC_URL_ENV}.")


def client_address() -> str:
    """This session's client address: nginx's X-Real-IP when the direct peer is a trusted proxy (deploy/limits.py)."""
    from deploy.limits import client_address as resolve
    from deploy.limits import trusted_networks

    peer = st.context.ip_address
    peer = peer if isinstance(peer, str) and peer else "127.0.0.1"  # Streamlit says None for a loopback peer
    try:
        return resolve(peer, st.context.headers.get("X-Real-IP"), trusted_networks())
    except ValueError:  # LLMX_TRUSTED_PROXIES unreadable: count the peer
        return peer


def round_code_html(round_id: str) -> str:
    """The round code, large, for students who type it at /play instead of scanning."""
    return (f'<div class="game-code" style="text-align:center;line-height:1.1"><div style="font-size:1.1rem;'
            f'color:#374151">Round code</div><div style="font-family:ui-monospace,Menlo,Consolas,monospace;'
            f'font-size:3rem;font-weight:700;letter-spacing:.08em;color:#111827">{esc(round_id)}</div></div>')


def qr_png(text: str) -> bytes:
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=10, border=2)
    return buf.getvalue()


HIST_CSS = """
<style>
.gh{font-size:1.2rem;width:100%;border-collapse:collapse}
.gh td{padding:4px 6px;vertical-align:middle;white-space:nowrap}
.gh .w{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre;max-width:14em;overflow:hidden;text-overflow:ellipsis}
.gh-wrap{overflow-x:auto}
.gh .track{display:inline-block;width:12em;vertical-align:middle}
.gh .bar{height:1.1em;display:block;border:1px solid #1f2937;box-sizing:border-box;min-width:2px}
@media (max-width:640px){.gh{font-size:.95rem}.gh .track{width:3.5em}.gh td{padding:3px 2px}.gh .lbl{display:none}
.gh .w{max-width:7em}}
.gh .cls{background:#f59e0b}
.gh .mdl{background:#2563eb;background-image:repeating-linear-gradient(45deg,transparent 0 4px,rgba(255,255,255,.35) 4px 8px)}
.gh .num{font-variant-numeric:tabular-nums;white-space:nowrap;padding-left:6px}
.gh tr.true td{outline:3px solid #16a34a}
.gh th{text-align:left;font-size:1rem;color:#374151}
</style>
"""


def histogram_html(rows: list[HistRow], true_word: str = "", show_true: bool = False) -> str:
    """Class (orange, solid) beside model (blue, hatched) per word; every word is escaped."""
    body = []
    for r in rows:
        label = esc(r.word) if r.word else "<i>everything else</i>"
        mark = " ✓ true" if show_true and r.word and r.word == true_word else ""
        cls = ' class="true"' if mark else ""
        body.append(
            f'<tr{cls} data-word="{esc(r.word)}" data-count="{r.count}">'
            f'<td class="w">{label}{mark}</td>'
            f'<td><span class="track"><span class="bar cls" style="width:{r.share:.2%}"></span></span>'
            f'<span class="num"><span class="lbl">class </span>{r.count} ({r.share:.0%})</span></td>'
            f'<td><span class="track"><span class="bar mdl" style="width:{r.model_prob:.2%}"></span></span>'
            f'<span class="num"><span class="lbl">model </span>{r.model_prob:.1%}</span></td></tr>')
    head = "<tr><th>word</th><th>class (guesses)</th><th>model (probability)</th></tr>"
    return f'{HIST_CSS}<div class="gh-wrap"><table class="gh">{head}{"".join(body)}</table></div>'


def prompt_html(prompt: str, size: str = "1.6rem") -> str:
    return (f'<div class="game-prompt" style="font-size:{size};line-height:1.4;white-space:pre-wrap;'
            f'border-left:6px solid #2563eb;padding:.4em .8em;background:#f8fafc;color:#111827">'
            f'{esc(prompt)} <b>…?</b></div>')


def guesses_csv(r: Round, guesses, word_prob) -> bytes:
    """One row per guess: no session id, only an order number."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["round", "prompt", "true_word", "n", "guess", "word", "model_prob", "submitted_unix"])
    for i, g in enumerate(guesses, 1):
        # A leading =, +, - or @ would be run as a formula by spreadsheets: quote it as text.
        raw = "'" + g.raw if g.raw[:1] in "=+-@" else g.raw
        w.writerow([r.id, r.prompt, r.true_word, i, raw, g.word, f"{word_prob(g.word):.6g}", f"{g.at:.3f}"])
    return out.getvalue().encode("utf-8")
