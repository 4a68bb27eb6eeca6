"""Lecturer and student views of the guessing game, through the router, on a store of their own."""

from __future__ import annotations

from collections import Counter

import pytest

from lib.classroom.store import open_store
from tests.app.apptest import open_page, shown


@pytest.fixture
def store_url(tmp_path, monkeypatch):
    url = str(tmp_path / "game.sqlite3")
    monkeypatch.setenv("LLMX_GAME_STORE", url)
    return url


def html_of(at) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def start_round(at):
    at.button(key="game_start").click().run()
    assert not at.exception, at.exception
    return at.session_state.game_round, at.session_state.game_code


def guess(round_id: str, text: str):
    at = open_page("pages/play.py", round=round_id)
    at.text_input(key="play_guess").input(text)
    at.get("form_submit_button")[0].click().run()
    assert not at.exception, at.exception
    return at


def test_lecturer_starts_a_round_and_sees_the_class_against_the_model(store_url):
    at = open_page("pages/game.py")
    assert any("Start a round" in i.value for i in at.info)
    round_id, code = start_round(at)
    r = open_store(store_url).round(round_id)
    assert r.true_word == "wife" and r.status == "open" and r.model
    link = next(c.value for c in at.code if "/play?round=" in c.value)
    assert link.endswith(f"/play?round={round_id}") and code not in link
    assert at.get("image")  # the QR code
    for text in ("wife", "Wife.", "house", "<b>bold</b>"):
        guess(round_id, text)
    at.run()
    page = html_of(at)
    assert 'data-word="wife" data-count="2"' in page and 'data-word="house" data-count="1"' in page
    assert "b>bold<" not in page  # escaped, never markup ("<b>bold</b>" normalises to "b>bold</b")
    assert 'data-word="b&gt;bold&lt;/b" data-count="1"' in page
    assert any("4" in m.value and "guesses" in m.value for m in at.markdown)


def test_reveal_shows_surprise_and_averages(store_url):
    at = open_page("pages/game.py")
    round_id, _ = start_round(at)
    guess(round_id, "wife")
    at.run()
    at.button(key="game_revealed").click().run()
    assert not at.exception, at.exception
    assert open_store(store_url).round(round_id).status == "revealed"
    labels = [m.label for m in at.metric]
    assert "Class surprise" in labels and "Model surprise" in labels and "Class: average surprise" in labels
    assert "✓ true" in html_of(at) and 'class="true" data-word="wife"' in html_of(at)
    at.button(key="game_start").click().run()  # a second round is shown at once
    second = at.session_state.game_round
    assert second != round_id and at.selectbox(key="game_pick").value == second
    assert any(c.value.endswith(f"/play?round={second}") for c in at.code)


def test_student_sees_only_their_own_guess_before_the_reveal(store_url):
    at = open_page("pages/game.py")
    round_id, code = start_round(at)
    guess(round_id, "zebra")
    me = guess(round_id, "<i>wife</i>")
    page = html_of(me)
    assert "Received" in page and "&lt;i&gt;wife&lt;/i&gt;" in page and "<i>wife</i>" not in page
    assert "zebra" not in page and [b.label for b in me.get("button")] == ["Send my guess"]  # no lecturer controls
    assert all("zebra" not in m.value for m in me.markdown)
    open_store(store_url).set_status(round_id, code, "revealed")
    me.run()
    page = html_of(me)
    assert 'data-word="zebra" data-count="1"' in page  # only the aggregate, after the reveal
    assert "The true next word: <b>wife</b>" in page


def test_a_new_guess_replaces_the_old_one(store_url):
    at = open_page("pages/game.py")
    round_id, code = start_round(at)
    me = guess(round_id, "house")
    me.text_input(key="play_guess").input("wife")
    me.get("form_submit_button")[0].click().run()
    assert open_store(store_url).counts(round_id, code) == Counter({"wife": 1})


