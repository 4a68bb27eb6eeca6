"""lib/bounded_cache.py: the byte budget holds whatever the entries' sizes."""

from __future__ import annotations

import threading

import pytest

from lib.bounded_cache import ByteBoundedCache


def test_oldest_entries_go_until_the_total_fits():
    cache = ByteBoundedCache(100, size=lambda key, value: len(value))
    for key in "abcd":
        cache.get(key, lambda key=key: key * 30)  # 30 bytes each: three fit
    assert len(cache) == 3 and cache.bytes == 90
    calls = []
    cache.get("a", lambda: calls.append("a") or "a" * 30)  # "a" was evicted: computed again
    assert calls == ["a"]
    cache.get("c", lambda: calls.append("c") or "")  # still cached
    assert calls == ["a"]


def test_an_entry_larger_than_the_budget_is_returned_not_kept():
    cache = ByteBoundedCache(100, size=lambda key, value: len(value))
    cache.get("small", lambda: "x" * 10)
    assert cache.get("huge", lambda: "y" * 1000) == "y" * 1000
    assert len(cache) == 1 and cache.bytes == 10


def test_threads_never_exceed_the_budget():
    cache = ByteBoundedCache(1000, size=lambda key, value: len(value))

    def work(offset):
        for i in range(300):
            cache.get((offset, i % 50), lambda i=i: "z" * (1 + (i * 7) % 90))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.bytes <= 1000 and cache.bytes == sum(c for _, c in cache._entries.values())


def test_budget_must_be_positive():
    with pytest.raises(ValueError):
        ByteBoundedCache(0, size=len)
