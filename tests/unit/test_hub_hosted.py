"""Model references (issue 13, items 2 and 15): over-long names fail cleanly, hosted mode reads no server
folders, and every spelling of one folder is one cache entry."""

from __future__ import annotations

import pytest

from lib.models import hub
from tests.conftest import GPT2_TOKENIZER, ROOT

LONG = ["a" * 300, "org/" + "b" * 300, "x" * 256, "/" + "c" * 400]
LONG_IDS = ["300", "org-300", "256", "path-400"]


def clean(message: str) -> None:
    assert "Errno" not in message and "Traceback" not in message and str(ROOT) not in message
    assert "\n" not in message and len(message) < 300


# -- item 2: names of 256+ characters --------------------------------------------------------
@pytest.mark.parametrize("ref", LONG, ids=LONG_IDS)
def test_over_long_model_names_are_a_clear_refusal_in_every_loader(ref):
    from lib.models.next_token import HFCausalLM
    from lib.tokens.masked_lm import MaskedLM

    for load in (hub.resolve, hub.canonical, HFCausalLM.load, MaskedLM.load):
        with pytest.raises(hub.ModelUnavailable) as err:
            load(ref)
        clean(str(err.value))


@pytest.mark.parametrize("ref", LONG + ["a/b/c", "../x", "x" * 97], ids=LONG_IDS + ["3-parts", "dots", "97"])
def test_invalid_ids_are_simply_not_in_the_cache(ref):
    assert hub.cached_snapshot(ref) is None


@pytest.mark.parametrize("ref", LONG, ids=LONG_IDS)
def test_over_long_tokenizer_names_are_a_clear_refusal(ref):
    from lib.tokens import loading

    with pytest.raises(hub.ModelUnavailable) as err:
        loading.load(ref)
    clean(str(err.value))


# -- item 15: one cache identity per model ----------------------------------------------------
def test_every_spelling_of_the_bundled_folder_is_one_name(monkeypatch):
    monkeypatch.chdir(ROOT)
    spellings = ["pocket-lm", "assets/pocket-lm", "./assets/pocket-lm", "assets//pocket-lm", "assets/pocket-lm/",
                 str(ROOT / "assets" / "pocket-lm"), f"{ROOT}/assets/../assets/pocket-lm", " pocket-lm "]
    assert {hub.canonical(s) for s in spellings} == {"pocket-lm"}


def test_every_spelling_of_a_folder_loads_one_shared_model(tiny_folder, monkeypatch):
    from components.loaders import get_model

    monkeypatch.chdir(tiny_folder.parent)
    spellings = [str(tiny_folder), f"{tiny_folder}/", f"./{tiny_folder.name}", f"{tiny_folder.name}//",
                 f"{tiny_folder}/../{tiny_folder.name}"]
    models = [get_model(s) for s in spellings]
    assert all(m is models[0] for m in models)
    assert models[0].name == str(tiny_folder.resolve())


def test_hub_ids_are_their_own_name():
    assert hub.canonical(" openai-community/gpt2 ") == "openai-community/gpt2"


# -- item 15: hosted mode reads no folders ----------------------------------------------------
def test_hosted_mode_refuses_server_folders(tiny_folder, monkeypatch):
    from lib.models.next_token import HFCausalLM

    assert HFCausalLM.load(str(tiny_folder)).name == str(tiny_folder)  # local mode: any folder is a model
    monkeypatch.setenv("LLMX_HOSTED", "1")
    monkeypatch.chdir(ROOT)
    for ref in (str(tiny_folder), "assets/pocket-lm", "./assets/pocket-lm", "/etc", "~", "..", str(ROOT)):
        with pytest.raises(hub.ModelUnavailable) as err:
            HFCausalLM.load(ref)
        clean(str(err.value).replace(ref, "<typed>"))  # the typed text may be echoed, nothing more of the disk
        assert hub.local_folder(ref) is None
    assert hub.resolve("pocket-lm")[1] is True  # bundled models still load


def test_hosted_mode_refuses_tokenizer_folders(monkeypatch, tmp_path):
    from lib.tokens import loading

    folder = tmp_path / "tok"
    folder.symlink_to(GPT2_TOKENIZER)
    assert loading.load(str(folder)) is not None  # local mode
    monkeypatch.setenv("LLMX_HOSTED", "1")
    with pytest.raises(hub.ModelUnavailable) as err:
        loading.load(str(folder) + "/")  # another spelling: not the per-process cache entry above
    clean(str(err.value))