def test_closed_round_and_bad_links_give_one_line_messages(store_url):
    at = open_page("pages/game.py")
    round_id, _ = start_round(at)
    me = guess(round_id, "")
    assert any("Type a word" in e.value for e in me.error)
    at.button(key="game_closed").click().run()
    me.text_input(key="play_guess").input("wife")  # a phone that still shows the box from before the close
    me.get("form_submit_button")[0].click().run()
    assert any("not taking guesses" in e.value for e in me.error)
    me = open_page("pages/play.py", round=round_id)
    assert not me.get("text_input") and any("closed" in c.value for c in me.caption)  # no box once closed
    missing = open_page("pages/play.py", round="nope")
    assert any("No such round" in e.value for e in missing.error)


# -- from the projector (issue 21) -------------------------------------------------------------------
def test_in_presentation_mode_the_lecturer_controls_are_in_the_main_area(store_url, monkeypatch):
    monkeypatch.setenv("LLMX_PUBLIC_URL", "https://llm.example.edu/explainer")
    at = open_page("pages/game.py", present="1")
    assert "game_start" in [b.key for b in at.main.button] and "game_start" not in [b.key for b in at.sidebar.button]
    round_id, _ = start_round(at)
    main_keys = [b.key for b in at.main.button]
    assert {"game_closed", "game_revealed", "game_open"} <= set(main_keys)
    assert next(c.value for c in at.code if "/play?round=" in c.value) == (
        f"https://llm.example.edu/explainer/play?round={round_id}")
    assert f">{round_id}</div>" in html_of(at) and 'class="game-code"' in html_of(at)  # the code, large
    assert not at.warning  # a public address: no warning


@pytest.mark.parametrize("public", ["http://localhost:8501", "http://127.0.0.1:8501/", "http://[::1]:8501"])
def test_a_loopback_join_link_is_warned_about(store_url, monkeypatch, public):
    monkeypatch.setenv("LLMX_PUBLIC_URL", public)
    at = open_page("pages/game.py")
    start_round(at)
    assert len(at.warning) == 1 and "Phones can't join" in shown(at.warning[0].value)


def test_no_guess_box_after_the_reveal(store_url):
    at = open_page("pages/game.py")
    round_id, code = start_round(at)
    me = guess(round_id, "wife")
    open_store(store_url).set_status(round_id, code, "revealed")
    me.run()
    assert not me.get("text_input") and not me.get("form_submit_button")
    assert "Received: <b>wife</b>" not in html_of(me) and "The true next word" in html_of(me)


def test_the_play_page_counts_guesses_per_client_address(store_url, monkeypatch):
    """Every AppTest session comes from the same (loopback) address: like a script opening fresh sessions."""
    monkeypatch.setenv("LLMX_GAME_GUESSES_PER_ADDRESS", "2")
    at = open_page("pages/game.py")
    round_id, code = start_round(at)
    guess(round_id, "wife")
    guess(round_id, "house")
    third = guess(round_id, "zebra")
    assert any("from your network" in e.value for e in third.error)
    store = open_store(store_url)
    assert store.counts(round_id, code) == Counter({"wife": 1, "house": 1})
    assert [n.guesses for n in store.networks(round_id, code)] == [2]


def test_the_lecturer_discards_a_burst_from_one_network(store_url):
    at = open_page("pages/game.py")
    round_id, code = start_round(at)
    store = open_store(store_url)
    for i in range(25):  # a script: fresh sessions from one address
        store.submit(round_id, f"bot{i:04d}", "banana", address="203.0.113.7")
    store.submit(round_id, "student0001", "wife", address="198.51.100.1")
    at.run()
    assert any(e.label.startswith("Guesses by network") for e in at.expander)
    assert any("25" in m.value and "Network 1" in m.value for m in at.markdown)
    discard = next(b for b in at.button if b.key and b.key.startswith("game_discard_"))
    discard.click().run()
    assert not at.exception
    assert store.counts(round_id, code) == Counter({"wife": 1})
    assert any("Discarded 25 guesses" in s.value for s in at.success)
