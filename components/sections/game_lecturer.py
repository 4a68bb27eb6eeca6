"""The lecturer's side of the guessing game: the private code, the round form, the live round and the averages.

Everything the lecturer drives during a lecture (start, close, reveal, the join link and code) is in the main
area, so it works in presentation mode with the sidebar closed; only the private code stays in the sidebar."""

from __future__ import annotations

import streamlit as st

from components.guard import guarded_callback, guarded_fragment
from components.game import guesses_csv, histogram_html, join_link, prompt_html, qr_png, round_code_html, round_score
from components.html import escape_markdown
from lib.classroom.maths import average_bits, class_surprise_bits, model_surprise_bits
from lib.classroom.passages import GAME_PASSAGES
from lib.classroom.store import GameError, GameStore, Network, Round, new_code
from lib.teaching.presets import NEXT_TOKEN_PRESETS


def lecturer_code() -> str:
    """This lecturer's private code (sidebar): kept in the session, or pasted to get earlier rounds back."""
    code = st.session_state.setdefault("game_code", new_code())
    with st.sidebar.expander("Lecturer code (keep it private)"):
        st.caption("Only this code can close, reveal or export your rounds. Paste it here on another device "
                   "or after a reload to get your rounds back. It is never part of the students' link.")
        st.code(code, language=None)
        typed = st.text_input("Use a code I already have", max_chars=64, key="game_code_in").strip()
        if typed and typed != code:
            st.session_state.game_code = code = typed
            st.session_state.pop("game_round", None)
    return code


def start_round_form(store: GameStore, code: str, model_id: str, expanded: bool = True) -> None:
    """The form that opens a round (main area): a passage with a known next word, a lecture preset, or the
    lecturer's own."""
    with st.expander("Start a new round", expanded=expanded):
        source = st.radio("Prompt from", ["A passage with a known next word", "A preset from the lectures", "My own"],
                          key="game_source")
        if source.startswith("A passage"):
            name = st.selectbox("Passage", list(GAME_PASSAGES), key="game_passage")
            prompt, true_word = GAME_PASSAGES[name]
            st.html(prompt_html(prompt, "1.1rem"))
        elif source.startswith("A preset"):
            prompt = NEXT_TOKEN_PRESETS[st.selectbox("Preset", list(NEXT_TOKEN_PRESETS), key="game_preset")]
            true_word = st.text_input("True next word (optional)", max_chars=40, key="game_true_preset")
            st.html(prompt_html(prompt, "1.1rem"))
        else:
            prompt = st.text_area("Prompt", max_chars=2000, key="game_prompt")
            true_word = st.text_input("True next word (optional)", max_chars=40, key="game_true_custom")
        minutes = st.number_input("Open for (minutes)", 1, 240, 30, key="game_minutes")

        @guarded_callback
        def start() -> None:
            try:
                r = store.create_round(prompt, code, true_word=true_word, model=model_id, ttl_s=60 * minutes)
                st.session_state.game_round = st.session_state.game_pick = r.id  # show the new round
            except GameError as exc:
                st.session_state.game_error = str(exc)

        st.button("Start round", type="primary", key="game_start", on_click=start, width="stretch")


def join_warning(round_id: str) -> None:
    """One line, across the page, when phones can't reach the join link (localhost, loopback)."""
    _, warning = join_link(round_id)
    if warning:
        st.warning(escape_markdown(warning), icon=":material/wifi_off:")


def join_panel(round_id: str) -> None:
    """The QR code, the round code in large type and the link."""
    link, _ = join_link(round_id)
    st.html(round_code_html(round_id))
    st.image(qr_png(link), caption="Scan to join", width=240)
    st.code(link, language=None, wrap_lines=True)


def pick_round(rounds: list[Round]) -> str:
    """The round on screen: the newest unless the lecturer picked another."""
    ids = [r.id for r in rounds]
    if st.session_state.get("game_pick") not in ids:
        st.session_state.game_pick = ids[-1]
    round_id = st.selectbox("Round", ids,
                            format_func=lambda i: f"{ids.index(i) + 1}. {next(r.prompt for r in rounds if r.id == i)[:60]}…",
                            key="game_pick")
    st.session_state.game_round = round_id
    return round_id


