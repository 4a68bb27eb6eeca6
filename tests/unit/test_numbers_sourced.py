"""Numbers written into page prose as text are held against their published source (../shared/reference/facts.md).

Every number in these sentences must appear in facts.md, written the same way; numbers about the
bundled model are checked against the files themselves.
"""

import inspect
import re

import pytest

from tests.conftest import ASSETS, SHARED, need_shared

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?(?:\s?(?:k|M|B|T|x|%|million|billion))?")


def facts_text() -> str:
    need_shared()
    return (SHARED / "reference" / "facts.md").read_text(encoding="utf-8").replace("–", " to ")


def numbers(text: str) -> list[str]:
    return [n.strip() for n in NUMBER.findall(text)]


def sourced_sentences() -> dict[str, str]:
    from components.sections import scale_views
    from lib.teaching import stages

    gpt2 = re.search(r'"\*\*GPT-2: 117M or 124M\?\*\*(.*?)"\)', inspect.getsource(scale_views.scale_view), re.S).group(1)
    out = {f"stages.INSTRUCTGPT_FACTS[{name}]": text for name, text in stages.INSTRUCTGPT_FACTS}
    out.update({f"stages.STORY[{s.key}]": s.data_note.replace("pocket-lm used 11 public-domain novels.", "")
                for s in stages.STORY})
    out["scale_views: GPT-2 paper vs release"] = re.sub(r"\{[^}]*\}", "", gpt2.split("Our own arithmetic")[0])
    return out


@pytest.mark.parametrize("where", list(sourced_sentences()))
def test_every_number_in_the_sentence_is_in_the_reference(where):
    facts = facts_text()
    text = sourced_sentences()[where]
    found = numbers(text)
    assert found, f"{where}: no numbers found, so the check would pass vacuously"
    missing = [n for n in found if n not in facts]
    assert not missing, f"{where}: {missing} not in facts.md"


def test_pocket_lm_is_trained_on_the_eleven_novels_it_claims():
    need_shared()
    books = [p for p in (ASSETS / "corpora" / "novels").iterdir() if p.suffix == ".txt"]
    assert len(books) == 11
    from lib.teaching import stages

    assert "pocket-lm used 11 public-domain novels" in stages.STORY[0].data_note
