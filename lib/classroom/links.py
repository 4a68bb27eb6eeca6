"""The students' join link: built from the app's public address, with a warning when phones can't reach it."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

PUBLIC_URL_ENV = "LLMX_PUBLIC_URL"  # the app's address as students reach it (e.g. https://llm.example.edu)


def app_base(url: str) -> str:
    """scheme://host[:port][/prefix] of the page's URL: the path up to a page name and any query dropped."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    path = parts.path.rstrip("/")
    for page in ("/game", "/play"):
        if path.endswith(page):
            path = path[: -len(page)]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def join_url(base: str, round_id: str) -> str:
    """The link a student opens for a round."""
    return f"{base.rstrip('/')}/play?round={round_id}"


def unreachable_host(url: str) -> str | None:
    """The host when phones cannot reach it (localhost, a loopback or unspecified address), else None."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return host
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return host if address.is_loopback or address.is_unspecified else None