def round_buttons(store: GameStore, r: Round, code: str) -> None:
    """Close, reopen and reveal: each disabled while the round is already in that state."""
    @guarded_callback
    def set_status(status: str) -> None:
        try:
            store.set_status(r.id, code, status)
        except GameError as exc:
            st.session_state.game_error = str(exc)

    buttons = st.columns(4)
    for col, (label, status) in zip(buttons, {"Close guessing": "closed", "Reopen": "open", "Reveal": "revealed"}.items()):
        col.button(label, key=f"game_{status}", disabled=r.status == status, width="stretch",
                   on_click=set_status, args=(status,))


def networks_panel(store: GameStore, round_id: str, code: str, total: int) -> None:
    """Guesses per network (client address), when one network sent many: the lecturer can discard a burst."""
    if note := st.session_state.pop("game_note", None):  # in this fragment: its button reruns only the fragment
        st.success(note)
    nets = [n for n in store.networks(round_id, code) if n.guesses >= 10]
    if not nets or (len(nets) == 1 and nets[0].guesses == total and total < 40):
        return

    @guarded_callback
    def discard(client: str) -> None:
        try:
            gone = store.discard(round_id, code, client)
            st.session_state.game_note = f"Discarded {gone} guesses from one network; it can't guess in this round."
        except GameError as exc:
            st.session_state.game_error = str(exc)

    with st.expander(f"Guesses by network ({len(nets)} sent 10 or more)"):
        st.caption("Students behind one school network share an address; a script opening many sessions also "
                   "shows up here as one network. Discarding removes its guesses and stops it guessing this round.")
        for i, n in enumerate(nets[:5]):
            left, right = st.columns([3, 1], vertical_alignment="center")
            left.markdown(f"Network {i + 1}: **{n.guesses}** guesses in {_span(n)}")
            right.button("Discard", key=f"game_discard_{n.client}", on_click=discard, args=(n.client,))


def _span(n: Network) -> str:
    seconds = n.last - n.first
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@guarded_fragment(run_every=1)
def live_round(store: GameStore, round_id: str, code: str) -> None:
    """Refreshed every second: the class against the model on this round."""
    r = store.round(round_id)
    if r is None:
        st.info("This round has ended and its data was deleted.")
        return
    try:
        counts = store.counts(round_id, code)
    except GameError as exc:
        st.error(str(exc))
        return
    score = round_score(r.model, r.prompt)
    n = sum(counts.values())
    state = "taking guesses" if r.accepting() else ("revealed" if r.status == "revealed" else "closed")
    st.markdown(f"**{n}** guesses · round **{state}** · model `{score.model_name.replace('`', '')}`")
    networks_panel(store, round_id, code, n)
    revealed = r.status == "revealed"
    st.html(histogram_html(score.rows(counts, r.true_word if revealed else ""), r.true_word, show_true=revealed))
    if revealed and r.true_word:
        c_bits = class_surprise_bits(counts, r.true_word)
        m_bits = model_surprise_bits(score.scorer.word_logprob(r.true_word))
        a, b = st.columns(2)
        a.metric("Class surprise", "–" if c_bits is None else f"{c_bits:.2f} bits")
        b.metric("Model surprise", f"{m_bits:.2f} bits")
    st.caption("Guesses are cut to their first word, without case or punctuation. The model's probability of a word is "
               "the chance that its next tokens spell it (after a space; lower case, Capitalised or UPPER), a product "
               "over the tokens of a longer word. Class surprise uses add-one smoothing: (count+1)/(guesses+words+1).")
    st.download_button("Export CSV", lambda: guesses_csv(r, store.guesses(round_id, code), score.scorer.word_prob),
                       file_name=f"round-{r.id}.csv", mime="text/csv", key="game_csv", on_click="ignore")


def revealed_averages(store: GameStore, rounds: list[Round], code: str) -> None:
    """Class and model surprise averaged over the revealed rounds that have a true word."""
    per_round = []
    for r in rounds:
        if r.status == "revealed" and r.true_word:
            score = round_score(r.model, r.prompt)
            per_round.append((class_surprise_bits(store.counts(r.id, code), r.true_word),
                              model_surprise_bits(score.scorer.word_logprob(r.true_word))))
    c_avg, m_avg, n_rounds = average_bits(per_round)
    if n_rounds:
        st.subheader("Over the revealed rounds")
        a, b, c = st.columns(3)
        a.metric("Class: average surprise", f"{c_avg:.2f} bits/word")
        b.metric("Model: average surprise", f"{m_avg:.2f} bits/word")
        c.metric("Rounds", n_rounds)
        st.caption("Cross-entropy in bits per word: lower means the true words were less of a surprise.")
