"""The join link and its loopback warning (lib/classroom/links.py)."""

from __future__ import annotations

import pytest

from lib.classroom.links import app_base, join_url, unreachable_host


@pytest.mark.parametrize("url, base", [
    ("http://192.168.1.20:8501/game?present=1&me=x", "http://192.168.1.20:8501"),
    ("https://llm.example.edu/explainer/game", "https://llm.example.edu/explainer"),
    ("https://llm.example.edu/", "https://llm.example.edu"),
    ("javascript:alert(1)", ""), ("", ""),
])
def test_the_base_is_the_app_address(url, base):
    assert app_base(url) == base


def test_join_url():
    assert join_url("https://llm.example.edu/", "ab12cd34ef") == "https://llm.example.edu/play?round=ab12cd34ef"


@pytest.mark.parametrize("url", ["http://localhost:8501", "http://LOCALHOST.:8501/x", "http://127.0.0.1:8501",
                                 "http://127.1.2.3", "http://[::1]:8501", "http://0.0.0.0:8501",
                                 "http://[::ffff:127.0.0.1]/", "http://app.localhost:8501"])
def test_loopback_hosts_are_flagged(url):
    assert unreachable_host(url)


@pytest.mark.parametrize("url", ["http://192.168.1.20:8501", "https://llm.example.edu", "http://10.0.0.5",
                                 "http://[fd00::1]:8501", "http://mylaptop.local:8501"])
def test_reachable_hosts_are_not(url):
    assert unreachable_host(url) is None
