"""The OpenAI backend through the real openai SDK over real HTTP, against the loopback fake server.

No patching: every request travels through the SDK and httpx to tests/fake_openai_server.py, which
records it. The expected numbers come from the fake server's own softmax (`expected_logprobs`).
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest

from lib.models.openai_backend import LEGACY_TOP_MAX, OpenAIBackend, default_endpoint, logprob_capable, token_bytes
from lib.models.openai_client import (OPENAI_BASE_URL, ApiError, RateLimiter, deployer_key, normalise_base_url,
                               retry_after_seconds)
from lib.models.next_token import extend_prompt
from lib.sampling.knobs import Knobs
from tests.fake_openai_server import RAWS, WORDS, FakeOpenAI, closed_port_url, expected_logprobs
from tests.loopback_server import served

KEY = "sk-good-unit-7f3a9c21e5"


server = served(lambda: FakeOpenAI(slow_seconds=2.0))


@pytest.fixture
def fake(server):
    server.clear()
    return server


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def backend(server, model="fake-chat", **kw):
    kw.setdefault("api_key", KEY)
    return OpenAIBackend(model, base_url=server.base_url, **kw)


def post_bodies(server):
    return [r.body for r in server.recorded() if r.method == "POST"]


# -- distributions ------------------------------------------------------------------------
def test_chat_distribution_is_the_servers_top_20_and_marked_partial(fake):
    b = backend(fake)
    dist = b.distribution(b.encode("The capital of France is"))
    oracle = expected_logprobs("The capital of France is")[:20]
    assert not dist.complete
    assert list(dist.ids) == [-1] * 20
    assert [bytes(r) for r in dist.raws] == [RAWS[i] for i, _ in oracle]
    np.testing.assert_allclose(dist.logprobs, [lp for _, lp in oracle], rtol=0, atol=1e-12)
    known = sum(math.exp(lp) for _, lp in oracle)
    assert dist.known_mass == pytest.approx(known, abs=1e-12)
    assert 0 < 1 - known < 0.05  # the fake vocabulary has 40 words, so a real tail is missing
    assert dist.rest_mass(20) == pytest.approx(1 - known, abs=1e-12)
    assert any("top 20" in n and "unknown" in n for n in dist.notes)
    assert any("Chat model" in n for n in dist.notes)
    (body,) = post_bodies(fake)
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert body["messages"] == [{"role": "user", "content": "The capital of France is"}]


def test_partial_utf8_and_emoji_tokens_keep_their_bytes(fake):
    text = next(t for t in (f"prompt {k}" for k in range(500))
                if [i for i, _ in expected_logprobs(t)[:5]].count(4) and
                [i for i, _ in expected_logprobs(t)[:8]].count(6))
    b = backend(fake)
    rows = {r.raw: r for r in b.distribution(b.encode(text)).top_rows(20)}
    assert rows[b"\xe2\x80"].label == "<E2> <80>"   # half of a 3-byte character, shown as bytes, never �
    assert rows["🦘".encode()].label == "🦘"


def test_legacy_completions_ask_for_at_most_5_and_parse_byte_tokens(fake):
    text = next(t for t in (f"prompt {k}" for k in range(500)) if 4 in [i for i, _ in expected_logprobs(t)[:5]])
    b = backend(fake, "davinci-002")
    assert b.endpoint == "completions" and b.max_alternatives == LEGACY_TOP_MAX
    dist = b.distribution(b.encode(text))
    oracle = expected_logprobs(text)[:5]
    assert [bytes(r) for r in dist.raws] == [RAWS[i] for i, _ in oracle]
    np.testing.assert_allclose(dist.logprobs, [lp for _, lp in oracle], atol=1e-12)
    assert b"\xe2\x80" in dist.raws
    assert any("top 5" in n for n in dist.notes) and not any("Chat model" in n for n in dist.notes)
    (req,) = [r for r in fake.recorded() if r.method == "POST"]
    assert req.path == "/v1/completions" and req.body["logprobs"] == 5 and req.body["prompt"] == text


def test_base_model_on_a_compatible_server_gets_20(fake):
    b = backend(fake, "fake-base", endpoint="completions")
    dist = b.distribution(b.encode("Once upon a time"))
    assert len(dist.ids) == 20
    assert post_bodies(fake)[0]["logprobs"] == 20


def test_very_unlikely_marker_is_not_a_probability(fake):
    b = backend(fake, "sparse-model")
    dist = b.distribution(b.encode("x"))
    assert len(dist.ids) == 3                       # the 17 entries at -9999 are left out, not shown as 0
    assert dist.known_mass == pytest.approx(1.0, abs=1e-12)
    assert any("17 more" in n and "−9999" in n for n in dist.notes)


def test_chosen_token_marked_very_unlikely_has_unknown_probability(fake):
    b = backend(fake, "marker-model")
    gen = b.generate(b.encode("x"), 2)
    for step in gen.steps:
        assert step.chosen.raw == b"<rare>" and step.chosen.rank == -1
        assert math.isnan(step.chosen.logprob) and math.isnan(step.chosen.prob)
        assert len(step.alternatives) == 10


def test_same_prompt_is_asked_once_per_session(fake):
    b = backend(fake)
    first = b.distribution(b.encode("cached?"))
    assert b.distribution(b.encode("cached?")) is first
    assert len(post_bodies(fake)) == 1


# -- generation ----------------------------------------------------------------------------
def test_greedy_generation_follows_the_servers_argmax(fake):
    b = backend(fake)
    calls = []
    gen = b.generate(b.encode("Hi"), 6, None, seed=5, n_alternatives=4, on_step=calls.append)
    context = "Hi"
    words = []
    for step in gen.steps:
        oracle = expected_logprobs(context)
        assert step.chosen.raw == RAWS[oracle[0][0]] and step.chosen.rank == 1
        assert step.chosen.logprob == pytest.approx(oracle[0][1], abs=1e-12)
        assert [r.raw for r in step.alternatives] == [RAWS[i] for i, _ in oracle[:4]]
        assert step.alternatives[-1].cum_prob == pytest.approx(sum(math.exp(v) for _, v in oracle[:4]), abs=1e-12)
        words.append(WORDS[oracle[0][0]])
        context += words[-1]
    assert calls == [1, 2, 3, 4, 5, 6]
    (body,) = post_bodies(fake)
    assert body["temperature"] == 0 and body["seed"] == 5 and body["max_tokens"] == 6 and body["top_logprobs"] == 4


def test_sampling_uses_the_apis_temperature_top_p_and_seed(fake):
    b = backend(fake)
    knobs = Knobs(temperature=1.3, top_p=0.9)
    a = b.generate(b.encode("Tell me"), 8, knobs, seed=1)
    again = b.generate(b.encode("Tell me"), 8, knobs, seed=1)
    other = b.generate(b.encode("Tell me"), 8, knobs, seed=2)
    assert again is a                       # same request in this session: no second call
    assert a.text != other.text             # the server's own sampling, seeded
    bodies = post_bodies(fake)
    assert len(bodies) == 2
    assert bodies[0]["temperature"] == 1.3 and bodies[0]["top_p"] == 0.9 and bodies[0]["seed"] == 1
    assert "top_k" not in bodies[0]


def test_knobs_the_api_lacks_are_sent_as_extensions_or_reported(fake):
    b = backend(fake)
    gen = b.generate(b.encode("x"), 2, Knobs(temperature=3.0, top_k=5, min_p=0.1))
    body = post_bodies(fake)[0]
    assert body["temperature"] == 2.0 and body["top_k"] == 5 and body["min_p"] == 0.1
    assert any("up to 2" in n for n in gen.notes) and any("top_k, min_p" in n for n in gen.notes)
    openai = OpenAIBackend("gpt-4o-mini", api_key=KEY, base_url=OPENAI_BASE_URL)
    params, notes = openai._sampling(Knobs(temperature=0.7, top_k=5, repetition_penalty=1.2), 0)
    assert "extra_body" not in params and params["temperature"] == 0.7
    assert any("no top_k, repetition_penalty" in n for n in notes)


def test_step_mode_extends_by_text(fake):
    b = backend(fake)
    dist = b.distribution(b.encode("A"))
    prompt = extend_prompt(b, "A", dist.top_rows(2))
    assert prompt.ids == () and prompt.text == "A" + "".join(r.text for r in dist.top_rows(2))


def test_zero_new_tokens_sends_nothing(fake):
    b = backend(fake)
    assert b.generate(b.encode("x"), 0).steps == ()
    assert fake.recorded() == []


# -- errors: one request each, a clear message, nothing retried ---------------------------
def test_401_is_clear_remembered_and_never_shows_the_key(fake):
    bad = "sk-wrong-0123456789abcdef"
    b = backend(fake, "private-model", api_key=bad)
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.status == 401 and err.value.kind == "auth"
    assert "rejected the API key" in err.value.message
    assert bad not in err.value.message and "[your key]" in err.value.message  # the server echoed it in full
    with pytest.raises(ApiError):
        b.distribution(b.encode("another prompt"))
    assert len(fake.recorded()) == 1  # a bad key stays bad: no second request


def test_403_no_logprobs_model(fake):
    b = backend(fake, "reasoning-model")
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.status == 403 and "never return log-probabilities" in err.value.message
    assert "You are not allowed to request logprobs" in err.value.message
    assert len(fake.recorded()) == 1


def test_404_unknown_model(fake):
    b = backend(fake, "gpt-17")
    with pytest.raises(ApiError) as err:
        b.generate(b.encode("x"), 3)
    assert err.value.status == 404 and "gpt-17" in err.value.message and "/v1" in err.value.message
    assert len(fake.recorded()) == 1


def test_chat_endpoint_on_a_base_model_says_which_endpoint(fake):
    b = backend(fake, "fake-base")
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.status == 404 and "endpoint" in err.value.message


def test_429_respects_retry_after_without_sending(fake):
    clock = Clock()
    b = backend(fake, "busy-model", clock=clock)
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.status == 429 and err.value.retry_after == 7.0 and "Wait 7 s" in err.value.message
    clock.now += 6.5
    with pytest.raises(ApiError) as again:
        b.distribution(b.encode("x"))
    assert "No request sent" in again.value.message and again.value.retry_after == pytest.approx(0.5)
    assert len(fake.recorded()) == 1
    clock.now += 1.0
    with pytest.raises(ApiError):
        b.distribution(b.encode("x"))
    assert len(fake.recorded()) == 2  # asked again only after Retry-After passed


def test_429_without_credit_is_not_a_wait(fake):
    b = backend(fake, "no-credit-model")
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.status == 429 and err.value.kind == "no_credit" and "no credit" in err.value.message


def test_timeout_is_one_request_then_a_cooldown(fake):
    clock = Clock()
    b = backend(fake, "slow-model", timeout=0.3, clock=clock)
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.kind == "timeout" and "did not answer within 0.3 s" in err.value.message
    with pytest.raises(ApiError):
        b.distribution(b.encode("x"))
    assert len(fake.recorded()) == 1  # max_retries=0, and reruns during the cooldown send nothing


def test_connection_failure():
    b = OpenAIBackend("fake-chat", base_url=closed_port_url(), connect_timeout=2.0)
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.kind == "connection" and "Could not connect" in err.value.message


def test_too_long_prompt_is_a_clear_400_asked_once(fake):
    b = backend(fake)
    prompt = b.encode("word " * 20_000)
    for _ in range(2):
        with pytest.raises(ApiError) as err:
            b.distribution(prompt)
        assert err.value.status == 400 and "maximum context length" in err.value.message
    assert len(fake.recorded()) == 1


def test_openai_without_a_key_sends_nothing():
    b = OpenAIBackend("gpt-4o-mini", api_key="", base_url=OPENAI_BASE_URL)
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("x"))
    assert err.value.kind == "no_key"


# -- odd input ---------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "🦘🦘 emoji", "tab\tbell\x07nul\x00", "lone \ud800 surrogate", "x" * 19_000])
def test_odd_prompts_reach_the_server(fake, text):
    b = backend(fake)
    dist = b.distribution(b.encode(text))
    assert len(dist.ids) == 20
    sent = post_bodies(fake)[0]["messages"][0]["content"]
    assert sent == text.replace("\ud800", "\ufffd")


def test_encode_refuses_token_ids(fake):
    with pytest.raises(ValueError):
        backend(fake).encode("x", [1, 2])


# -- key safety ----------------------------------------------------------------------------
def test_key_is_not_in_repr_pickle_or_copy(fake):
    b = backend(fake)
    assert KEY not in repr(b) and KEY not in str(b)
    with pytest.raises(TypeError):
        pickle.dumps(b)
    with pytest.raises(TypeError):
        copy.deepcopy(b)
    assert KEY not in repr(vars(b).get("_results"))


def test_hosts_environment_never_rides_along(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-env-secret")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-host")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-host")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer sk-host-header-secret")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    keyless = OpenAIBackend("fake-chat", base_url=fake.base_url)
    keyless.distribution(keyless.encode("a"))
    user = backend(fake)
    user.distribution(user.encode("b"))
    first, second = fake.recorded()
    assert first.authorization == "Bearer no-key" and second.authorization == f"Bearer {KEY}"
    for r in (first, second):
        assert "openai-organization" not in r.headers and "openai-project" not in r.headers
        assert "secret" not in str(r.headers)


# -- settings helpers ----------------------------------------------------------------------
def test_models_come_from_v1_models(fake):
    found = OpenAIBackend("models", api_key="", base_url=fake.base_url).list_models()  # the method the settings use
    assert "fake-chat" in [m.id for m in found] and all(m.context_length == 2048 for m in found)
    assert fake.recorded()[0].path == "/v1/models"


def test_openai_list_hides_models_without_logprobs():
    assert logprob_capable("gpt-4o-mini") and logprob_capable("davinci-002")
    assert not any(map(logprob_capable, ["o3-mini", "o1", "gpt-5-nano", "text-embedding-3-small", "whisper-1",
                                         "gpt-4o-mini-tts", "dall-e-3"]))
    assert default_endpoint("gpt-3.5-turbo-instruct") == "completions" and default_endpoint("gpt-4o") == "chat"


@pytest.mark.parametrize("raw, expected", [
    ("", OPENAI_BASE_URL), ("localhost:11434", "http://localhost:11434/v1"),
    ("http://gpu-box:8000/v1/", "http://gpu-box:8000/v1"), (" https://x.example/api/v1 ", "https://x.example/api/v1")])
def test_base_url_normalised(raw, expected):
    assert normalise_base_url(raw) == expected


@pytest.mark.parametrize("raw", ["ftp://x/v1", "http://user:pw@host/v1", "http://host/v1?key=abc", "http://"])
def test_bad_base_urls_are_refused(raw):
    with pytest.raises(ValueError):
        normalise_base_url(raw)


def test_host_key_only_when_switched_on():
    env = {"OPENAI_API_KEY": "sk-host-123456"}
    assert deployer_key(env, {}) is None
    assert deployer_key({**env, "LLMX_ALLOW_SERVER_KEY": "0"}, {}) is None
    on = deployer_key({**env, "LLMX_ALLOW_SERVER_KEY": "1", "LLMX_SERVER_KEY_PER_MINUTE": "3"}, {})
    assert on.key == "sk-host-123456" and on.per_minute == 3 and on.base_url == OPENAI_BASE_URL
    from_secrets = deployer_key({}, {"LLMX_ALLOW_SERVER_KEY": True, "OPENAI_API_KEY": "sk-s-9",
                                     "LLMX_API_BASE_URL": "http://vllm:8000/v1"})
    assert from_secrets.key == "sk-s-9" and from_secrets.base_url == "http://vllm:8000/v1"
    assert "sk-host" not in repr(on)
    with pytest.raises(TypeError):
        pickle.dumps(on)


def test_rate_limiter_sliding_window():
    clock = Clock()
    limiter = RateLimiter(2, 60.0, clock)
    limiter.acquire()
    clock.now += 10
    limiter.acquire()
    with pytest.raises(ApiError) as err:
        limiter.acquire()
    assert err.value.status == 429 and err.value.retry_after == pytest.approx(50)
    clock.now += 50
    limiter.acquire()


def test_host_limiter_stops_requests_before_they_are_sent(fake):
    clock = Clock()
    b = backend(fake, limiter=RateLimiter(2, 60.0, clock))
    b.distribution(b.encode("one"))
    b.distribution(b.encode("two"))
    b.distribution(b.encode("one"))  # cached: not counted
    with pytest.raises(ApiError) as err:
        b.distribution(b.encode("three"))
    assert err.value.kind == "session_limit"
    assert len(fake.recorded()) == 2


@pytest.mark.parametrize("headers, seconds", [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5),
                                              ({}, 20.0), ({"retry-after": "soon"}, 20.0),
                                              ({"retry-after": "99999"}, 600.0)])
def test_retry_after_parsing(headers, seconds):
    assert retry_after_seconds(headers) == seconds


def test_retry_after_http_date():
    import email.utils
    import time

    assert 25 <= retry_after_seconds({"retry-after": email.utils.formatdate(time.time() + 30, usegmt=True)}) <= 31


def test_token_bytes():
    assert token_bytes("bytes:\\xe2\\x80", None) == ("\ufffd", b"\xe2\x80")
    assert token_bytes("\\xe2\\x80", [226, 128]) == ("\ufffd", b"\xe2\x80")
    assert token_bytes(" é", [32, 195, 169]) == (" é", " é".encode())
    assert token_bytes(" the", None) == (" the", b" the")
