"""The game store's rules, run against SQLite and against a real redis-server started here."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections import Counter

import pytest

from lib.classroom.store import (MAX_GUESS_CHARS, RATE_LIMIT, RATE_WINDOW_S, GameError, RedisStore, SQLiteStore,
                            code_hash, new_code, open_store)
from tests.conftest import IN_CI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    exe = shutil.which("redis-server")
    if exe is None:
        if IN_CI:
            pytest.fail("redis-server is not installed; .ci/run must apt-get install redis-server")
        pytest.skip("redis-server is not installed")
    port = _free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--daemonize", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server did not start")
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "game.sqlite3")
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def test_backend_is_chosen_by_url(store_url, store):
    assert isinstance(store, RedisStore if store_url.startswith("redis://") else SQLiteStore)


def test_code_is_stored_only_as_a_hash(store):
    code = new_code()
    r = store.create_round("The cat sat on the", code, true_word="Mat.")
    assert r.owner == code_hash(code) != code
    got = store.round(r.id)
    assert got == r and got.true_word == "mat" and got.status == "open"
    assert code not in repr(got)


def test_new_guess_replaces_old_and_counts_are_per_word(store):
    code = new_code()
    r = store.create_round("The cat sat on the", code)
    store.submit(r.id, "s1", "mat")
    store.submit(r.id, "s2", "  Mat! ")
    store.submit(r.id, "s3", "floor")
    store.submit(r.id, "s3", "sofa")  # replaces s3's "floor"
    assert store.counts(r.id, code) == Counter({"mat": 2, "sofa": 1})
    assert store.my_guess(r.id, "s3").raw == "sofa"
    assert store.my_guess(r.id, "nobody") is None
    assert sorted(g.session for g in store.guesses(r.id, code)) == ["s1", "s2", "s3"]


def test_only_the_code_holder_controls_the_round(store):
    code = new_code()
    r = store.create_round("Once upon a", code)
    store.submit(r.id, "s1", "time")
    for bad in ("", "wrong", new_code()):
        with pytest.raises(GameError, match="Only the lecturer"):
            store.set_status(r.id, bad, "revealed")
        with pytest.raises(GameError, match="Only the lecturer"):
            store.guesses(r.id, bad)
        with pytest.raises(GameError, match="after the reveal"):
            store.counts(r.id, bad)
    assert store.round(r.id).status == "open"
    store.set_status(r.id, code, "revealed")
    assert store.counts(r.id) == Counter({"time": 1})  # anyone, once revealed


def test_closed_and_expired_rounds_refuse_guesses(store):
    code = new_code()
    t = time.time()  # Redis really expires keys, so the clock must be near now
    r = store.create_round("Once upon a", code, ttl_s=60, now=t)
    store.submit(r.id, "s1", "time", now=t + 10)
    with pytest.raises(GameError, match="not taking guesses"):
        store.submit(r.id, "s2", "time", now=t + 61)
    store.set_status(r.id, code, "closed")
    with pytest.raises(GameError, match="not taking guesses"):
        store.submit(r.id, "s3", "time", now=t + 11)
    store.set_status(r.id, code, "open")
    store.submit(r.id, "s3", "time", now=t + 12)
    assert store.counts(r.id, code) == Counter({"time": 2})


def test_bad_input_gives_one_line_messages(store):
    r = store.create_round("Hello", new_code())
    for text, msg in (("", "Type a word"), ("   ", "Type a word"), ("x" * (MAX_GUESS_CHARS + 1), "characters at most")):
        with pytest.raises(GameError, match=msg):
            store.submit(r.id, "s1", text)
    with pytest.raises(GameError, match="No such round"):
        store.submit("nope", "s1", "word")
    with pytest.raises(GameError, match="needs a prompt"):
        store.create_round("  ", new_code())
    with pytest.raises(GameError, match="Unknown status"):
        store.set_status(r.id, "x", "deleted")
    assert store.round("x" * 500) is None


def test_rate_limit_per_session_and_window(store):
    t0 = (time.time() // RATE_WINDOW_S + 1) * RATE_WINDOW_S  # the start of the next fixed window
    r = store.create_round("Hello", new_code(), now=t0)
    for i in range(RATE_LIMIT):
        store.submit(r.id, "fast", f"w{i}", now=t0 + i)
    with pytest.raises(GameError, match="Too many"):
        store.submit(r.id, "fast", "again", now=t0 + RATE_LIMIT)
    store.submit(r.id, "other", "fine", now=t0 + RATE_LIMIT)  # other sessions are unaffected
    store.submit(r.id, "fast", "later", now=t0 + RATE_WINDOW_S)  # next window
    assert store.my_guess(r.id, "fast").raw == "later"


def test_markup_is_stored_as_text(store):
    code = new_code()
    r = store.create_round("<script>alert(1)</script> is", code)
    store.submit(r.id, "s1", "<b>bold</b>")
    assert store.round(r.id).prompt == "<script>alert(1)</script> is"
    assert store.guesses(r.id, code)[0].raw == "<b>bold</b>"


def test_rounds_are_grouped_by_lecturer_code(store):
    a, b = new_code(), new_code()
    r1 = store.create_round("One", a, now=time.time())
    r2 = store.create_round("Two", a, now=time.time() + 1)
    store.create_round("Three", b)
    assert [r.id for r in store.rounds_for(a)] == [r1.id, r2.id]
    assert store.rounds_for("") == []


def test_restart_mid_round_loses_nothing(store_url):
    code = new_code()
    first = open_store(store_url)
    r = first.create_round("It was a dark and stormy", code, true_word="night")
    first.submit(r.id, "s1", "night")
    first.submit(r.id, "s2", "day")
    first.close()  # the process goes away mid-round
    second = open_store(store_url)  # a new process: new connection / new client
    try:
        assert second.round(r.id) == r
        second.submit(r.id, "s3", "night")
        second.submit(r.id, "s2", "evening")
        assert second.counts(r.id, code) == Counter({"night": 2, "evening": 1})
        second.set_status(r.id, code, "revealed")
    finally:
        second.close()
    third = open_store(store_url)
    try:
        assert third.round(r.id).status == "revealed"
        assert len(third.guesses(r.id, code)) == 3
    finally:
        third.close()


def crowd(student, count: int, midway=None) -> list[Exception]:
    """Run student(i) for i < count, each in its own thread, and wait for all of them; `midway()` runs once
    half have started. Returns what the students raised."""
    errors: list[Exception] = []

    def run(i: int) -> None:
        try:
            student(i)
        except Exception as exc:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads[:count // 2]:
        t.start()
    if midway:
        midway()
    for t in threads[count // 2:]:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_submissions_are_each_stored_once(store):
    code = new_code()
    r = store.create_round("Threads", code)

    def student(i: int) -> None:
        store.submit(r.id, f"s{i}", f"w{i % 7}")
        store.submit(r.id, f"s{i}", f"w{i % 5}")  # a change of mind replaces the first guess

    assert crowd(student, 60) == []
    assert store.counts(r.id, code) == Counter(f"w{i % 5}" for i in range(60))


def test_a_guess_racing_a_close_is_either_stored_or_refused(store):
    code = new_code()
    r = store.create_round("Race", code)
    results: list[bool] = []

    def student(i: int) -> None:
        try:
            store.submit(r.id, f"s{i}", "word")
            results.append(True)
        except GameError:
            results.append(False)

    assert crowd(student, 40, midway=lambda: store.set_status(r.id, code, "closed")) == []
    assert sum(results) == sum(store.counts(r.id, code).values())


@pytest.mark.parametrize("text", ["\u200b", "\u200b\u200c\u200d", "\u202e", "\x00", "\ufeff", "\u2066\u2069", " \u00ad "])
def test_invisible_guesses_are_refused(text, tmp_path):
    store = SQLiteStore(tmp_path / "g.sqlite3")
    r = store.create_round("The cat sat on the", new_code())
    with pytest.raises(GameError, match="Type a word"):
        store.submit(r.id, "s" * 16, text)


def test_a_guess_keeps_only_visible_characters(tmp_path):
    store = SQLiteStore(tmp_path / "g.sqlite3")
    r = store.create_round("The cat sat on the", new_code())
    g = store.submit(r.id, "s" * 16, "\u202emat\u200b\x00")
    assert (g.raw, g.word) == ("mat", "mat")


# -- per client address (a script that opens a fresh session per guess) ---------------------------
def test_a_script_with_fresh_sessions_gets_at_most_the_limit_while_a_class_behind_one_nat_gets_in(store):
    limit = 120
    code = new_code()
    r = store.create_round("The cat sat on the", code)
    counted = 0
    for i in range(500):  # the script: a new session id for every guess, from its one address
        try:
            store.submit(r.id, f"script{i:04d}", "banana", address="203.0.113.7", per_address=limit)
            counted += 1
        except GameError as exc:
            assert "from your network" in str(exc)
    for i in range(100):  # the class: 100 students behind one NAT address, one guess each
        store.submit(r.id, f"student{i:03d}", "mat", address="198.51.100.1", per_address=limit)
    counts = store.counts(r.id, code)
    assert counted == limit and counts == Counter({"banana": limit, "mat": 100})
    store.submit(r.id, "student000", "rug", address="198.51.100.1", per_address=limit)  # changing a guess: fine
    assert store.counts(r.id, code)["rug"] == 1


def test_the_lecturer_sees_a_burst_by_network_and_can_discard_it(store):
    code = new_code()
    r = store.create_round("The cat sat on the", code)
    for i in range(30):
        store.submit(r.id, f"bot{i:03d}", "banana", address="203.0.113.7", now=1000.0 + i / 10)
    for i in range(3):
        store.submit(r.id, f"st{i}", "mat", address="198.51.100.1", now=1000.0 + i)
    nets = store.networks(r.id, code)
    assert [n.guesses for n in nets] == [30, 3] and nets[0].last - nets[0].first == pytest.approx(2.9)
    assert all("203.0.113.7" not in n.client and "198.51" not in n.client for n in nets)  # tags, not addresses
    with pytest.raises(GameError):
        store.discard(r.id, "not-the-code", nets[0].client)
    assert store.discard(r.id, code, nets[0].client) == 30
    assert store.counts(r.id, code) == Counter({"mat": 3})
    with pytest.raises(GameError, match="from your network"):  # the discarded network is refused in this round
        store.submit(r.id, "bot999", "banana", address="203.0.113.7", now=1010.0)
    store.submit(r.id, "st9", "mat", address="198.51.100.1", now=1010.0)  # others still guess


def test_the_limit_is_configured_by_env():
    from lib.classroom.store import PER_ADDRESS, per_address_limit

    assert per_address_limit({}) == PER_ADDRESS >= 100  # a class of 100 behind one address fits by default
    assert per_address_limit({"LLMX_GAME_GUESSES_PER_ADDRESS": "40"}) == 40
    with pytest.raises(ValueError, match="LLMX_GAME_GUESSES_PER_ADDRESS"):
        per_address_limit({"LLMX_GAME_GUESSES_PER_ADDRESS": "lots"})


def test_a_store_written_before_client_tags_opens(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE guesses(round_id TEXT NOT NULL, session TEXT NOT NULL, raw TEXT NOT NULL, "
                     "word TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(round_id, session));")
    db.close()
    store = SQLiteStore(path)
    r = store.create_round("Once upon a", "code")
    assert store.submit(r.id, "s" * 16, "time", address="192.0.2.1").client
