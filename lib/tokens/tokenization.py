"""Text to tokens as plain data, for tiktoken and transformers tokenizers alike: the front door.

`segment(name, text)` returns a `Segmentation`: every token id with its bytes and the span of the
text it covers (lib/tokens/segmentation.py groups tokens that split a character). Typed special-token strings
such as `<|endoftext|>` are plain text here (as in OpenAI's API); only a chat template
(lib/tokens/chat_format.py) inserts real special tokens. Tokenizers are named and loaded in
lib/tokens/loading.py, chat templates in lib/tokens/chat_format.py: import those names from there.
"""

from __future__ import annotations

from typing import Sequence

from lib.tokens.loading import canonical, label, load
from lib.tokens.segmentation import Segmentation, from_ids, split


def segment(name: str, text: str, limit: int | None = None, group: bool = True) -> Segmentation:
    """Tokenize `text` with tokenizer `name`. Counts are exact; `limit` caps how many segments are built.

    group=False gives one segment per byte-level token, so tokens that split a character show as bytes.
    """
    name = canonical(name)
    return split(name, label(name), load(name), text, limit, group)


def decode(name: str, ids: Sequence[int], limit: int | None = None) -> Segmentation:
    """Ids back to text and segments. Ids that end mid-character keep their bytes (partial), never `�`."""
    name = canonical(name)
    backend = load(name)
    ids = [int(i) for i in ids]
    backend.check_ids(ids)
    return from_ids(name, label(name), backend, ids, limit)


# One sentence in many languages, for tokens per language (the same meaning, so the same "cost" in ideas).
MULTILINGUAL: dict[str, str] = {
    "English": "The weather is nice today, so we are going to the park.",
    "Spanish": "Hoy hace buen tiempo, así que vamos al parque.",
    "German": "Heute ist schönes Wetter, also gehen wir in den Park.",
    "French": "Il fait beau aujourd'hui, alors nous allons au parc.",
    "Russian": "Сегодня хорошая погода, поэтому мы идём в парк.",
    "Greek": "Σήμερα ο καιρός είναι ωραίος, οπότε πάμε στο πάρκο.",
    "Chinese": "今天天气很好，所以我们要去公园。",
    "Japanese": "今日は天気がいいので、公園に行きます。",
    "Korean": "오늘은 날씨가 좋아서 우리는 공원에 갑니다.",
    "Hindi": "आज मौसम अच्छा है, इसलिए हम पार्क जा रहे हैं।",
    "Arabic": "الطقس جميل اليوم، لذلك سنذهب إلى الحديقة.",
    "Swahili": "Leo hali ya hewa ni nzuri, kwa hivyo tunaenda kwenye bustani.",
}

