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

Per client address (a script opening a fresh session per guess): each guess carries a tag of its address
(a hash with the round id: no address is stored), and a round counts at most `per_address` sessions' guesses
from one tag (LLMX_GAME_GUESSES_PER_ADDRESS, default 300, so a whole class behind one NAT address fits). The
lecturer sees the guesses per tag (`networks`) and can discard one tag's guesses (`discard`), which also stops
that tag guessing in that round.
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
PER_ADDRESS_ENV = "LLMX_GAME_GUESSES_PER_ADDRESS"
PER_ADDRESS = 300         # sessions' guesses counted per client address per round (a class behind one NAT fits)
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
    client: str = ""    # client_tag of the sender's address ("" when unknown)


@dataclass(frozen=True)
class Network:
    """The guesses of one client address in a round, for the lecturer (the address itself is never stored)."""
    client: str
    guesses: int
    first: float
    last: float


def client_tag(round_id: str, address: str) -> str:
    """An address as a per-round tag: guesses from one address can be counted and discarded, not traced."""
    return hashlib.sha256(f"{round_id}|{address}".encode()).hexdigest()[:16] if address else ""


def per_address_limit(env=None) -> int:
    """LLMX_GAME_GUESSES_PER_ADDRESS (0 switches the limit off); a bad value is a ValueError naming it."""
    import os

    raw = ((os.environ if env is None else env).get(PER_ADDRESS_ENV) or "").strip()
    try:
        value = int(raw) if raw else PER_ADDRESS
    except ValueError:
        raise ValueError(f"{PER_ADDRESS_ENV} must be a whole number, not {raw[:20]!r}") from None
    if value < 0:
        raise ValueError(f"{PER_ADDRESS_ENV} must be 0 (no limit) or more")
    return value


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
    # 1: stored; 0: the round is not open; -1: its client tag is over `limit` sessions or was discarded
    def _put_guess(self, round_id: str, g: Guess, limit: int) -> int: raise NotImplementedError
    def _discard(self, round_id: str, client: str) -> int: raise NotImplementedError
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
        r = self.round(round_id)
        assert r is not None  # is_lecturer found it
        return r

    def set_status(self, round_id: str, code: str, status: str) -> Round:
        if status not in STATUSES:
            raise GameError(f"Unknown status {status!r}.")
        r = self._owned_round(round_id, code)
        self._set_status(round_id, status)
        return self.round(round_id) or r

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

    def networks(self, round_id: str, code: str) -> list[Network]:
        """Guesses per client tag, largest first: the lecturer's view of a burst from one address."""
        groups: dict[str, list[float]] = {}
        for g in self.guesses(round_id, code):
            groups.setdefault(g.client, []).append(g.at)
        return sorted((Network(c, len(ts), min(ts), max(ts)) for c, ts in groups.items() if c),
                      key=lambda n: (-n.guesses, n.first))

    def discard(self, round_id: str, code: str, client: str) -> int:
        """Delete one client tag's guesses in a round (the lecturer's only) and refuse its later ones; how many."""
        self._owned_round(round_id, code)
        if not client:
            raise GameError("Those guesses have no network to discard.")
        return self._discard(round_id, client)

    # -- students -------------------------------------------------------------------------------
    def submit(self, round_id: str, session: str, text: str, now: float | None = None, address: str = "",
               per_address: int | None = None) -> Guess:
        """A student's guess. `address`: the client's address (only its per-round tag is kept); `per_address`:
        sessions counted per address in this round (default: LLMX_GAME_GUESSES_PER_ADDRESS)."""
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
        limit = per_address_limit() if per_address is None else per_address
        g = Guess(session, raw, word, now, client_tag(round_id, address))
        stored = self._put_guess(round_id, g, limit if g.client else 0)
        if stored == 0:
            raise GameError("This round is not taking guesses any more.")
        if stored < 0:
            raise GameError("This round has all the guesses it takes from your network. Ask the lecturer.")
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
        word TEXT NOT NULL, at REAL NOT NULL, client TEXT NOT NULL DEFAULT '', PRIMARY KEY(round_id, session));
    CREATE TABLE IF NOT EXISTS discarded(round_id TEXT NOT NULL, client TEXT NOT NULL, PRIMARY KEY(round_id, client));
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
            columns = [row[1] for row in self.db.execute("PRAGMA table_info(guesses)")]
            if "client" not in columns:  # a store written before per-address limits
                self.db.execute("ALTER TABLE guesses ADD COLUMN client TEXT NOT NULL DEFAULT ''")
            self.db.execute("CREATE INDEX IF NOT EXISTS guesses_client ON guesses(round_id, client)")

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

    def _put_guess(self, round_id: str, g: Guess, limit: int) -> int:
        with self.lock:  # the checks and the write under one lock: no race with a close or another session
            if not self.db.execute("SELECT 1 FROM rounds WHERE id=? AND status='open'", (round_id,)).fetchone():
                return 0
            if g.client:
                if self.db.execute("SELECT 1 FROM discarded WHERE round_id=? AND client=?", (round_id, g.client)).fetchone():
                    return -1
                others = self.db.execute("SELECT COUNT(*) FROM guesses WHERE round_id=? AND client=? AND session<>?",
                                         (round_id, g.client, g.session)).fetchone()[0]
                if limit and others >= limit:
                    return -1
            self.db.execute(
                "INSERT INTO guesses VALUES (?,?,?,?,?,?) ON CONFLICT(round_id, session) DO UPDATE SET "
                "raw=excluded.raw, word=excluded.word, at=excluded.at, client=excluded.client",
                (round_id, g.session, g.raw, g.word, g.at, g.client))
            return 1

    def _discard(self, round_id: str, client: str) -> int:
        with self.lock:
            self.db.execute("INSERT OR IGNORE INTO discarded VALUES (?,?)", (round_id, client))
            return self.db.execute("DELETE FROM guesses WHERE round_id=? AND client=?", (round_id, client)).rowcount

    def _get_guess(self, round_id: str, session: str) -> Guess | None:
        rows = self._read("SELECT session, raw, word, at, client FROM guesses WHERE round_id=? AND session=?",
                          (round_id, session))
        return Guess(*rows[0]) if rows else None

    def _all_guesses(self, round_id: str) -> list[Guess]:
        return [Guess(*row) for row in self._read("SELECT session, raw, word, at, client FROM guesses WHERE round_id=?",
                                                  (round_id,))]

    def _purge(self, now: float) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                old = now - KEEP_AFTER_EXPIRY_S
                self.db.execute("DELETE FROM guesses WHERE round_id IN (SELECT id FROM rounds WHERE expires < ?)", (old,))
                self.db.execute("DELETE FROM discarded WHERE round_id IN (SELECT id FROM rounds WHERE expires < ?)", (old,))
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
    game:rate:{session}:{window} (counter), game:clients:{id}:{tag} (set of sessions), game:discarded:{id} (set
    of tags). Every key expires a day after its round does."""

    # The guess is written only while the round's status is 'open' and its client tag is under the limit and not
    # discarded, atomically on the server.
    PUT_GUESS = """
    if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
    if ARGV[4] ~= '' then
      if redis.call('SISMEMBER', KEYS[4], ARGV[4]) == 1 then return -1 end
      if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then
        local limit = tonumber(ARGV[5])
        if limit > 0 and redis.call('SCARD', KEYS[3]) >= limit then return -1 end
        redis.call('SADD', KEYS[3], ARGV[1])
        redis.call('EXPIREAT', KEYS[3], ARGV[3])
      end
    end
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

    def _put_guess(self, round_id: str, g: Guess, limit: int) -> int:
        r = self._get_round(round_id)
        if r is None:
            return 0
        value = json.dumps({"raw": g.raw, "word": g.word, "at": g.at, "client": g.client})
        keys = [f"game:round:{round_id}", f"game:guesses:{round_id}", f"game:clients:{round_id}:{g.client}",
                f"game:discarded:{round_id}"]
        return int(self._put_guess_script(keys=keys, args=[g.session, value, self._keep_until(r), g.client, limit]))

    def _discard(self, round_id: str, client: str) -> int:
        key, r = f"game:discarded:{round_id}", self._get_round(round_id)
        if r is None:
            return 0
        with self.r.pipeline(transaction=True) as p:
            p.sadd(key, client).expireat(key, self._keep_until(r)).execute()
        gone = [g.session for g in self._all_guesses(round_id) if g.client == client]
        if gone:
            self.r.hdel(f"game:guesses:{round_id}", *gone)
        return len(gone)

    def _guess(self, session: str, value: str) -> Guess:
        d = json.loads(value)
        return Guess(session, d["raw"], d["word"], float(d["at"]), d.get("client", ""))

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
