"""A least-recently-used cache bounded by an estimate of the bytes it holds, not by its number of entries.

A count bound is no bound when one entry can be a novel: 64 cached segmentations of 10 MB texts held ~11 GB.
Here every entry is charged `size(key, value)` bytes and the oldest entries go until the total fits; an entry
larger than the whole budget is computed and returned but not kept. Thread-safe (one lock; the computation runs
outside it, so a slow entry never blocks readers of the others)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class ByteBoundedCache(Generic[V]):
    def __init__(self, max_bytes: int, size: Callable[[Hashable, V], int]):
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes, self.size = max_bytes, size
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
        value = compute()
        cost = max(1, int(self.size(key, value)))
        if cost > self.max_bytes:
            return value
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (value, cost)
                self.bytes += cost
            while self.bytes > self.max_bytes:
                _, (_, freed) = self._entries.popitem(last=False)
                self.bytes -= freed
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
