"""lib.tokens.tokenization against its oracles: tiktoken itself and transformers' AutoTokenizer."""

from __future__ import annotations

import subprocess
import sys

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.models import hub
from lib.tokens import loading
from lib.tokens.chat_format import CHATML_GPT2, CHATML_TEMPLATE, chat_format, chat_sources
from lib.tokens.segmentation import Counts, Segmentation, clean_text, parse_ids
from lib.tokens import tokenization as T
from tests.conftest import BERT_TOKENIZER, GPT2_TOKENIZER, ROOT, need_shared

TIKTOKEN_NAMES = ["r50k_base", "p50k_base", "cl100k_base"]
CORPUS = {
    "english": " they are splashing. When I arrived back at the panda breeding facility, I couldn't believe it!",
    "code": "def f(x):\n    return {'a': [x ** 2 for _ in range(10)]}  # comment\n\tif x != 0: pass\n",
    "emoji": "I love 🦙 llamas 👩‍👩‍👧 👍🏽 🇺🇦🇯🇵 ❤️ 😀😃😄",
    "cjk": "今天天气很好，所以我们要去公园。今日は天気がいいです。오늘은 날씨가 좋아요.",
    "whitespace": "a" + " " * 40 + "b\n\n\n\n\t\t\tc\r\n" + "\n" * 10 + " \t \n  end   ",
    "rtl": "الطقس جميل اليوم، لذلك سنذهب إلى الحديقة. שלום עולם \u202eevil\u202c",
    "controls": "nul\x00here\x01\x1f zero\u200bwidth\u200d join \ufeffbom e\u0301 a\u0300\u0316",
    "hindi": "आज मौसम अच्छा है, इसलिए हम पार्क जा रहे हैं।",
    "numbers": "127 + 677 = 804; 1234567 × 89 = 109876463; 3.14159",
    "special": "text <|endoftext|> more <|fim_prefix|> [CLS]",
    "empty": "",
}


@pytest.fixture(scope="module")
def encodings():
    need_shared()
    import tiktoken

    return {name: tiktoken.get_encoding(name) for name in TIKTOKEN_NAMES}


def flat_ids(seg: Segmentation) -> list[int]:
    return [i for s in seg.segments for i in s.ids]


def grapheme_ends(text: str) -> set[int]:
    ends, pos = {0}, 0
    for m in regex.finditer(r"\X", text):
        pos += len(m.group())
        ends.add(pos)
    return ends


def check_against_tiktoken(enc, name: str, text: str) -> None:
    seg = T.segment(name, text)
    expected = enc.encode_ordinary(text)
    assert list(seg.ids) == expected == enc.encode(text, disallowed_special=())
    assert flat_ids(seg) == expected
    pos = 0
    for s in seg.segments:
        assert s.token_bytes == tuple(enc.decode_single_token_bytes(i) for i in s.ids)
        assert s.bytes == b"".join(s.token_bytes)
        assert s.char_start == pos and not s.partial and not s.special
        assert text[s.char_start:s.char_end].encode("utf-8") == s.bytes
        assert s.text == text[s.char_start:s.char_end]
        pos = s.char_end
    assert pos == len(text)
    assert seg.counts.tokens == len(expected)


@pytest.mark.parametrize("name", TIKTOKEN_NAMES)
@pytest.mark.parametrize("key", list(CORPUS))
def test_ids_and_bytes_match_tiktoken(encodings, name, key):
    check_against_tiktoken(encodings[name], name, CORPUS[key])


@pytest.mark.parametrize("key", list(CORPUS))
def test_segments_end_on_graphemes_and_are_minimal(encodings, key):
    text = CORPUS[key]
    enc = encodings["cl100k_base"]
    ends = grapheme_ends(text)
    for s in T.segment("cl100k_base", text).segments:
        assert s.char_start in ends and s.char_end in ends
        # minimal: no earlier token boundary inside the group is already a whole-grapheme boundary
        offset = 0
        for tb in s.token_bytes[:-1]:
            offset += len(tb)
            inner = s.bytes[:offset]
            try:
                chars = len(inner.decode("utf-8"))
            except UnicodeDecodeError:
                continue
            assert s.char_start + chars not in ends, (s, offset)
    assert all(len(enc.decode_single_token_bytes(i)) for i in enc.encode_ordinary(text))


