"""How many new sessions one client address may open, in nginx (deploy/serve.py renders them) and in each app process.

A whole class may share one address behind a NAT, so the defaults let 100 students in within 10 s, while a script
that opens hundreds of sessions at once is paced and then refused:

- `LLMX_SESSIONS_PER_SECOND` (default 10): new sessions (websocket opens) per address per second, on average.
- `LLMX_SESSION_BURST` (default 100): how many may wait for their turn above that rate; beyond that the open
  is refused (HTTP 429 from nginx, HTTP 403 on the websocket upgrade from the app; Streamlit's page retries by
  itself). A class that clicks the link in the same second is let in at the rate: the last of 100 waits ~10 s.
- `LLMX_SESSION_NODELAY` (default 0): how many of those waiting go straight in instead. Keep it small: 20 at
  once let a flood hold another student's slider for 1-8 s here (bench/session_flood.py), 0 kept it at 0.1 s.
- `LLMX_CONNECTIONS_PER_ADDRESS` (default 600): connections one address may hold open at once (each student
  holds one websocket and briefly a few HTTP requests).

`LLMX_SESSIONS_PER_SECOND=0` switches the session limits off; `LLMX_CONNECTIONS_PER_ADDRESS=0` the connection cap.
`LLMX_TRUSTED_PROXIES` (comma-separated networks; loopback is always trusted) names the proxies whose
`X-Real-IP` (nginx) or `X-Forwarded-For` (a cloud load balancer) the app believes: behind nginx on another machine
or a managed load balancer, list its addresses, or the whole class shares one bucket.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections import OrderedDict
from dataclasses import dataclass

DEFAULTS = {"LLMX_SESSIONS_PER_SECOND": 10.0, "LLMX_SESSION_BURST": 100, "LLMX_SESSION_NODELAY": 0,
            "LLMX_CONNECTIONS_PER_ADDRESS": 600}
MAX_ADDRESSES = 100_000  # addresses remembered per process; the oldest are forgotten first


@dataclass(frozen=True)
class Limits:
    rate: float = 10.0       # sessions per second per address; 0: no session limit
    burst: int = 100         # sessions above the rate that may wait for their turn
    nodelay: int = 0         # of those, how many go in at once
    connections: int = 600   # open connections per address; 0: no cap

    @classmethod
    def from_env(cls, env=os.environ) -> Limits:
        """Read the LLMX_* settings; a bad value raises ValueError naming the setting."""
        values = {}
        for name, default in DEFAULTS.items():
            raw = env.get(name, "").strip()
            try:
                value = type(default)(raw) if raw else default
            except ValueError:
                raise ValueError(f"{name} must be a number, not {raw!r}") from None
            if value < 0:
                raise ValueError(f"{name} must be 0 or more")
            values[name] = value
        return cls(values["LLMX_SESSIONS_PER_SECOND"], values["LLMX_SESSION_BURST"],
                   min(values["LLMX_SESSION_NODELAY"], values["LLMX_SESSION_BURST"]),
                   values["LLMX_CONNECTIONS_PER_ADDRESS"])


class SessionGate:
    """nginx's limit_req (leaky bucket with burst and delay) and limit_conn, per address, for one process.

    `admit(address, now)` answers the seconds to wait before the session may start, or None when it is refused.
    Not thread-safe: the app calls it from its one event loop.
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self._next_free: OrderedDict[str, float] = OrderedDict()  # when the address's bucket is empty again
        self.open: dict[str, int] = {}

    def admit(self, address: str, now: float | None = None) -> float | None:
        lim = self.limits
        if lim.connections and self.open.get(address, 0) >= lim.connections:
            return None
        if not lim.rate:
            return 0.0
        now = time.monotonic() if now is None else now
        interval = 1.0 / lim.rate
        start = max(now, self._next_free.get(address, now))
        excess = round((start - now) / interval, 6)  # sessions already queued ahead of this one
        if excess > lim.burst:
            return None
        self._next_free[address] = start + interval
        self._next_free.move_to_end(address)
        if len(self._next_free) > MAX_ADDRESSES:
            self._next_free.popitem(last=False)
        return 0.0 if excess <= lim.nodelay else (excess - lim.nodelay) * interval

    def opened(self, address: str) -> None:
        self.open[address] = self.open.get(address, 0) + 1

    def closed(self, address: str) -> None:
        left = self.open.get(address, 0) - 1
        if left > 0:
            self.open[address] = left
        else:
            self.open.pop(address, None)


def trusted_networks(env=os.environ) -> list:
    nets = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    for item in env.get("LLMX_TRUSTED_PROXIES", "").split(","):
        if item.strip():
            try:
                nets.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"LLMX_TRUSTED_PROXIES: {item.strip()!r} is not a network") from None
    return nets


def _trusted(address: str, trusted: list) -> bool:
    try:
        return any(ipaddress.ip_address(address.strip()) in net for net in trusted)
    except ValueError:
        return False


def client_address(peer: str, real_ip: str | None, trusted: list, forwarded_for: str | None = None) -> str:
    """The student's address. From a trusted proxy: nginx's X-Real-IP, or else (a cloud load balancer) the last
    address in X-Forwarded-For that is not itself a trusted proxy. Otherwise, the peer itself."""
    if not _trusted(peer, trusted):
        return peer
    try:
        return str(ipaddress.ip_address((real_ip or "").strip()))
    except ValueError:
        pass
    for candidate in reversed((forwarded_for or "").split(",")):
        try:
            address = str(ipaddress.ip_address(candidate.strip()))
        except ValueError:
            continue
        if not _trusted(address, trusted):
            return address
    return peer
