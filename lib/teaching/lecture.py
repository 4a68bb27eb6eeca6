"""The two seed lectures as data (lecture_steps.toml): each step names a view, its state, the part that makes the
point, and what to say; its page's deep link is for exploring.

Lecture 1: Jeremy Howard, "A Hacker's Guide to Language Models" (fast.ai, 2023).
Lecture 2: "14.1 Modern Large Language Models" (a video course lesson on GPT-3 and its playground).
A step never copies a page: it names a view (a key of VIEWS, drawn by components/sections/step_views.py with the
components that page uses), the part of it to show (`part`), the page (its url_path) and the query parameters
that page reads, which are also the view's state.
Which model a step uses is decided when it is shown, from what is on this machine (best_model, best_family).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from string import Template
from urllib.parse import quote, urlencode

from lib import page_table
from lib.teaching import presets
from lib.teaching import stages
from lib.models.catalog import CATALOG, DEFAULT_MODEL, CatalogEntry

STEPS_FILE = Path(__file__).with_name("lecture_steps.toml")  # the steps themselves, as data
PAGES = {row.url_path: row.file for row in page_table.PAGES if row.url_path}  # the pages a step can open

# needs: "none" (any model, or no model), "knowledge" (world knowledge: the step's own model, else the biggest base
# model here),
# "family" (one model family at several training stages).
NEEDS = {"none": "Any model (or none)",
         "knowledge": "World knowledge: the model the step's claim is checked on, else the biggest base model here",
         "family": "One family at several training stages (base, instruction-tuned, preference-tuned)"}


@dataclass(frozen=True)
class Step:
    id: str                              # the ?step= value
    lecture: str
    title: str
    page: str                            # url_path of an existing page
    params: tuple[tuple[str, str], ...]  # the query parameters that page reads
    say: str                             # one or two sentences for the lecturer
    notice: str                          # the point to notice on screen
    needs: str = "none"                  # a key of NEEDS
    bundled: str = ""                    # with only the bundled model: what it shows, what a larger one would
    example: str = ""                    # "openorca" or "preference": a data example shown beside the step
    view: str = ""                       # a key of VIEWS: what the lecture page draws for this step
    part: tuple[tuple[str, object], ...] = ()  # which part of the view makes the point (top rows, columns)
    # keys this module does not read (other tools' data, e.g. claims), kept as written; not part of equality
    extra: tuple[tuple[str, object], ...] = field(default=(), compare=False)

    def part_value(self, name: str, default=None):
        return dict(self.part).get(name, default)


# What a step can show, and the `part` keys each view reads (components/sections/step_views.py draws them).
VIEWS = {
    "next-token": "Next-token distribution: the top rows (part.top)",
    "generation": "Greedy and sampled continuations of one prompt, one row each (part.seeds, part.tokens)",
    "sampling": "The distribution before and after the step's knobs (part.top rows; part.knobs: sliders shown)",
    "tokens": "One text as token chips under one tokenizer",
    "decode": "Token ids back to text, with the chips",
    "chat-format": "A conversation as one token sequence under a chat template",
    "stage-story": "The training pipeline with the step's stage marked, and a sample of that stage's data",
    "stage-compare": "One family's checkpoints side by side on one prompt (part.stages: which columns)",
    "scale": "Parameter counts on a log axis (part.chart: bar)",
    "bigger-not-better": "Published results of a small fine-tuned model against a huge few-shot one",
    "lens": "The logit lens: what each layer would predict (part.positions: the last positions shown)",
}


# The prompts steps name as ${NAME} in lecture_steps.toml, besides the texts under its [texts].
NAMES = {"PANDA": presets.NEXT_TOKEN_PRESETS["Panda facility (Hacker's Guide)"],
         "BIRDS": presets.NEXT_TOKEN_PRESETS["The Birds (Hacker's Guide)"],
         "MITCH": presets.NEXT_TOKEN_PRESETS["Mitch's … (Hacker's Guide)"],
         "FLAN_Q": stages.FLAN_EXAMPLE[0], "FLAN_A": stages.FLAN_EXAMPLE[1],
         "THEY_ARE_SPLASHING": presets.THEY_ARE_SPLASHING, "CAREER_PROMPT": presets.CAREER_PROMPT}


def load_steps(path: Path = STEPS_FILE) -> tuple[Step, ...]:
    """The steps of lecture_steps.toml, with every ${NAME} filled in (an unknown name raises KeyError)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    names = dict(NAMES)
    for name, text in data["texts"].items():  # a text may use the ones above it
        names[name] = Template(text).substitute(names)

    def fill(value):
        return Template(value).substitute(names) if isinstance(value, str) else value

    known = {f.name for f in fields(Step)} - {"params", "part", "extra"}

    def step(row: dict) -> Step:
        return Step(**{k: fill(v) for k, v in row.items() if k in known},
                    params=tuple((k, fill(v)) for k, v in row.get("params", {}).items()),
                    part=tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in row.get("part", {}).items()),
                    extra=tuple((k, v) for k, v in row.items() if k not in known | {"params", "part"}))

    return tuple(step(row) for row in data["steps"])


STEPS = load_steps()
BY_ID = {s.id: s for s in STEPS}


def index_of(step_id: str | None) -> int:
    """Position of a ?step= value: an id, or a 1-based number; unknown values give the first step."""
    if step_id is None:
        return 0
    step_id = step_id.strip()
    if step_id.isdigit():
        return min(max(int(step_id), 1), len(STEPS)) - 1
    ids = [s.id for s in STEPS]
    return ids.index(step_id) if step_id in ids else 0


# -- which model a step uses -----------------------------------------------------------------------------


def _size(entry: CatalogEntry) -> float:
    match = re.fullmatch(r"([\d.]+)([MB])", entry.size)
    return float(match[1]) * (1e9 if match[2] == "B" else 1e6) if match else 0.0


def best_model(available: set[str]) -> str:
    """The largest catalogued hub base model on this machine (larger ones know more), else the bundled one."""
    bases = [e for e in CATALOG if e.stage == "base" and e.id in available and e.family != "pocket-lm"]
    return max(bases, key=_size).id if bases else DEFAULT_MODEL


def best_family(available: set[str]) -> str:
    """The largest hub family whose every checkpoint is on this machine, else the bundled pocket-lm family."""
    complete = [f for f in stages.FAMILIES.values() if f.backend == "hf" and f.key != stages.DEFAULT_FAMILY
                and all(c.model_id in available for c in f.checkpoints)]
    sizes = {e.id: _size(e) for e in CATALOG}
    if not complete:
        return stages.DEFAULT_FAMILY
    return max(complete, key=lambda f: sizes.get(f.checkpoints[0].model_id, 0.0)).key


def step_params(step: Step, available: set[str]) -> dict[str, str]:
    """The step's query parameters, with the best model or family on this machine filled in."""
    params = dict(step.params)
    if step.needs == "knowledge" and step.page in ("next-token", "sampling"):
        if params.get("model") not in available:  # the model the step names (its claim is tested on it) when here
            params["model"] = best_model(available)
            params.pop("chat", None)
    elif step.needs == "family":
        params["family"] = best_family(available)
    return params


def uses_bundled(step: Step, params: dict[str, str]) -> bool:
    """Whether the step needs more than the bundled model can give, and only the bundled one is here."""
    return (step.needs == "knowledge" and params.get("model") == DEFAULT_MODEL) or (
        step.needs == "family" and params.get("family") == stages.DEFAULT_FAMILY)


def link(page: str, params: dict[str, str]) -> str:
    """Relative link (page plus query string), as the page reads it."""
    return f"{page}?{urlencode(params, quote_via=quote)}"
