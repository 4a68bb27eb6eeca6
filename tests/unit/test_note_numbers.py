"""Every number in a lecture step's notes comes from the screen: measured live on the step's model, shown in the
step's own settings, or quoted as the lecture's (or a published table's) figure. A planted wrong number fails."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from lib.models.catalog import entry_for
from lib.scale import published
from lib.teaching import lecture as L
from lib.teaching import stages
from tests.conftest import SHARED, need_shared
from tests.unit.test_step_claims import OFFLINE, measured

# A number: 1,600 or 0.2 or 84, with an optional %. Digits inside names (GPT-3, SmolLM2-135M, p50k) are not numbers.
NUMBER = re.compile(r"(?<![\w.\-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(%?)(?![\w.]*\d)")
UNITS = {"million": 1e6, "billion": 1e9}


def numbers_in(text: str) -> list[re.Match]:
    return list(NUMBER.finditer(text))


def shown_in_params(number: str, params: dict[str, str]) -> bool:
    return any(re.search(rf"(?<![\d.]){re.escape(number)}(?!\d|,\d{{3}}|\.\d)", value) for value in params.values())


def _value(number: str) -> float:
    return float(number.rstrip("%").replace(",", ""))


def _decimals(number: str) -> int:
    digits = number.rstrip("%")
    return len(digits.split(".")[1]) if "." in digits else 0


def _lecture_text() -> str:
    need_shared()
    return " ".join(p.read_text(encoding="utf-8") for p in sorted((SHARED / "seeds").glob("*.txt")))


def _step_models(params: dict[str, str]) -> list[str]:
    """The models the step shows, and the bundled pocket-lm its `bundled` text speaks of."""
    if "family" in params:
        return [ck.model_id for ck in stages.FAMILIES[params["family"]].checkpoints]
    return ([params["model"]] if "model" in params else []) + ["pocket-lm"]


def check_number(step: L.Step, number: str, after: str, source: str) -> str | None:
    """None when `number` agrees with its source, else what is wrong."""
    params = L.step_params(step, OFFLINE)
    kind, _, arg = source.partition(":")
    if kind == "measured":
        figure = measured(step.id).figures[arg] if step.id in L.BY_ID and L.BY_ID[step.id] == step else None
        if figure is None:  # a planted step: measure it itself
            from lib import lecture_claims as claims
            from tests.unit.test_step_claims import open_offline

            figure = claims.measure(step, params, open_offline).figures[arg]
        ok = round(figure, _decimals(number)) == _value(number)
        return None if ok else f"{number} but the screen shows {figure:.4g} ({arg})"
    if kind == "lecture":
        return None if number.rstrip("%") in _lecture_text() else f"{number} is not in the seed lectures"
    if kind == "catalog":
        text = " ".join(f"{entry_for(m).size} {entry_for(m).description}" for m in _step_models(params))
        return None if re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text) else \
            f"{number} is not in the catalog entries of {_step_models(params)}"
    index = published.by_key()
    if kind == "params":
        unit = UNITS.get(after.split()[0].strip(",.;") if after.split() else "", 1.0)
        value = index[arg].published / unit
        return None if round(value, _decimals(number)) == _value(number) else f"{number} but {arg} has {value:.4g}"
    if kind == "ratio":
        top, bottom = arg.split("/")
        ratio = index[top].published / index[bottom].published
        rounded = float(f"{ratio:.2g}")  # "about 1,600": two significant figures
        return None if rounded == _value(number) else f"{number} but {arg} is {ratio:,.0f}"
    return f"unknown source {source!r}"


def problems(step: L.Step) -> list[str]:
    """Every number in the step's notes without a source that agrees with it, and every stale source."""
    sources = dict(dict(step.extra).get("numbers", {}))
    params = L.step_params(step, OFFLINE)
    found, out = set(), []
    for text in (step.say, step.notice, step.bundled):
        for match in numbers_in(text):
            number = match[1] + match[2]
            found.add(number)
            if number in sources:
                wrong = check_number(step, number, text[match.end():].strip(), sources[number])
                if wrong:
                    out.append(f"{step.id}: {wrong}")
            elif not shown_in_params(match[1], params):
                out.append(f"{step.id}: {number} in “…{text[max(0, match.start() - 30):match.end() + 10]}…” has no source")
    out += [f"{step.id}: numbers lists {n}, which the notes no longer say" for n in sources if n not in found]
    return out


def test_the_number_pattern():
    text = "GPT-3 is 175 billion, about 1,600 times; 0.2% (rank 84); SmolLM2-135M in 4-bit, 2990, 389."
    assert [m[1] + m[2] for m in numbers_in(text)] == ["175", "1,600", "0.2%", "84", "4", "2990", "389"]


@pytest.mark.parametrize("step_id", [s.id for s in L.STEPS])
def test_every_number_in_the_notes_has_a_source_that_agrees(step_id):
    assert problems(L.BY_ID[step_id]) == []


@pytest.mark.parametrize("step_id,old,new", [
    ("hitchcock", "58%", "68%"),                       # a live figure the chart contradicts
    ("language-model", "about 20%", "about 30%"),      # the lecture's own figure, misquoted
    ("scale", "1,600", "16,000"),                      # a published ratio
    ("compression", "5.0 bits", "3.0 bits"),
])
def test_a_planted_wrong_number_fails(step_id, old, new):
    step = L.BY_ID[step_id]
    assert old in step.notice + step.say
    extra = dict(step.extra)
    extra["numbers"] = {new.split()[0] if k == old.split()[0] else k: v for k, v in extra["numbers"].items()}
    planted = replace(step, notice=step.notice.replace(old, new), say=step.say.replace(old, new),
                      extra=tuple(extra.items()))
    assert problems(planted)
