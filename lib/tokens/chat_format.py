"""Chat formats: a conversation as the one token sequence a chat model sees (transformers' apply_chat_template)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

from lib.models import hub
from lib.tokens.segmentation import Segmentation, clean_text, from_ids
from lib.tokens.loading import REGISTRY, TransformersBackend, hub_tokenizer_cached, label, load_transformers, \
    tokenizer_folder

# ChatML, the chat format of Qwen, SmolLM2 and pocket-lm-sft, written out so it works offline.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
CHATML_GPT2 = "chatml-gpt2"

@dataclass(frozen=True)
class ChatSource:
    name: str
    label: str
    about: str


def chat_sources(extra: Sequence[str] = ()) -> list[ChatSource]:
    """Chat tokenizers usable here: the bundled SFT model, cached/online hub instruct models, ChatML on GPT-2."""
    out = []
    sft = hub.BUNDLED["pocket-lm-sft"]
    if tokenizer_folder(sft):
        out.append(ChatSource("pocket-lm-sft", "pocket-lm-sft (bundled chat model, ChatML)",
                              "The bundled chat model's own tokenizer and chat template."))
    from lib.models.catalog import CATALOG

    online = None
    for ref in [e.id for e in CATALOG if e.chat and e.id not in hub.BUNDLED] + list(extra):
        if hub_tokenizer_cached(ref) or (online := hub.network_available() if online is None else online):
            out.append(ChatSource(ref, f"{ref} (its own chat template)", "An instruct model's tokenizer from the hub."))
    out.append(ChatSource(CHATML_GPT2, "ChatML format on GPT-2's tokenizer (offline stand-in)",
                          "The ChatML template kept in lib/tokens/chat_format.py (Qwen, SmolLM2 and pocket-lm-sft use it), "
                          "applied to GPT-2's tokenizer. GPT-2 was never trained to chat, so <|im_start|> and "
                          "<|im_end|> are added as new special tokens (ids 50257 and 50258), as chat fine-tuning of "
                          "a base model does."))
    return out


@functools.lru_cache(maxsize=4)
def _chat_backend(source: str) -> TransformersBackend:
    if source == CHATML_GPT2:
        spec = REGISTRY["hf:gpt2"]
        tok = load_transformers(spec.source, spec.local, spec.source)
        tok.add_special_tokens({"additional_special_tokens": list(CHATML_TOKENS)})
        tok.chat_template = CHATML_TEMPLATE
        return TransformersBackend(tok)
    tok = load_transformers(source)
    if not getattr(tok, "chat_template", None):
        raise hub.ModelUnavailable(f"'{source}' has no chat template, so it is not an instruct model's tokenizer.")
    return TransformersBackend(tok)


@dataclass(frozen=True)
class ChatFormat:
    source: str
    rendered: str              # the whole conversation as one string, special tokens written out
    segmentation: Segmentation
    notes: tuple[str, ...] = ()


def chat_format(source: str, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True,
                limit: int | None = None) -> ChatFormat:
    """The conversation as the model sees it: one token sequence from transformers' apply_chat_template.

    Control tokens typed inside a message stay plain text (sanitize_control_tokens), so a user cannot
    close their own turn early.
    """
    backend = _chat_backend(source)
    msgs = [{"role": m["role"], "content": clean_text(m["content"])[0]} for m in messages]
    with backend.lock:
        rendered = backend.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt)
        ids = backend.tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=add_generation_prompt,
                                              sanitize_control_tokens=True, return_dict=True)["input_ids"]
    notes: tuple[str, ...] = ()
    typed = sorted({s for s in backend.special_strings for m in msgs if s and s in m["content"]})
    if typed:
        notes = (f"A message contains {', '.join(typed)}. It was encoded as plain text, not as the control token, "
                 "so a message cannot end its own turn or pose as another role.",)
    seg = from_ids(source, label(source), backend, list(ids), limit)
    return ChatFormat(source, rendered, seg, notes)

