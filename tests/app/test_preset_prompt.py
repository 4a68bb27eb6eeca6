"""The preset picker above each prompt box (components/preset_prompt.py), on the three pages that have one."""

import pytest

from lib.teaching.presets import INSIDE_PRESETS, NEXT_TOKEN_PRESETS
from tests.app.apptest import open_page
from tests.conftest import need_shared

PAGES = [("pages/next-token.py", "nt", NEXT_TOKEN_PRESETS), ("pages/sampling.py", "sk", NEXT_TOKEN_PRESETS),
         ("pages/inside.py", "ins", INSIDE_PRESETS)]


@pytest.mark.parametrize("page,prefix,presets", PAGES)
def test_a_preset_fills_the_prompt_and_the_link_and_clearing_it_keeps_them(page, prefix, presets):
    need_shared()
    at = open_page(page, prompt="She opened the door and")
    name = list(presets)[-1]
    at.selectbox(key=f"{prefix}_preset").set_value(name).run()
    assert at.text_area(key=f"{prefix}_prompt").value == presets[name]
    assert at.query_params["prompt"] in (presets[name], [presets[name]])
    at.selectbox(key=f"{prefix}_preset").set_value(None).run()  # the ✕ in the box
    assert not at.exception, at.exception
    assert at.text_area(key=f"{prefix}_prompt").value == presets[name]


def test_a_new_preset_forgets_the_next_token_picks():
    need_shared()
    at = open_page("pages/next-token.py", prompt="She opened the door and")
    at.button(key="nt_cand_0").click().run()
    assert at.session_state["nt_steps"]
    at.selectbox(key="nt_preset").set_value(list(NEXT_TOKEN_PRESETS)[0]).run()
    assert at.session_state["nt_steps"] == []