def test_emoji_is_grouped_and_never_shows_replacement(encodings):
    seg = T.segment("r50k_base", " 🦙")
    assert len(seg.segments) == 1
    (s,) = seg.segments
    assert s.ids == tuple(encodings["r50k_base"].encode_ordinary(" 🦙")) and len(s.ids) == 3
    assert s.text == " 🦙" and "\ufffd" not in s.text
    assert any(not _whole(b) for b in s.token_bytes)  # the tokens alone split the character


def _whole(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_lecture_example():
    need_shared()
    seg = T.segment("p50k_base", " they are splashing")
    assert [s.text for s in seg.segments] == [" they", " are", " spl", "ashing"]
    assert seg.counts == Counts(tokens=4, characters=19, words=3)
    assert seg.counts.chars_per_token == pytest.approx(19 / 4)


def test_gpt2_alias_is_tiktokens_gpt2_encoding():
    need_shared()
    import tiktoken

    text = CORPUS["english"] + CORPUS["emoji"] + CORPUS["code"]
    assert list(T.segment("gpt2", text).ids) == tiktoken.get_encoding("gpt2").encode_ordinary(text)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_arbitrary_text_matches_tiktoken(text):
    need_shared()
    import tiktoken

    check_against_tiktoken(tiktoken.get_encoding("cl100k_base"), "cl100k_base", text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=100))
def test_any_string_never_raises(text):
    """Lone surrogates included: they are replaced, with a note, never an exception."""
    need_shared()
    seg = T.segment("r50k_base", text)
    assert b"".join(s.bytes for s in seg.segments) == seg.text.encode("utf-8")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert any("surrogate" in n for n in seg.notes)


def test_lone_surrogate_nul_rtl_zwj():
    need_shared()
    for text in ["a\ud800b", "\udfff", "\x00", "\u202eabc", "👩\u200d👩", "\u200d", "", " "]:
        for name in ["cl100k_base", "hf:gpt2", "hf:bert-base-uncased"]:
            seg = T.segment(name, text)
            assert seg.counts.characters == len(seg.text)
    assert clean_text("a\ud800b")[0] == "a\ufffdb"
    assert clean_text("\ud83d\ude00")[0] == "😀"  # a surrogate pair is a real character


def test_typed_special_token_is_plain_text(encodings):
    seg = T.segment("cl100k_base", "hi <|endoftext|>")
    assert 100257 not in seg.ids
    assert list(seg.ids) == encodings["cl100k_base"].encode_ordinary("hi <|endoftext|>")
    assert any("<|endoftext|>" in n and "plain text" in n for n in seg.notes)
    assert not T.segment("cl100k_base", "hi there").notes


def test_limit_keeps_counts_exact(encodings):
    text = CORPUS["english"] * 50
    full = T.segment("cl100k_base", text)
    capped = T.segment("cl100k_base", text, limit=7)
    assert len(capped.segments) == 7 and capped.segments == full.segments[:7]
    assert capped.n_tokens == full.n_tokens == len(encodings["cl100k_base"].encode_ordinary(text))
    assert not capped.complete and full.complete


# --- transformers oracles -------------------------------------------------------------------


@pytest.fixture(scope="module")
def hf_gpt2():
    need_shared()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(GPT2_TOKENIZER))


@pytest.fixture(scope="module")
def hf_bert():
    need_shared()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(BERT_TOKENIZER))


