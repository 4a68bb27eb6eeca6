"""The committed pocket-lm reproduces its model card, loads like any hub model, and stays small."""

import json
import re

import pytest

from lib.models.hub import BUNDLED
from tests.conftest import ASSETS, need_shared

FOLDER = BUNDLED["pocket-lm"]


def card_number(pattern: str) -> float:
    match = re.search(pattern, (FOLDER / "README.md").read_text(encoding="utf-8"))
    assert match, f"model card lacks {pattern}"
    return float(match.group(1))


@pytest.fixture(scope="module")
def pocket():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(FOLDER, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(FOLDER, local_files_only=True).eval()
    return model, tokenizer


def test_small_enough_to_ship():
    weights = FOLDER / "model.safetensors"
    assert weights.stat().st_size <= 25 * 1024 * 1024


def test_held_out_perplexity_matches_the_model_card(pocket):
    need_shared()
    from lib.training.corpus import prepare
    from lib.training.pretrain import encode_corpus, evaluate_perplexity

    model, tokenizer = pocket
    corpus = prepare(ASSETS / "corpora" / "novels")
    valid = encode_corpus(tokenizer, corpus.valid)
    stated = card_number(r"\| \*\*pocket-lm\*\* \| \*\*([\d.]+)\*\* \|")
    measured = evaluate_perplexity(model, valid, model.config.n_positions)
    assert measured == pytest.approx(stated, rel=0.01)


def test_beats_half_the_bigram_baseline():
    stated = card_number(r"\| \*\*pocket-lm\*\* \| \*\*([\d.]+)\*\* \|")
    bigram = card_number(r"\| bigram[^|]*\| ([\d.]+) \|")
    assert stated <= bigram / 2


def test_card_states_parameters_that_match_the_weights(pocket):
    model, _ = pocket
    counted = sum(p.numel() for p in model.parameters())
    assert f"{counted:,} parameters" in (FOLDER / "README.md").read_text(encoding="utf-8")
    assert json.loads((FOLDER / "metrics.json").read_text())["parameters"] == counted


def test_loads_through_the_app_model_layer_offline():
    from lib.models.next_token import HFCausalLM

    lm = HFCausalLM.load("pocket-lm")
    dist = lm.distribution(lm.encode("She opened the door and"))
    assert dist.complete and abs(dist.probs.sum() - 1) < 1e-9
    assert len(dist.ids) == lm.tokenizer.vocab_size or len(dist.ids) >= 4096


@pytest.mark.slow
def test_training_cli_writes_a_loadable_model_and_its_card(tmp_path):
    """The model card's command, on two novels and three steps: the same code path as the full run."""
    need_shared()
    import math
    import shutil

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lib.training.pretrain import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for book in ("emma.txt", "frankenstein.txt"):
        shutil.copy(ASSETS / "corpora" / "novels" / book, corpus / book)
    out = tmp_path / "model"
    main(["--corpus", str(corpus), "--out", str(out), "--steps", "3", "--threads", "1"])

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["books"] == ["emma.txt", "frankenstein.txt"] and metrics["train"]["steps"] == 3
    assert math.isfinite(metrics["valid_ppl"]) and metrics["valid_ppl"] > metrics["bigram_ppl"]  # 3 steps: untrained
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"--out {out} --steps 3" in card and "CPU, 1 thread," in card
    model = AutoModelForCausalLM.from_pretrained(out, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert model.config.n_positions == 128 and model.transformer.wpe.weight.shape[0] == 128
    assert tokenizer.decode(tokenizer("She opened the door")["input_ids"]) == "She opened the door"
