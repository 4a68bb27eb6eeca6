"""Hosted mode for API backends (issue 13, items 3, 14 and 17), over real HTTP to loopback servers.

Each hostile request is made twice: in hosted mode, where it must be refused with a clear one-line
message, and in local mode, where a lecturer's own server on localhost keeps working.
"""

from __future__ import annotations

import ipaddress

import pytest

from lib.models.api_http import short_reason
from lib.hosting import ApiPolicy, api_policy
from lib.models.openai_backend import OpenAIBackend
from lib.models.openai_client import MAX_MODELS, ApiError
from tests.fake_openai_server import FakeOpenAI
from tests.internal_service import DB_URL, SECRET, InternalService
from tests.loopback_server import served

LOCAL = ApiPolicy()


internal = served(InternalService)
fake = served(FakeOpenAI)


def hosted(**env) -> ApiPolicy:
    return api_policy({"LLMX_HOSTED": "1", **env})


def models(base_url: str, policy: ApiPolicy, timeout: float = 5.0) -> tuple[list[str], OpenAIBackend]:
    b = OpenAIBackend("models", base_url=base_url, policy=policy, timeout=timeout)
    try:
        return [m.id for m in b.list_models()], b
    finally:
        b.close()


def refusal(base_url: str, policy: ApiPolicy, timeout: float = 5.0) -> ApiError:
    with pytest.raises(ApiError) as err:
        models(base_url, policy, timeout)
    return err.value


def one_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message and "/work/" not in message and len(message) < 400


# -- settings -----------------------------------------------------------------------------
def test_hosted_defaults_allow_openai_and_the_hosts_own_server():
    assert api_policy({}).hosted is False
    p = hosted(LLMX_API_BASE_URL="http://10.1.2.3:8000/v1")
    assert p.host_allowed("api.openai.com", 443) and p.host_allowed("10.1.2.3", 8000)
    assert not p.host_allowed("10.1.2.3", 9000) and not p.host_allowed("evil.example", 443)
    assert p.address_allowed("10.1.2.3", 8000, ipaddress.ip_address("10.1.2.3"))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1",
                                     "::ffff:169.254.169.254", "224.0.0.1"])
def test_private_local_and_metadata_addresses_are_refused_in_hosted_mode(address):
    p = hosted(LLMX_ALLOWED_API_HOSTS="*")
    assert not p.address_allowed("example.com", 443, ipaddress.ip_address(address))
    assert LOCAL.address_allowed("example.com", 443, ipaddress.ip_address(address))


def test_public_addresses_pass_and_networks_can_be_allowed():
    p = hosted(LLMX_ALLOWED_API_NETWORKS="10.0.0.0/8, fd00::/8, nonsense")
    assert p.address_allowed("api.openai.com", 443, ipaddress.ip_address("162.159.140.245"))
    assert p.address_allowed("x", 443, ipaddress.ip_address("10.9.9.9"))
    assert p.address_allowed("x", 443, ipaddress.ip_address("fd00::5"))
    assert not p.address_allowed("x", 443, ipaddress.ip_address("192.168.0.1"))
    assert p.problems and "nonsense" in p.problems[0]


# -- item 14: server-side request forgery -----------------------------------------------------
def test_internal_service_is_refused_in_hosted_mode_and_its_secret_never_listed(internal):
    err = refusal(internal.url("internal"), hosted())
    assert err.kind == "not_allowed" and "127.0.0.1" in err.message and SECRET not in err.message
    one_line(err.message)


def test_allowlisted_name_that_resolves_to_loopback_is_refused_at_connect_time(internal):
    """The host allowed the *name*; the address it resolves to when connecting is still checked."""
    err = refusal(internal.url("internal", host="localhost"), hosted(LLMX_ALLOWED_API_HOSTS="localhost"))
    assert err.kind == "private_address" and SECRET not in err.message
    one_line(err.message)


def test_internal_service_still_works_in_local_mode(internal):
    ids, _ = models(internal.url("internal"), LOCAL)
    assert ids == [SECRET]  # a lecturer's own server on localhost is listed as before


def test_hosts_own_server_and_allowed_networks_work_in_hosted_mode(fake):
    assert "fake-chat" in models(fake.base_url, hosted(LLMX_API_BASE_URL=fake.base_url))[0]
    policy = hosted(LLMX_ALLOWED_API_HOSTS="127.0.0.1", LLMX_ALLOWED_API_NETWORKS="127.0.0.0/8")
    b = OpenAIBackend("fake-chat", base_url=fake.base_url, policy=policy)
    assert b.distribution(b.encode("The capital of France is")).logprobs.size == 20