@pytest.mark.parametrize("key", [k for k in CORPUS if k != "special"])
def test_gpt2_matches_transformers_and_tiktoken(hf_gpt2, encodings, key):
    text = CORPUS[key]
    seg = T.segment("hf:gpt2", text)
    assert list(seg.ids) == hf_gpt2(text)["input_ids"] == encodings["r50k_base"].encode_ordinary(text)
    tokens = [t for s in seg.segments for t in s.token_bytes]
    assert tokens == [encodings["r50k_base"].decode_single_token_bytes(i) for i in seg.ids]
    assert loading.load("hf:gpt2").tokens(seg.ids) == hf_gpt2.convert_ids_to_tokens(seg.ids)
    assert b"".join(tokens) == text.encode("utf-8")


@pytest.mark.parametrize("key", list(CORPUS))
def test_bert_matches_transformers(hf_bert, key):
    text = CORPUS[key]
    seg = T.segment("hf:bert-base-uncased", text)
    enc = hf_bert(text, return_offsets_mapping=True, split_special_tokens=True)
    assert list(seg.ids) == enc["input_ids"] == flat_ids(seg)
    if key != "special":
        assert ["[CLS]"] + hf_bert.tokenize(text) + ["[SEP]"] == hf_bert.convert_ids_to_tokens(enc["input_ids"])
    # tokens that share characters (Hangul split into jamo) are grouped; their strings are joined
    assert [s.text for s in seg.segments] == ["".join(hf_bert.convert_ids_to_tokens(list(s.ids))) for s in seg.segments]
    offsets = iter(enc["offset_mapping"])
    for s in seg.segments:
        spans = [tuple(next(offsets)) for _ in s.ids]
        if s.special:
            assert spans == [(0, 0)]
        else:
            assert (s.char_start, s.char_end) == (spans[0][0], max(e for _, e in spans))
    assert seg.segments[0].special and seg.segments[0].text == "[CLS]"
    assert seg.segments[-1].special and seg.segments[-1].text == "[SEP]"


def test_bert_wordpiece_continuations(hf_bert):
    seg = T.segment("hf:bert-base-uncased", "They are splashing Café")
    assert [s.text for s in seg.segments] == ["[CLS]", "they", "are", "splash", "##ing", "cafe", "[SEP]"]
    cafe = seg.segments[5]
    assert seg.text[cafe.char_start:cafe.char_end] == "Café"  # the span points at the original, accented text
    assert any("[CLS], [SEP]" in n for n in seg.notes)


def test_bert_typed_special_is_plain_text(hf_bert):
    seg = T.segment("hf:bert-base-uncased", "a [SEP] b")
    assert seg.ids.count(hf_bert.sep_token_id) == 1  # only the one the tokenizer adds at the end


# --- decode --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(CORPUS))
def test_decode_round_trips(encodings, key):
    text = CORPUS[key]
    ids = encodings["cl100k_base"].encode_ordinary(text)
    seg = T.decode("cl100k_base", ids)
    assert seg.text == text == encodings["cl100k_base"].decode(ids)
    assert flat_ids(seg) == ids and not any(s.partial for s in seg.segments)


def test_decode_partial_bytes_never_replacement(encodings):
    ids = encodings["cl100k_base"].encode_ordinary("🦙")
    assert len(ids) > 1
    seg = T.decode("cl100k_base", ids[:-1] + [64])  # a cut character, then "a"
    assert "\ufffd" not in seg.text and "\ufffd" not in "".join(s.text for s in seg.segments)
    partial = [s for s in seg.segments if s.partial]
    assert partial and partial[0].bytes == b"".join(encodings["cl100k_base"].decode_single_token_bytes(i) for i in ids[:-1])
    assert seg.segments[-1].text == "a" and not seg.segments[-1].partial


def test_decode_special_and_bad_ids(encodings):
    seg = T.decode("cl100k_base", [15339, 100257])
    assert seg.segments[-1].special and seg.segments[-1].text == "<|endoftext|>"
    with pytest.raises(ValueError, match="Not ids"):
        T.decode("cl100k_base", [1, 10**9])
    with pytest.raises(ValueError, match="Not ids"):
        T.decode("hf:gpt2", [-1])
    assert T.decode("hf:bert-base-uncased", [101, 2027, 102]).text == "[CLS] they [SEP]"


