"""Training stages: pretraining -> SFT -> RLHF/DPO, and the same prompt through one family's checkpoints."""

from __future__ import annotations

import streamlit as st

from components.sections import stage_views as views
from components.sections.token_shift_view import token_shift_panel
from components.guard import guarded_callback
from components.html import esc, escape_markdown
from components.setup import route_through_app
from components.state import as_bool, from_query, to_query
from lib.sampling.knobs import SAMPLING_TEMPERATURE
from lib.teaching import stages
from lib.text import clean_text

MAX_PROMPT_CHARS = 4_000

# -- 1. the story ----------------------------------------------------------------------------------
route_through_app()
st.title("Training stages: from a text predictor to an assistant")
st.markdown(f"> {esc(stages.QUOTE)}  \n> Jeremy Howard, *A Hacker's Guide to Language Models*")

from_query("ts_stage", "stage", "sft", lambda v: v if v in {s.key for s in stages.STORY} else "sft")
stage_key = st.segmented_control("Stage", [s.key for s in stages.STORY], key="ts_stage",
                                 format_func=lambda k: next(s.name for s in stages.STORY if s.key == k)) or "sft"
to_query(stage=stage_key)


views.story_panel(stage_key)

# -- 2. side by side -----------------------------------------------------------------------------
st.header("Same prompt, one family, every stage")
PRESETS = stages.presets()
from_query("ts_family", "family", stages.DEFAULT_FAMILY)
from_query("ts_prompt", "prompt", PRESETS[stages.DEFAULT_PRESET][0], lambda v: clean_text(v)[-100_000:])
# Without ?expected=, a preset's prompt brings its own expected answer; any other prompt starts with none.
matching_answer = next((a for p, a in PRESETS.values() if p == st.session_state.ts_prompt), "")
from_query("ts_expected", "expected", matching_answer, lambda v: clean_text(v)[:500])
from_query("ts_tokens", "tokens", 24, lambda v: min(64, max(1, int(v))))
from_query("ts_temp", "temperature", 0.8, float, SAMPLING_TEMPERATURE.lo, SAMPLING_TEMPERATURE.hi)
from_query("ts_seed", "seed", 0, lambda v: max(0, int(v)))
# Completions cost each checkpoint dozens of forward passes; a preset's are shared by the class (cached), a new
# prompt's are not, so they run on request for anything but a preset (issue 13, item 19).
from_query("ts_complete", "complete", st.session_state.ts_prompt in {p for p, _ in PRESETS.values()}, as_bool)
family_key = st.session_state.ts_family
if family_key not in stages.FAMILIES:
    st.warning(f"There is no family called “{escape_markdown(family_key)}”; showing {stages.FAMILIES[stages.DEFAULT_FAMILY].name}.")
    family_key = st.session_state.ts_family = stages.DEFAULT_FAMILY


@guarded_callback
def use_preset() -> None:
    if st.session_state.ts_preset in PRESETS:
        st.session_state.ts_prompt, st.session_state.ts_expected = PRESETS[st.session_state.ts_preset]


c1, c2 = st.columns([2, 3])
family_key = c1.selectbox("Family", list(stages.FAMILIES), key="ts_family",
                          format_func=lambda k: stages.FAMILIES[k].name)
c2.selectbox("Example prompt", list(PRESETS), index=None, key="ts_preset", placeholder="Choose an example…",
             on_change=use_preset)
family = stages.FAMILIES[family_key]
st.caption(family.note)
text = clean_text(st.text_area("Prompt (the user's message)", key="ts_prompt", height=90, max_chars=100_000))
complete = st.toggle("Completions: let each checkpoint write an answer", key="ts_complete",
                     help="A greedy and a sampled answer per checkpoint, and the tuned answer scored below. The "
                          "distributions and measures need one pass per checkpoint; the answers need dozens.")
c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
expected = clean_text(c1.text_input("Expected answer (its first token is measured)", key="ts_expected", max_chars=500))
n_tokens = c2.slider("New tokens", 1, 64, key="ts_tokens", disabled=not complete)
temperature = c3.slider("Sampling temperature", SAMPLING_TEMPERATURE.lo, SAMPLING_TEMPERATURE.hi,
                        step=SAMPLING_TEMPERATURE.step, key="ts_temp", disabled=not complete)
seed = int(c4.number_input("Seed", 0, 2**31 - 1, step=1, key="ts_seed", disabled=not complete))
to_query(family=family_key, prompt=text, expected=expected, complete=int(complete), tokens=n_tokens,
         temperature=temperature, seed=seed)

if not text.strip():
    st.info("Type a prompt above to compare the stages.")
    st.stop()
if len(text) > MAX_PROMPT_CHARS:
    st.warning(f"The prompt has {len(text):,} characters; only the last {MAX_PROMPT_CHARS:,} are used.")
    text = text[-MAX_PROMPT_CHARS:]


views.compare_checkpoints(family, views.StageRun(text, expected, n_tokens, temperature, seed, complete))
token_shift_panel(family, text, complete)

# -- 3. what DPO changed in the bundled model -----------------------------------------------------
views.dpo_summary(family_key)

# -- 4. fine-tune live ----------------------------------------------------------------------------
st.header("Fine-tune live")
st.markdown("Runs a few dozen SFT steps of the bundled base model on this server's CPU, on the project's "
            "instruction set, and watches one held-out probe instruction's first answer token change.")
views.live_finetune()
