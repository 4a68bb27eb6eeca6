"""Lecture steps as data: every step opens a real page with parameters it reads, checked against oracles."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from lib.teaching import lecture as L
from lib import page_table
from lib.teaching import presets
from lib.teaching import stages
from lib.teaching.presets import TOKENIZER_PRESETS
from tests.conftest import ROOT, need_shared


def test_every_step_opens_a_routed_page():
    routed = {row.url_path for row in page_table.PAGES}  # what the router gives st.navigation
    assert "lecture" in routed
    assert len({s.id for s in L.STEPS}) == len(L.STEPS)
    for step in L.STEPS:
        assert step.page in routed and (ROOT / L.PAGES[step.page]).is_file(), step.id
        assert step.say and step.notice and step.needs in L.NEEDS
        query = parse_qs(urlparse(L.link(step.page, dict(step.params))).query, keep_blank_values=True)
        assert {k: v[0] for k, v in query.items()} == dict(step.params)  # the link round-trips


def test_page_reads_every_parameter_a_step_sets():
    """Each parameter name a step sets appears in its page (or a component it uses) as a query parameter."""
    sources = "\n".join(p.read_text() for p in [*(ROOT / "pages").glob("*.py"), *(ROOT / "components").rglob("*.py")])
    for step in L.STEPS:
        for name, _ in step.params:
            assert re.search(rf'["\']{name}["\']|\b{name}=', sources), (step.id, name)


def test_tokens_step_is_the_lectures_split():
    """The oracle is tiktoken itself: p50k_base (text-davinci-003) splits the text as in the lecture."""
    need_shared()
    import tiktoken

    step = L.BY_ID["tokens"]
    params = dict(step.params)
    enc = tiktoken.get_encoding(params["tokenizers"])
    ids = enc.encode(params["text"])
    assert [enc.decode([i]) for i in ids] == ["They", " are", " spl", "ashing"]
    assert params["text"] in TOKENIZER_PRESETS.values()
    decode = dict(L.BY_ID["decode"].params)
    assert [int(x) for x in decode["ids"].split(",")] == ids and decode["decode_with"] == "p50k_base"


def test_lecture_presets_are_offered():
    assert presets.NEXT_TOKEN_PRESETS["Mitch's … (Hacker's Guide)"].endswith("any woman in Mitch's")
    assert any(p == presets.CAREER_PROMPT for p, _ in stages.presets().values())
    assert any("Iron Age" in p for p, _ in stages.presets().values())
    covered = {s.id for s in L.STEPS}
    assert {"language-model", "greedy-vs-sampled", "tokens", "chat-format", "follow-up", "hitchcock", "mitch-life",
            "instruction-tuning", "preference-tuning", "three-stages", "playground", "scale", "bigger-not-better",
            "tweet"} <= covered


@pytest.mark.parametrize("raw,expected", [(None, 0), ("tokens", [s.id for s in L.STEPS].index("tokens")), ("3", 2),
                                          ("0", 0), ("999", len(L.STEPS) - 1), ("nonsense", 0)])
def test_step_from_the_url(raw, expected):
    assert L.index_of(raw) == expected


def test_best_model_prefers_the_largest_base_model_here():
    assert L.best_model(set()) == "pocket-lm"
    assert L.best_model({"openai-community/gpt2"}) == "openai-community/gpt2"
    assert L.best_model({"openai-community/gpt2", "Qwen/Qwen2.5-0.5B", "HuggingFaceTB/SmolLM2-135M-Instruct"}) \
        == "Qwen/Qwen2.5-0.5B"
    step = L.BY_ID["hitchcock"]
    assert L.uses_bundled(step, L.step_params(step, set()))
    assert not L.uses_bundled(step, L.step_params(step, {"openai-community/gpt2"}))


def test_best_family_needs_every_checkpoint():
    assert L.best_family({"HuggingFaceTB/SmolLM2-135M"}) == stages.DEFAULT_FAMILY
    both = {"HuggingFaceTB/SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M-Instruct"}
    assert L.best_family(both) == "smollm2-135m"
    assert L.best_family(both | {"Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B-Instruct"}) == "qwen2.5-0.5b"


def test_every_step_names_a_view_the_lecture_draws():
    """A step is a view drawn on the lecture page (components/sections/step_views.py), never a page in a frame:
    every view in lib's list has a function, and every step names one of them."""
    from components.sections import step_views

    assert set(step_views.RENDER) == set(L.VIEWS)
    unknown = [(s.id, s.view) for s in L.STEPS if s.view not in step_views.RENDER]
    assert not unknown, f"steps naming a view the lecture cannot draw: {unknown}"
    assert step_views.MODEL_VIEWS <= set(L.VIEWS)


def test_a_step_keeps_keys_it_does_not_read_and_its_part(tmp_path):
    """The schema is additive: a key this module does not know (another tool's data) is kept, not rejected."""
    toml = tmp_path / "steps.toml"
    toml.write_text('[texts]\nX = "x"\n[[steps]]\nid = "a"\nlecture = "L"\ntitle = "T"\npage = "next-token"\n'
                    'view = "next-token"\npart = { top = 4, stages = ["base", "sft"] }\nsay = "s"\nnotice = "n"\n'
                    'claim = { kind = "top_token", token = " the" }\n[steps.params]\nprompt = "${X}"\n')
    (step,) = L.load_steps(toml)
    assert step.part_value("top") == 4 and step.part_value("stages") == ("base", "sft")
    assert step.part_value("missing", 7) == 7
    assert dict(step.extra)["claim"] == {"kind": "top_token", "token": " the"}
    assert dict(step.params) == {"prompt": "x"}
    hash(step)  # parts are tuples, so a step stays hashable