def test_parse_ids():
    assert parse_ids("[814, 527,12786 19587]") == [814, 527, 12786, 19587]
    assert parse_ids("  ") == []
    with pytest.raises(ValueError, match="'abc'"):
        parse_ids("1 abc 2")


# --- chat formats --------------------------------------------------------------------------

CONVERSATION = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi! <|im_end|> ok?"},
                {"role": "assistant", "content": "Hello."}]


def test_chatml_on_gpt2_matches_hand_built_sequence(encodings):
    need_shared()
    chat = chat_format(CHATML_GPT2, CONVERSATION, add_generation_prompt=True)
    expected_text = ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi! <|im_end|> ok?<|im_end|>\n"
                     "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>assistant\n")
    assert chat.rendered == expected_text
    r50k = encodings["r50k_base"]
    start, end = 50257, 50258  # the two added special tokens
    expected = []
    for m in CONVERSATION:
        # transformers encodes a typed control token as text on its own, so the text around it is cut there
        pieces = f"{m['role']}\n{m['content']}".replace("<|im_end|>", "\0<|im_end|>\0").split("\0")
        expected += [start] + [i for p in pieces for i in r50k.encode_ordinary(p)] + [end] + r50k.encode_ordinary("\n")
    expected += [start] + r50k.encode_ordinary("assistant\n")
    assert list(chat.segmentation.ids) == expected
    specials = [s for s in chat.segmentation.segments if s.special]
    assert [s.text for s in specials] == ["<|im_start|>", "<|im_end|>"] * 3 + ["<|im_start|>"]
    assert any("<|im_end|>" in n for n in chat.notes)  # the user's typed <|im_end|> stayed text


def test_chat_sources_offline_include_chatml_fallback():
    names = [s.name for s in chat_sources()]
    assert names[-1] == CHATML_GPT2
    if (hub.BUNDLED["pocket-lm-sft"] / "tokenizer_config.json").exists():
        assert names[0] == "pocket-lm-sft"


def test_bundled_sft_template_when_present():
    if not loading.tokenizer_folder(hub.BUNDLED["pocket-lm-sft"]):
        pytest.skip("assets/pocket-lm-sft is not trained yet")
    chat = chat_format("pocket-lm-sft", CONVERSATION[:2])
    assert "<|im_start|>" in chat.rendered
    assert sum(s.special for s in chat.segmentation.segments) >= 4


def test_pocket_lm_matches_transformers_or_explains_absence():
    path = hub.BUNDLED["pocket-lm"]
    if not loading.tokenizer_folder(path):
        with pytest.raises(hub.ModelUnavailable, match="not in"):
            T.segment("pocket-lm", "hello")
        return
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    for text in CORPUS.values():
        assert list(T.segment("pocket-lm", text).ids) == tok(text, split_special_tokens=True)["input_ids"]


# --- availability and imports -------------------------------------------------------------


def test_missing_encodings_and_hub_ids_fail_fast_and_clearly():
    need_shared()
    if not loading.tiktoken_cached("o200k_base"):
        with pytest.raises(hub.ModelUnavailable, match="o200k_base"):
            loading.load("o200k_base")
    assert loading.availability("cl100k_base") is None
    with pytest.raises(hub.ModelUnavailable, match="not a tokenizer"):
        loading.load("<script>")
    if not hub.network_available():
        with pytest.raises(hub.ModelUnavailable, match="no network"):
            loading.load("someone/not-downloaded-tokenizer")


def test_tiktoken_path_imports_neither_torch_nor_transformers():
    need_shared()
    code = ("import sys; from lib.tokens import loading, tokenization as T; s = T.segment('cl100k_base', 'hi 🦙'); "
            "T.decode('r50k_base', [1, 2]); loading.availability('hf:gpt2'); "
            "import tiktoken; n = len(tiktoken.get_encoding('cl100k_base').encode_ordinary('hi 🦙')); "
            "print(s.n_tokens == n, 'torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False", "False"]


