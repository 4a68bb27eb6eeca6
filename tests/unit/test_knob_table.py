"""The knob table is the single source: one row per Knobs field, and each row, alone or all together, does what
transformers' generate() does with the setting of the same name. The oracle is generate()'s own processor list
(`_get_logits_processor`, built from a GenerationConfig), so a new row is checked without touching this file."""

import dataclasses
from dataclasses import fields

import numpy as np
import pytest
import torch
from openai.types import completion_create_params
from openai.types.chat import completion_create_params as chat_create_params
from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

from lib.sampling.knobs import BY_NAME, KNOBS, ORDER, Knobs, server_params
from lib.sampling.apply import apply_knobs
from tests.unit.test_sampling_oracle import same

CONTEXT = [3, 3, 10, 42, 7]


def value_on(row):
    """A setting that changes something: the slider's value when switched on, or 0.7 for a knob without a switch."""
    return 0.7 if row.slider.on is None else row.slider.on


@pytest.fixture(scope="module")
def processors():
    """generate()'s processor list for a GenerationConfig: top_k=0 unless set, since its default is 50."""
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=8, n_head=1, vocab_size=64, n_positions=8)).eval()

    def build(do_sample=True, **settings):
        config = GenerationConfig(do_sample=do_sample, **{"top_k": 0, **settings})
        return model._get_logits_processor(generation_config=config, input_ids_seq_length=len(CONTEXT), device="cpu")
    return build


def run(procs, scores):
    ids = torch.tensor([CONTEXT], dtype=torch.long)
    return procs(ids, torch.from_numpy(scores.copy())[None, :])[0].numpy()


def scores_with_ties(dtype):
    return np.round(np.random.default_rng(0).standard_normal(64) * 3, 1).astype(dtype)


def test_every_knobs_field_has_exactly_one_row_named_as_in_generation_config():
    assert [f.name for f in fields(Knobs)] == [row.name for row in KNOBS]
    assert sorted(ORDER) == sorted(row.name for row in KNOBS)
    assert [f.default for f in fields(Knobs)] == [row.off for row in KNOBS]
    assert Knobs().active() == []
    for row in KNOBS:
        assert hasattr(GenerationConfig(), row.name)
        assert Knobs(**{row.name: value_on(row)}).active() == [row.name]


def test_a_row_without_its_knobs_field_fails_at_import(monkeypatch):
    import pickle

    from lib.sampling import knobs

    assert pickle.loads(pickle.dumps(Knobs(top_k=3))) == Knobs(top_k=3)  # Streamlit's caches pickle it
    extra = dataclasses.replace(KNOBS[0], name="new_knob")
    monkeypatch.setattr(knobs, "KNOBS", KNOBS + (extra,))
    with pytest.raises(TypeError, match="new_knob"):
        knobs._check_fields_match_table()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("row", KNOBS, ids=lambda row: row.name)
def test_each_knob_alone_is_the_processor_generate_builds(processors, row, dtype):
    scores = scores_with_ties(dtype)
    theirs_list = processors(**{row.name: value_on(row)})
    assert len(theirs_list) == 1
    ours = apply_knobs(scores, Knobs(**{row.name: value_on(row)}), CONTEXT).final_scores
    assert ours.dtype == dtype
    if dtype == np.float32:  # generate()'s own precision: bit for bit
        np.testing.assert_array_equal(ours, run(theirs_list, scores))
    else:
        same(ours, run(theirs_list, scores))


@pytest.mark.parametrize("do_sample", [True, False])
def test_order_and_greedy_processors_are_generates(processors, do_sample):
    """All knobs on: generate() builds one processor per row, in ORDER; without sampling only the non-warpers."""
    alone = {row.name: type(processors(**{row.name: value_on(row)})[0]) for row in KNOBS}
    together = processors(do_sample=do_sample, **{row.name: value_on(row) for row in KNOBS})
    expected = ORDER if do_sample else [name for name in ORDER if not BY_NAME[name].warper]
    assert [type(p) for p in together] == [alone[name] for name in expected]
    if do_sample:
        scores = scores_with_ties(np.float32)
        result = apply_knobs(scores, Knobs(**{row.name: value_on(row) for row in KNOBS}), CONTEXT)
        assert [s.name for s in result.stages] == ["model", *ORDER]
        np.testing.assert_array_equal(result.final_scores, run(together, scores))


def test_server_names_are_the_openai_apis_own_parameters():
    """A row's server name is a parameter of OpenAI's completions and chat APIs; a row without one is not."""
    for params in (completion_create_params.CompletionCreateParamsBase, chat_create_params.CompletionCreateParamsBase):
        known = params.__annotations__
        for row in KNOBS:
            assert (row.server in known) if row.server else (row.name not in known), row.name


def test_server_params():
    greedy = ({"temperature": 0.0}, {}, [])
    assert server_params(None) == greedy
    assert server_params(Knobs(temperature=0.0, top_p=0.5, top_k=3)) == greedy
    assert server_params(Knobs()) == ({"temperature": 1.0}, {}, [])
    assert server_params(Knobs(temperature=0.7, top_p=1.0)) == ({"temperature": 0.7}, {}, [])
    assert server_params(Knobs(temperature=3.0, top_p=0.9, top_k=5, min_p=0.1, repetition_penalty=1.2)) == (
        {"temperature": 2.0, "top_p": 0.9}, {"top_k": 5, "min_p": 0.1, "repetition_penalty": 1.2},
        ["The API takes temperatures up to 2, so 3 was sent as 2."])


@pytest.mark.parametrize("name", ["top_p", "typical_p", "min_p"])
def test_near_flat_float32_scores_are_cut_exactly_as_generate_cuts_them(processors, name):
    """Where a float64 computation and generate()'s float32 one disagree (near-flat scores, 4,096 and 50,257
    tokens), the page must follow generate(): each cut is checked against its processor from generate()'s list."""
    rng = np.random.default_rng(1)
    values = {"top_p": (0.25, 0.5, 0.9, 0.99), "typical_p": (0.25, 0.5, 0.9, 0.99), "min_p": (0.5, 0.9, 0.999999)}[name]
    row = BY_NAME[name]
    float64_misses = 0
    for vocab in (4096, 50257):
        for spread in (0.0, 1e-7, 1e-6, 1e-5):
            scores = (np.float32(3.0) + rng.standard_normal(vocab).astype(np.float32) * np.float32(spread))
            for value in values:
                theirs = run(processors(**{name: value}), scores)
                ours = apply_knobs(scores, Knobs(**{name: value}), CONTEXT).final_scores
                np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs), err_msg=f"{vocab} {spread} {value}")
                float64_misses += not np.array_equal(np.isinf(row.apply(scores.astype(np.float64), value, CONTEXT)),
                                                     np.isinf(theirs))
    if name != "min_p":  # these cases do tell float32 from float64 apart, so the check above has teeth
        assert float64_misses > 0
