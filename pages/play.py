"""Class guessing game, student view (phone first): the prompt, one guess, and after the reveal where it stood."""

from __future__ import annotations

import streamlit as st

from components.game import client_address, get_store, histogram_html, prompt_html, round_score, session_id
from components.guard import guarded_callback, guarded_fragment
from components.html import esc
from components.state import to_query
from components.setup import route_through_app
from lib.classroom.maths import rank_among
from lib.classroom.store import MAX_GUESS_CHARS, GameError

route_through_app()
store = get_store()
me = session_id()
round_id = st.query_params.get("round", "").strip()
if not round_id:
    st.title("Join a guessing round")
    typed = st.text_input("Round code from the lecturer's screen", max_chars=20, key="play_join").strip()
    if typed:
        to_query(round=typed)
        st.rerun()
    st.stop()

r = store.round(round_id)
if r is None:
    st.title("Join a guessing round")
    st.error("No such round: check the link or the code on the lecturer's screen.")
    st.stop()

st.subheader("What word comes next?")
st.html(prompt_html(r.prompt, "1.35rem"))


@guarded_callback
def send() -> None:
    try:
        g = store.submit(round_id, me, st.session_state.play_guess, address=client_address())
        st.session_state.play_note = ("ok", g.raw)
    except GameError as exc:
        st.session_state.play_note = ("error", str(exc))


@guarded_fragment
def guess_box() -> None:
    """The guess form and its "received" state. A fragment: sending reruns only this, which keeps a
    class's submissions cheap for the server."""
    with st.form("play_form", clear_on_submit=True, border=False):
        st.text_input("Your guess (one word)", max_chars=MAX_GUESS_CHARS, key="play_guess",
                      placeholder="type one word…", autocomplete="off")
        st.form_submit_button("Send my guess", type="primary", width="stretch", on_click=send)
    kind, text = st.session_state.pop("play_note", (None, None))
    if kind == "error":
        st.error(text)
    received(store.my_guess(round_id, me))


def received(mine) -> None:
    if mine:
        st.html(f'<div class="play-received" style="font-size:1.3rem;padding:.5em;border:2px solid #16a34a;'
                f'border-radius:8px;background:#f0fdf4;color:#14532d">✅ Received: <b>{esc(mine.raw)}</b></div>')


@guarded_fragment(run_every=8)
def status() -> None:
    """Refreshed every 8 s (cheap: two reads): open or closed; after the reveal, where my guess stood. When the
    round opens, closes or is revealed, the whole page reruns, so the guess box comes and goes with it."""
    live = store.round(round_id)
    if live is None:
        st.error("This round has ended.")
        return
    if live.accepting() != taking_guesses:
        st.rerun(scope="app")
    mine = store.my_guess(round_id, me)
    if live.status != "revealed":
        if not live.accepting():
            received(mine)
        st.caption("Taking guesses: send a new one to change yours." if live.accepting()
                   else "Guessing is closed; wait for the reveal.")
        return
    counts = store.counts(round_id)
    score = round_score(live.model, live.prompt)
    if live.true_word:
        st.html(f'<div class="play-true" style="font-size:1.3rem;padding:.5em;border-radius:8px;background:#eff6ff;'
                f'color:#1e3a8a">The true next word: <b>{esc(live.true_word)}</b></div>')
    if mine:
        p = score.scorer.word_prob(mine.word)
        st.markdown(f"The model gave your word **{p:.2%}**. In the class it came "
                    f"**#{rank_among(mine.word, counts)}** of {len(counts)} different words.")
    st.html(histogram_html(score.rows(counts, live.true_word), live.true_word, show_true=True))


taking_guesses = r.accepting()
if taking_guesses:
    guess_box()  # no guess box once the round is closed or revealed
elif (note := st.session_state.pop("play_note", None)) and note[0] == "error":
    st.error(note[1])  # a guess sent from a box shown before the close
status()
