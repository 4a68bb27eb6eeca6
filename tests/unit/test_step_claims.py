"""Every lecture step's claim holds on the model the step shows in an offline install (the bundled pocket-lm family
and SmolLM2-135M-Instruct from the package registry); a planted wrong claim fails."""

from __future__ import annotations

import functools
from dataclasses import replace

import pytest

from lib.models import hub, registry_models
from lib.models.catalog import CATALOG
from lib import lecture_claims as claims
from lib.teaching import lecture as L
from tests.conftest import need_shared
from tests.unit.test_registry_models import need_smollm2

OFFLINE = {e.id for e in CATALOG if e.id in hub.BUNDLED}  # what `make run` installs without the hub
CLAIMED = [s for s in L.STEPS if claims.claim_of(s)]


@functools.cache
def open_offline(model_id: str):
    from lib.models.backends import open_model

    assert model_id in OFFLINE, f"{model_id} is not in an offline install"
    if model_id in registry_models.MODELS:
        need_smollm2()
    return open_model(model_id)


@functools.cache
def measured(step_id: str) -> claims.Measured:
    step = L.BY_ID[step_id]
    need_shared()  # tokenizer claims read the tiktoken files
    return claims.measure(step, L.step_params(step, OFFLINE), open_offline)


def test_every_step_that_shows_a_model_states_a_claim():
    unclaimed = [s.id for s in L.STEPS if s.needs != "none" and s.view not in ("stage-story",) and not claims.claim_of(s)]
    assert not unclaimed
    assert all(claims.claim_of(s)["kind"] in claims.KINDS for s in CLAIMED)


@pytest.mark.parametrize("step_id", [s.id for s in CLAIMED])
def test_the_claim_holds_on_the_model_the_step_shows_offline(step_id):
    result = measured(step_id)
    assert result.holds, f"{step_id}: {claims.claim_of(L.BY_ID[step_id])} does not hold: {result.summary}"


def test_knowledge_steps_use_smollm2_offline_with_the_seed_prompts():
    from lib.teaching import presets

    for step_id, prompt in (("hitchcock", presets.NEXT_TOKEN_PRESETS["The Birds (Hacker's Guide)"]),
                            ("mitch-life", presets.NEXT_TOKEN_PRESETS["Mitch's … (Hacker's Guide)"])):
        params = L.step_params(L.BY_ID[step_id], OFFLINE)
        assert params["model"] == "SmolLM2-135M-Instruct-Q4_1" and params["prompt"] == prompt
        assert params["chat"] == "0"  # a continuation of the article, not a chat turn
    # without it, the step falls back to the bundled model and says so (its `bundled` text)
    params = L.step_params(L.BY_ID["hitchcock"], {"pocket-lm"})
    assert params["model"] == "pocket-lm" and L.uses_bundled(L.BY_ID["hitchcock"], params)


def _planted(step_id: str, claim: dict) -> L.Step:
    step = L.BY_ID[step_id]
    extra = dict(step.extra) | {"claim": claim}
    return replace(step, extra=tuple(extra.items()))


@pytest.mark.parametrize("step_id,wrong", [
    ("hitchcock", {"kind": "top_token", "token": " B"}),                # the second bar
    ("mitch-life", {"kind": "top_token", "token": " house"}),
    ("tokens", {"kind": "pieces", "tokenizer": "p50k_base", "pieces": ["They", " are", " splashing"]}),
    ("three-stages", {"kind": "stage_rises", "tasks": ["repeat"]}),      # DPO lowers it on copying
    ("few-shot", {"kind": "few_shot", "token": " wealthy", "zero_shot": "rich =>"}),
])
def test_a_planted_wrong_claim_fails(step_id, wrong):
    step = _planted(step_id, wrong)
    need_shared()
    assert not claims.measure(step, L.step_params(step, OFFLINE), open_offline).holds


def test_gzip_oracle_is_gzip_itself():
    """The compression step's gzip figure equals Python's gzip module minus its fixed 18-byte header and trailer."""
    import gzip

    text = L.BY_ID["compression"].params[0][1]
    assert claims.gzip_bits_per_char(text) == pytest.approx(
        8 * (len(gzip.compress(text.encode(), 9, mtime=0)) - 18) / len(text))


def test_a_word_in_two_tokens_is_two_predictions():
    """SmolLM2's tokenizer, as the oracle: " Hitchcock" is two tokens, so the step's claim spells it in two steps."""
    model = open_offline("SmolLM2-135M-Instruct-Q4_1")
    assert [model.tokenizer.decode([i]) for i in model.tokenize(" Hitchcock")] == [" Hitch", "cock"]
    wrong = _planted("hitchcock", {"kind": "top_token", "token": " Hitch", "then": " Hitchens"})
    assert not claims.measure(wrong, L.step_params(wrong, OFFLINE), open_offline).holds
