"""BERT fills in a [MASK]: a transformers masked-language model and the sentence cleaning for it."""

from __future__ import annotations

from dataclasses import dataclass

from lib.text import clean_text, strip_controls


@dataclass(frozen=True)
class MaskGuess:
    rank: int
    token: str
    prob: float


class MaskedLM:
    """A transformers masked-language model (BERT-style) that fills one [MASK]."""

    def __init__(self, model, tokenizer, name: str):
        import threading

        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.lock = threading.RLock()

    @classmethod
    def load(cls, ref: str) -> MaskedLM:
        from lib.models import hub

        path, local_only = hub.resolve(ref)  # raises ModelUnavailable fast when offline
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only)
            model = AutoModelForMaskedLM.from_pretrained(path, local_files_only=local_only).eval()
        except (OSError, ValueError) as exc:
            raise hub.ModelUnavailable(f"Could not load '{ref}': {exc}") from exc
        return cls(model, tokenizer, ref)

    def fill(self, text: str, top_k: int = 5) -> list[MaskGuess]:
        """Top guesses for the first mask. `[MASK]` maps to this tokenizer's mask; long texts keep a window around it."""
        import torch

        tok = self.tokenizer
        if "[MASK]" not in text and tok.mask_token not in text:
            raise ValueError("The sentence needs a [MASK] for BERT to fill.")
        text = text.replace("[MASK]", tok.mask_token)
        limit = min(tok.model_max_length, self.model.config.max_position_embeddings) - 2  # room for [CLS], [SEP]
        with self.lock:
            ids = tok(text, add_special_tokens=False)["input_ids"]
            at = ids.index(tok.mask_token_id)
            start = max(0, min(at - limit // 2, len(ids) - limit))
            first = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
            last = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
            window = [i for i in (first,) if i is not None] + ids[start:start + limit] + [i for i in (last,) if i is not None]
            position = window.index(tok.mask_token_id)
            with torch.inference_mode():
                logits = self.model(torch.tensor([window])).logits[0, position]  # (vocab,)
        top = torch.topk(logits.double().softmax(-1), top_k)
        return [MaskGuess(i + 1, tok.decode([int(t)]).strip(), float(p))
                for i, (p, t) in enumerate(zip(top.values, top.indices))]


MAX_SENTENCE = 2000


def clean_sentence(text: str) -> str:
    """Drop lone surrogates and control characters (newlines and tabs stay); cap the length."""
    return strip_controls(clean_text(text).replace("\ufffd", ""))[:MAX_SENTENCE]