@pytest.mark.parametrize("policy", [LOCAL, hosted(LLMX_ALLOWED_API_HOSTS="127.0.0.1",
                                                  LLMX_ALLOWED_API_NETWORKS="127.0.0.0/8")],
                         ids=["local", "hosted"])
def test_redirect_to_another_host_is_not_followed(internal, policy):
    before = internal.sent["internal"]
    err = refusal(internal.url("redirect"), policy)
    assert err.kind == "redirect" and SECRET not in err.message
    one_line(err.message)
    assert internal.sent["internal"] == before  # the redirect's target was never asked


@pytest.mark.parametrize("policy", [LOCAL, hosted(LLMX_ALLOWED_API_HOSTS="127.0.0.1",
                                                  LLMX_ALLOWED_API_NETWORKS="127.0.0.0/8")],
                         ids=["local", "hosted"])
def test_upstream_error_body_is_summarised_not_echoed(internal, policy):
    for prefix in ("internal", "errorpage"):
        b = OpenAIBackend("any", base_url=internal.url(prefix), policy=policy)
        with pytest.raises(ApiError) as err:
            b.distribution(b.encode("hi"))
        msg = err.value.message
        one_line(msg)
        assert str(err.value.status) in msg
        for leaked in (DB_URL, "hunter2", "<", ">", "[", "](", "**", "alert", "script", "evil.example"):
            assert leaked not in msg, (prefix, leaked, msg)
    assert "502 Bad Gateway" in msg  # the HTML page's title is the reason


def test_short_reason_plain_text():
    assert short_reason("The model `gpt-x` does not exist") == "The model gpt-x does not exist"
    assert short_reason("a\x00b\u202ec") == "a b c"
    long = short_reason("word " * 200)
    assert len(long) <= 160 and long.endswith("…")


# -- item 3: captive portals and broken JSON ------------------------------------------------
@pytest.mark.parametrize("prefix, kind", [("html", "not_json"), ("badjson", "bad_response")])
def test_html_page_or_broken_json_is_one_clear_message(internal, prefix, kind):
    for policy in (LOCAL, hosted(LLMX_ALLOWED_API_HOSTS="127.0.0.1", LLMX_ALLOWED_API_NETWORKS="127.0.0.0/8")):
        err = refusal(internal.url(prefix), policy)
        assert err.kind == kind
        one_line(err.message)
        b = OpenAIBackend("m", base_url=internal.url(prefix), policy=policy)
        with pytest.raises(ApiError):
            b.distribution(b.encode("hi"))


# -- item 17: hostile servers --------------------------------------------------------------
def test_byte_at_a_time_server_is_cut_at_the_whole_request_deadline(internal):
    before = internal.sent["drip"]
    err = refusal(internal.url("drip"), LOCAL, timeout=1.0)
    assert err.kind == "timeout" and "within 1 s" in err.message
    # The body is ~2,800 bytes at one per 50 ms: the client stopped long before the end (no timing asserted:
    # a per-read timeout would have read every byte).
    assert internal.sent["drip"] - before < 2000


def test_huge_model_list_is_refused_by_size(internal):
    err = refusal(internal.url("huge"), LOCAL)
    assert err.kind == "too_large"
    one_line(err.message)


def test_long_model_list_is_capped(internal):
    internal.huge_count = 5000  # about 420 kB: under the byte cap, over the count cap
    try:
        ids, b = models(internal.url("huge"), LOCAL)
    finally:
        internal.huge_count = 200_000
    assert len(ids) == MAX_MODELS and b.models_total == 5000


def test_unknown_allowed_name_is_a_connection_message():
    err = refusal("http://no-such-host.invalid/v1", hosted(LLMX_ALLOWED_API_HOSTS="no-such-host.invalid"))
    assert err.kind == "connection"
    one_line(err.message)


def test_dns_rebinding_connects_only_to_the_checked_address(internal, monkeypatch):
    """A name that answers an allowed address when checked and 127.0.0.1 afterwards (DNS rebinding). The app
    looks the name up once per connection and connects to that very address, so the internal service on
    127.0.0.1 is never reached. DNS is simulated: there is no resolver to control offline."""
    import socket

    real = socket.getaddrinfo
    answers = iter(["127.0.0.2"])  # allowed below; nothing listens there

    def rebinding(host, port, *args, **kw):
        if host != "rebind.test":
            return real(host, port, *args, **kw)
        return real(next(answers, "127.0.0.1"), port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    before = internal.sent["internal"]
    policy = hosted(LLMX_ALLOWED_API_HOSTS="rebind.test", LLMX_ALLOWED_API_NETWORKS="127.0.0.2/32")
    err = refusal(internal.url("internal", host="rebind.test"), policy)
    assert err.kind == "connection" and SECRET not in err.message
    assert internal.sent["internal"] == before
