"""Next-token distribution: every possible next token gets a probability; then watch a generation."""

import math

import streamlit as st

from components.charts import distribution_chart, show_chart
from components.generation_view import generation_view, step_mode
from components.guard import guarded_fragment
from components.html import chips, token_titles
from components.loaders import distribution
from components.model_picker import chosen_model
from components.openai_settings import api_errors
from components.preset_prompt import preset_prompt
from components.setup import route_through_app
from components.state import as_bool, from_query, to_query
from lib.models.catalog import entry_for
from lib.text import show_whitespace
from lib.teaching.presets import DEFAULT_PRESET, NEXT_TOKEN_PRESETS
from lib.models.prompting import chat_prompt, parse_picks, prompt_tail

route_through_app()
st.title("What comes next?")
st.caption("A language model gives every token in its vocabulary a probability of coming next.")

model = chosen_model()
text = preset_prompt(NEXT_TOKEN_PRESETS, DEFAULT_PRESET, prefix="nt", label="Preset from the lectures",
                     placeholder="Choose a preset…", height=110, max_chars=100_000,
                     on_new_prompt=lambda: st.session_state.update(nt_steps=[]))
if not text.strip():
    st.info("Type a prompt above to see what the model thinks comes next.")
    st.stop()

if model.name.startswith("pocket-lm"):
    st.caption("Model: the bundled **pocket-lm**, a 4M-parameter GPT-2 trained on 11 novels. It writes "
               "19th-century English and knows no facts; pick a bigger model in the sidebar if one is downloaded.")

# -- chat template: instruct and preference-tuned models expect the prompt wrapped as a user turn ----------
has_template = model.has_chat_template
from_query("nt_chat", "chat", has_template and entry_for(model.name).chat, as_bool)
as_chat = has_template and st.toggle(  # only offered where the tokenizer has a chat template
    "As a chat message (apply the model's chat template)", key="nt_chat",
    help="Instruction-tuned and preference-tuned models were trained on prompts wrapped in special "
         "tokens that mark the user's turn and the start of the assistant's answer.")
to_query(chat=int(as_chat))

# -- step mode picks: token ids, kept in the link; they belong to the model they were made with -----------
picks = st.session_state.setdefault("nt_steps", [])
if st.session_state.get("nt_steps_model", model.name) != model.name and picks:
    picks.clear()
    st.info("Your step-mode picks were cleared: they were made with another model.")
st.session_state.nt_steps_model = model.name
if "nt_picks_read" not in st.session_state:  # once per session: the picks a shared link carries
    st.session_state.nt_picks_read = True
    picks[:] = parse_picks(model, st.query_params.get("picks"))

prompt = chat_prompt(model, text, picks, as_chat)
to_query(picks=",".join(str(r.id) for r in picks if r.id >= 0))
if as_chat:
    with st.expander(f"The exact tokens the model sees ({len(prompt.ids):,})"):
        shown = prompt.ids[-300:]
        st.html(chips(list(zip(model.token_labels(shown), token_titles(model, shown)))))
with api_errors():
    dist = distribution(model, prompt)
for note in dist.notes:
    st.warning(note)
tail = prompt_tail(model, prompt, picks)


@guarded_fragment
def distribution_panel():
    from_query("nt_n", "n", 10, int, 3, 40)
    from_query("nt_log", "scale", False, lambda v: v == "log")
    left, right = st.columns([3, 1])
    with right:
        n = st.slider("Tokens shown", 3, 40, key="nt_n")
        log_scale = st.toggle("Log scale", key="nt_log", help="A logarithmic probability axis, so the unlikely "
                              "tokens become visible; the numbers stay probabilities.")
        st.metric("Entropy", f"{dist.at_least}{dist.entropy():.2f} nats", help="How spread out the distribution is: "
                  "0 means certain; log(vocabulary) means every token equally likely."
                  + ("" if dist.complete else " From the returned tokens only, so the true value is at least this."))
        st.metric("Effective choices", f"{dist.at_least}{math.exp(dist.entropy()):.1f}", help="exp(entropy)")
        if not dist.complete:
            st.caption(f"Partial: the API returned only the top {len(dist.ids)} tokens; "
                       f"the other {1 - dist.known_mass:.1%} of probability is unknown in detail.")
    to_query(n=n, scale="log" if log_scale else "prob")
    with left:
        rest_label = "everything else" if dist.complete else "everything else (unknown tail)"
        show_chart(distribution_chart(dist.top_rows(n), dist.rest_mass(n), log_scale=log_scale, rest_label=rest_label,
                                      title=f"Next token after “…{show_whitespace(tail[-40:])}”"), key="nt_chart")


distribution_panel()
step_mode(dist, picks, key="nt")
with api_errors():
    generation_view(model, prompt, key="nt", prefix=tail)
