"""Storage for the class guessing game: rounds and anonymous guesses, shared by every session.

Two backends behind one interface:
- SQLiteStore: the embedded default, one file (WAL mode, one lock per store, so threads are safe;
  several processes on one machine also work through SQLite's file locking).
- RedisStore: the shared store for several processes or machines behind a balancer.
`open_store(url)` picks one from a URL: `redis://host:port/db`, `sqlite:///path`, or a plain path.

Rules that both share live in `GameStore`: a lecturer code is random and only its SHA-256 is
stored; guesses are keyed by (round, anonymous session id) so a new guess replaces the old; a guess
is length-limited and rate-limited per session; a round stops taking guesses when it is closed
or has expired. Everything is written before a call returns, so a restart loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from lib.classroom.maths import normalise, visible

MAX_GUESS_CHARS = 40
MAX_PROMPT_CHARS = 2000
RATE_LIMIT = 5            # guesses per session ...
RATE_WINDOW_S = 30        # ... per fixed window of this many seconds
KEEP_AFTER_EXPIRY_S = 24 * 3600  # stored data is deleted this long after a round expires
STATUSES = ("open", "closed", "revealed")


class GameError(ValueError):
    """A one-line message meant for the user."""


@dataclass(frozen=True)
class Round:
    id: str
    owner: str          # SHA-256 of the lecturer code; never the code
    prompt: str
    true_word: str      # normalised; "" when unknown
    model: str
    status: str
    created: float
    expires: float

    def accepting(self, now: float | None = None) -> bool:
        return self.status == "open" and (now if now is not None else time.time()) < self.expires


@dataclass(frozen=True)
class Guess:
    session: str
    raw: str
    word: str
    at: float


def new_code() -> str:
    """A lecturer code: 128 random bits."""
    return secrets.token_urlsafe(16)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def new_round_id() -> str:
    return secrets.token_hex(5)  # 40 bits: short enough to type, far too many to guess a live one


def clean_guess(text: str) -> tuple[str, str]:
    """(raw text as kept, normalised word); a GameError for an empty or overlong guess."""
    if len(text or "") > 4 * MAX_GUESS_CHARS:  # refused before any work on it
        raise GameError(f"A guess is one word: {MAX_GUESS_CHARS} characters at most.")
    raw = visible(text).strip()  # zero-width, bidi and control characters never reach the projector
    if len(raw) > MAX_GUESS_CHARS:
        raise GameError(f"A guess is one word: {MAX_GUESS_CHARS} characters at most.")
    word = normalise(raw)
    if not word:
        raise GameError("Type a word first.")
    return raw, word


class GameStore:
    """The shared rules; backends implement the underscore methods."""

    # -- backends implement -------------------------------------------------------------------
    def _put_round(self, r: Round) -> None: raise NotImplementedError
    def _get_round(self, round_id: str) -> Round | None: raise NotImplementedError
    def _set_status(self, round_id: str, status: str) -> None: raise NotImplementedError
    def _owned(self, owner: str) -> list[str]: raise NotImplementedError
    def _hit_rate(self, session: str, window: int) -> int: raise NotImplementedError
    def _put_guess(self, round_id: str, g: Guess) -> bool: raise NotImplementedError  # False: round not open
    def _get_guess(self, round_id: str, session: str) -> Guess | None: raise NotImplementedError
    def _all_guesses(self, round_id: str) -> list[Guess]: raise NotImplementedError
    def _purge(self, now: float) -> None: pass
    def close(self) -> None: pass

    # -- lecturer -------------------------------------------------------------------------------
    def create_round(self, prompt: str, code: str, *, true_word: str = "", model: str = "",
                     ttl_s: float = 3600, now: float | None = None) -> Round:
        now = time.time() if now is None else now
        prompt = (prompt or "").strip()
        if not prompt:
            raise GameError("A round needs a prompt.")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise GameError(f"The prompt is too long: {MAX_PROMPT_CHARS} characters at most.")
        if not code:
            raise GameError("A round needs a lecturer code.")
        self._purge(now)
        r = Round(new_round_id(), code_hash(code), prompt, normalise(true_word or ""), model, "open", now, now + ttl_s)
        self._put_round(r)
        return r

    def round(self, round_id: str) -> Round | None:
        if not round_id or len(round_id) > 64:
            return None
        return self._get_round(round_id)

    def is_lecturer(self, round_id: str, code: str) -> bool:
        r = self.round(round_id)
        return bool(r and code and hmac.compare_digest(r.owner, code_hash(code)))

    def _owned_round(self, round_id: str, code: str) -> Round:
        if not self.is_lecturer(round_id, code):
            raise GameError("Only the lecturer who started this round can do that.")
        return self.round(round_id)

    def set_status(self, round_id: str, code: str, status: str) -> Round:
        if status not in STATUSES:
            raise GameError(f"Unknown status {status!r}.")
        self._owned_round(round_id, code)
        self._set_status(round_id, status)
        return self.round(round_id)

    def rounds_for(self, code: str) -> list[Round]:
        """Every round started with this lecturer code, oldest first."""
        rounds = [self._get_round(i) for i in self._owned(code_hash(code))] if code else []
        return sorted((r for r in rounds if r), key=lambda r: r.created)

    def guesses(self, round_id: str, code: str) -> list[Guess]:
        """Every guess's text: the lecturer's only (for export)."""
        self._owned_round(round_id, code)
        return sorted(self._all_guesses(round_id), key=lambda g: g.at)

    def counts(self, round_id: str, code: str = "") -> Counter:
        """Guess counts per normalised word: for the lecturer, and for everyone once revealed."""
        r = self.round(round_id)
        if r is None:
            raise GameError("No such round.")
        if r.status != "revealed" and not self.is_lecturer(round_id, code):
            raise GameError("The class's guesses are shown after the reveal.")
        return Counter(g.word for g in self._all_guesses(round_id))

    # -- students -------------------------------------------------------------------------------
    def submit(self, round_id: str, session: str, text: str, now: float | None = None) -> Guess:
        now = time.time() if now is None else now
        raw, word = clean_guess(text)
        if not session or len(session) > 64:
            raise GameError("This browser session has no id; reload the page.")
        r = self.round(round_id)
        if r is None:
            raise GameError("No such round: check the link.")
        if not r.accepting(now):
            raise GameError("This round is not taking guesses any more.")
        if self._hit_rate(session, int(now // RATE_WINDOW_S)) > RATE_LIMIT:
            raise GameError("Too many guesses in a short time: wait a few seconds and try again.")
        g = Guess(session, raw, word, now)
        if not self._put_guess(round_id, g):
            raise GameError("This round is not taking guesses any more.")
        return g

    def my_guess(self, round_id: str, session: str) -> Guess | None:
        return self._get_guess(round_id, session) if round_id and session else None


# ------------------------------------------------------------------------------------------------
class SQLiteStore(GameStore):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS rounds(id TEXT PRIMARY KEY, owner TEXT NOT NULL, prompt TEXT NOT NULL,
        true_word TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL);
    CREATE INDEX IF NOT EXISTS rounds_owner ON rounds(owner);
    CREATE TABLE IF NOT EXISTS guesses(round_id TEXT NOT NULL, session TEXT NOT NULL, raw TEXT NOT NULL,
        word TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY(round_id, session));
    CREATE TABLE IF NOT EXISTS rate(session TEXT NOT NULL, window INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY(session, window));
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        with self.lock:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash
            self.db.executescript(self.SCHEMA)

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self.lock:
            return self.db.execute(sql, args)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    def _put_round(self, r: Round) -> None:
        self._write("INSERT INTO rounds VALUES (?,?,?,?,?,?,?,?)", tuple(asdict(r).values()))

    def _get_round(self, round_id: str) -> Round | None:
        rows = self._read("SELECT * FROM rounds WHERE id=?", (round_id,))
        return Round(*rows[0]) if rows else None

    def _set_status(self, round_id: str, status: str) -> None:
        self._write("UPDATE rounds SET status=? WHERE id=?", (status, round_id))

    def _owned(self, owner: str) -> list[str]:
        return [row[0] for row in self._read("SELECT id FROM rounds WHERE owner=?", (owner,))]

    def _hit_rate(self, session: str, window: int) -> int:
        with self.lock:
            return self.db.execute(
                "INSERT INTO rate VALUES (?,?,1) ON CONFLICT(session, window) DO UPDATE SET n=n+1 RETURNING n",
                (session, window)).fetchone()[0]

    def _put_guess(self, round_id: str, g: Guess) -> bool:
        # One statement: the guess lands only while the round is still open (no race with a close).
        cur = self._write(
            "INSERT INTO guesses SELECT ?,?,?,?,? WHERE EXISTS (SELECT 1 FROM rounds WHERE id=? AND status='open') "
            "ON CONFLICT(round_id, session) DO UPDATE SET raw=excluded.raw, word=excluded.word, at=excluded.at",
            (round_id, g.session, g.raw, g.word, g.at, round_id))
        return cur.rowcount == 1

    def _get_guess(self, round_id: str, session: str) -> Guess | None:
        rows = self._read("SELECT session, raw, word, at FROM guesses WHERE round_id=? AND session=?", (round_id, session))
        return Guess(*rows[0]) if rows else None

    def _all_guesses(self, round_id: str) -> list[Guess]:
        return [Guess(*row) for row in self._read("SELECT session, raw, word, at FROM guesses WHERE round_id=?", (round_id,))]

    def _purge(self, now: float) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                old = now - KEEP_AFTER_EXPIRY_S
                self.db.execute("DELETE FROM guesses WHERE round_id IN (SELECT id FROM rounds WHERE expires < ?)", (old,))
                self.db.execute("DELETE FROM rounds WHERE expires < ?", (old,))
                self.db.execute("DELETE FROM rate WHERE window < ?", (int(now // RATE_WINDOW_S) - 2,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self.lock:
            self.db.close()


# ------------------------------------------------------------------------------------------------
class RedisStore(GameStore):
    """Keys: game:round:{id} (hash), game:guesses:{id} (hash session -> json), game:owner:{hash} (set),
    game:rate:{session}:{window} (counter). Every key expires a day after its round does."""

    # The guess is written only while the round's status is 'open', atomically on the server.
    PUT_GUESS = """
    if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
    redis.call('EXPIREAT', KEYS[2], ARGV[3])
    return 1
    """

    def __init__(self, url: str):
        import redis

        self.url = url
        self.r = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5,
                                      health_check_interval=30, retry_on_timeout=True)
        self.r.ping()
        self._put_guess_script = self.r.register_script(self.PUT_GUESS)

    def _keep_until(self, r: Round) -> int:
        return int(r.expires + KEEP_AFTER_EXPIRY_S)

    def _put_round(self, r: Round) -> None:
        fields = {k: str(v) for k, v in asdict(r).items()}
        key, owner = f"game:round:{r.id}", f"game:owner:{r.owner}"
        with self.r.pipeline(transaction=True) as p:
            p.hset(key, mapping=fields).expireat(key, self._keep_until(r))
            p.sadd(owner, r.id).expireat(owner, self._keep_until(r))
            p.execute()

    def _get_round(self, round_id: str) -> Round | None:
        h = self.r.hgetall(f"game:round:{round_id}")
        if not h:
            return None
        return Round(h["id"], h["owner"], h["prompt"], h["true_word"], h["model"], h["status"],
                     float(h["created"]), float(h["expires"]))

    def _set_status(self, round_id: str, status: str) -> None:
        self.r.hset(f"game:round:{round_id}", "status", status)

    def _owned(self, owner: str) -> list[str]:
        return sorted(self.r.smembers(f"game:owner:{owner}"))

    def _hit_rate(self, session: str, window: int) -> int:
        key = f"game:rate:{session}:{window}"
        with self.r.pipeline(transaction=True) as p:
            n, _ = p.incr(key).expire(key, 2 * RATE_WINDOW_S).execute()
        return int(n)

    def _put_guess(self, round_id: str, g: Guess) -> bool:
        r = self._get_round(round_id)
        value = json.dumps({"raw": g.raw, "word": g.word, "at": g.at})
        keys = [f"game:round:{round_id}", f"game:guesses:{round_id}"]
        return bool(self._put_guess_script(keys=keys, args=[g.session, value, self._keep_until(r)]))

    def _guess(self, session: str, value: str) -> Guess:
        d = json.loads(value)
        return Guess(session, d["raw"], d["word"], float(d["at"]))

    def _get_guess(self, round_id: str, session: str) -> Guess | None:
        value = self.r.hget(f"game:guesses:{round_id}", session)
        return self._guess(session, value) if value else None

    def _all_guesses(self, round_id: str) -> list[Guess]:
        return [self._guess(s, v) for s, v in self.r.hgetall(f"game:guesses:{round_id}").items()]

    def close(self) -> None:
        self.r.close()


def open_store(url: str) -> GameStore:
    """`redis://…` or `rediss://…` for Redis; `sqlite:///path` or a plain path for SQLite."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url)
    if url.startswith("sqlite://"):
        url = url[len("sqlite://"):]
    return SQLiteStore(url)