@pytest.mark.parametrize("key", ["emoji", "cjk", "english", "controls"])
def test_ungrouped_shows_each_token_and_its_bytes(encodings, key):
    text = CORPUS[key]
    enc = encodings["r50k_base"]
    seg = T.segment("r50k_base", text, group=False)
    assert [s.ids for s in seg.segments] == [(i,) for i in enc.encode_ordinary(text)]
    for s in seg.segments:
        raw = enc.decode_single_token_bytes(s.ids[0])
        assert s.bytes == raw and s.partial == (not _whole(raw))
        assert "\ufffd" not in s.text or "\ufffd" in text
        assert raw.decode("utf-8", "ignore") in text[s.char_start:s.char_end]
    if key == "emoji":
        assert any(s.partial for s in seg.segments)


@pytest.fixture(scope="module")
def sentencepiece_style(tmp_path_factory):
    """A tiny Llama-style tokenizer (▁ word marks, byte fallback, <s> prepended), built offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2} | {f"<0x{b:02X}>": 3 + b for b in range(256)}
    for piece in ["▁", "h", "e", "l", "o", "w", "é", "ll", "▁w", "▁wo", "▁h"]:
        vocab[piece] = len(vocab)
    merges = [("l", "l"), ("▁", "w"), ("▁w", "o"), ("▁", "h")]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    folder = tmp_path_factory.mktemp("sp-tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>").save_pretrained(folder)
    return str(folder)


def test_sentencepiece_style_marks_and_byte_fallback(sentencepiece_style):
    from transformers import AutoTokenizer

    text = "hello wo 🦙 héllo"
    oracle = AutoTokenizer.from_pretrained(sentencepiece_style)
    seg = T.segment(sentencepiece_style, text)
    assert list(seg.ids) == oracle(text)["input_ids"]
    texts = [s.text for s in seg.segments]
    assert texts[0] == "<s>" and seg.segments[0].special
    assert "▁wo" in texts and "▁h" in texts  # the ▁ word marks are shown as the tokenizer has them
    llama = next(s for s in seg.segments if s.text == "🦙")  # four <0x..> byte tokens grouped into one character
    assert llama.ids == tuple(oracle.convert_tokens_to_ids(["<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"]))
    assert llama.bytes == "🦙".encode() and not llama.partial
    assert text[llama.char_start:llama.char_end] == "🦙"
    assert T.decode(sentencepiece_style, list(seg.ids)).text == oracle.decode(seg.ids)


@pytest.fixture(scope="module")
def pocket_like(tmp_path_factory):
    """A small byte-level BPE with pocket-lm-sft's special tokens and a ChatML template, trained here offline."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([CORPUS["english"] * 20, CORPUS["code"] * 5], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", pad_token="<|endoftext|>")  # as lib.training.pretrain
    fast.chat_template = CHATML_TEMPLATE
    folder = tmp_path_factory.mktemp("pocket-like")
    fast.save_pretrained(folder)
    return str(folder)


def test_bundled_style_byte_level_tokenizer(pocket_like):
    from transformers import AutoTokenizer

    oracle = AutoTokenizer.from_pretrained(pocket_like)
    for key, text in CORPUS.items():
        seg = T.segment(pocket_like, text)
        assert not any(s.special for s in seg.segments) and not any("[UNK]" in n or "vocabulary" in n for n in seg.notes)
        assert list(seg.ids) == oracle(text, split_special_tokens=True)["input_ids"], key
        assert b"".join(s.bytes for s in seg.segments) == text.encode("utf-8")
        assert all(not s.partial and text[s.char_start:s.char_end].encode() == s.bytes for s in seg.segments)
    chat = chat_format(pocket_like, CONVERSATION)
    expected = oracle.apply_chat_template(CONVERSATION, add_generation_prompt=True, sanitize_control_tokens=True,
                                          return_dict=True)["input_ids"]
    assert list(chat.segmentation.ids) == expected
    assert [s.text for s in chat.segmentation.segments if s.special] == ["<|im_start|>", "<|im_end|>"] * 3 + ["<|im_start|>"]
    assert chat.rendered == oracle.apply_chat_template(CONVERSATION, add_generation_prompt=True, tokenize=False)
