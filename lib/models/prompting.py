"""What the next-token page sends to a model: the typed text, optionally as a chat turn, plus step-mode picks."""

from __future__ import annotations

from typing import Sequence

from lib.sampling.distribution import TokenRow
from lib.models.next_token import NextTokenModel, Prompt, extend_prompt, fit_context

MAX_PICKS = 64


def chat_prompt(model: NextTokenModel, text: str, picks: Sequence[TokenRow], as_chat: bool) -> Prompt:
    """The prompt plus the picked tokens; as_chat wraps the text in the model's chat template first
    (as a user turn with the assistant's turn opened), exactly as the model's tokenizer writes it."""
    if not as_chat:
        return extend_prompt(model, text, picks)
    turn = model.chat_prompt(text).prompt  # already cut to the context
    fitted = fit_context(list(turn.ids) + [r.id for r in picks if r.id >= 0], model.context_length, text)
    return Prompt(fitted.ids, turn.dropped + fitted.dropped, text)  # cut only what does not fit, and say so


def parse_picks(model: NextTokenModel, raw: str | None) -> list[TokenRow]:
    """Step-mode picks from a link (?picks=id,id,…): valid token ids of this model only, at most MAX_PICKS.
    Anything else (API backends, words, out-of-range ids) is ignored."""
    if not raw:
        return []
    parts = (part.strip() for part in raw.split(",")[:MAX_PICKS])
    rows = (model.token_row(int(part)) for part in parts if part.isascii() and part.isdigit())
    return [row for row in rows if row is not None]


def prompt_tail(model: NextTokenModel, prompt: Prompt, picks: Sequence[TokenRow], n_tokens: int = 24) -> str:
    """The end of what the model actually reads (picks and chat template included), for titles and grey prefixes."""
    if prompt.ids:
        rows = [model.token_row(i) for i in prompt.ids[-n_tokens:]]
        return b"".join(r.raw for r in rows if r is not None).decode("utf-8", errors="replace")
    return prompt.text + "".join(r.text for r in picks)
