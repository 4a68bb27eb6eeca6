"""Hosted mode: the settings a class server runs with, read from the environment.

`LLMX_HOSTED=1` (set by `make serve`) switches it on; local `make run` leaves it off and keeps every
freedom (a lecturer's own Ollama on localhost, any folder as a model). In hosted mode:

- API base URLs must name a host in `LLMX_ALLOWED_API_HOSTS` (comma-separated `host` or `host:port`,
  `*` for any host). Default: api.openai.com and the host of `LLMX_API_BASE_URL`.
- Every connection's resolved address must be public, unless it is in `LLMX_ALLOWED_API_NETWORKS`
  (comma-separated CIDRs such as `10.0.0.0/8`) or the connection goes to the host's own
  `LLMX_API_BASE_URL` (often a vLLM on the same machine).
- Models are catalog entries, bundled names or hub ids; never folders on the server's disk.
- The protocol's clear-cache message is ignored (components/setup.py).
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from lib.text import is_true

OPENAI_HOST = "api.openai.com"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def hosted(env: Mapping[str, str] | None = None) -> bool:
    """True on the class server (LLMX_HOSTED=1)."""
    return is_true((os.environ if env is None else env).get("LLMX_HOSTED", ""))


def _origin(url: str) -> tuple[str, int] | None:
    """(host, port) of a URL, lowercase, default ports filled in; None when it has no host."""
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    return host.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class ApiPolicy:
    """Where API requests may go. `hosted=False` allows everything (local use)."""

    hosted: bool = False
    allowed_hosts: frozenset[str] = frozenset()        # "host" or "host:port", lowercase; "*" = any host
    allowed_networks: tuple[Network, ...] = ()
    own_origin: tuple[str, int] | None = None           # the host's LLMX_API_BASE_URL: may be a private address
    problems: tuple[str, ...] = field(default=(), compare=False)  # settings that could not be read

    def host_allowed(self, host: str, port: int) -> bool:
        host = host.lower().rstrip(".")
        if not self.hosted or "*" in self.allowed_hosts:
            return True
        return host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts

    def address_allowed(self, host: str, port: int, address: Address) -> bool:
        """A resolved address: public, or in a network the host allowed, or the host's own API server."""
        if not self.hosted:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_global and not address.is_multicast:
            return True
        if any(address in net for net in self.allowed_networks if net.version == address.version):
            return True
        return self.own_origin == (host.lower().rstrip("."), port)

    def describe(self) -> str:
        """The allowed hosts in words, for a refusal message."""
        names = sorted(h for h in self.allowed_hosts if h != "*")
        return ", ".join(names) if names else "none"


def api_policy(env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> ApiPolicy:
    """The policy from env (lists also from st.secrets values the caller passes): off unless env LLMX_HOSTED is set."""
    env = os.environ if env is None else env
    secrets = secrets or {}

    def get(name: str) -> str:
        return str(secrets.get(name) or env.get(name) or "").strip()

    if not hosted(env):  # the switch is env only, so lib/models/hub.py and the cache guard see the same one
        return ApiPolicy()
    problems: list[str] = []
    own = _origin(get("LLMX_API_BASE_URL")) if get("LLMX_API_BASE_URL") else None
    listed = [h.strip().lower() for h in get("LLMX_ALLOWED_API_HOSTS").split(",") if h.strip()]
    hosts = set(listed) if listed else {OPENAI_HOST}
    if own is not None:
        default_port = own[1] in (80, 443)
        hosts.add(own[0] if default_port else f"{own[0]}:{own[1]}")
    networks = []
    for text in get("LLMX_ALLOWED_API_NETWORKS").split(","):
        if text.strip():
            try:
                networks.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                problems.append(f"LLMX_ALLOWED_API_NETWORKS: '{text.strip()[:40]}' is not a network")
    return ApiPolicy(True, frozenset(hosts), tuple(networks), own, tuple(problems))


def usable_cores() -> int:
    """Cores this process may use: CPU affinity, and a container's CPU quota (cgroup v2) when there is one."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return n
