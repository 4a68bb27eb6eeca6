"""The prompt box with a preset picker above it, kept in the link as ?prompt= (next-token, sampling, inside)."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from components.guard import guarded_callback
from components.state import from_query, to_query


def preset_prompt(presets: dict[str, str], default: str, *, prefix: str, label: str, placeholder: str,
                  height: int, max_chars: int, on_new_prompt: Callable[[], None] | None = None) -> str:
    """The '<prefix>_preset' selectbox copies a preset into the '<prefix>_prompt' text area; returns the prompt.

    default: the preset a session without ?prompt= starts with. on_new_prompt: called when a preset is chosen
    or the text is edited (next-token forgets its step picks)."""
    preset_key, prompt_key = f"{prefix}_preset", f"{prefix}_prompt"
    from_query(prompt_key, "prompt", presets[default], lambda v: v[:max_chars])

    @guarded_callback
    def use_preset() -> None:
        choice = st.session_state.get(preset_key)
        if choice in presets:  # None when the selectbox is cleared with its ✕
            st.session_state[prompt_key] = presets[choice]
            if on_new_prompt:
                on_new_prompt()

    st.selectbox(label, list(presets), index=None, key=preset_key, placeholder=placeholder, on_change=use_preset)
    text = st.text_area("Prompt", key=prompt_key, height=height, max_chars=max_chars,
                        on_change=guarded_callback(on_new_prompt) if on_new_prompt else None)
    to_query(prompt=text)
    return text
