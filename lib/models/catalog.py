"""The next-token model catalog, kept as data: every model once, with its family and training stage.

The rows live in catalog.toml: a new family is rows there only, one [[family]] (name and note) and one [[model]]
per checkpoint with that family's key; stage_families() groups them for the training-stages page.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path


API_PREFIX = "openai:"  # ids of models served through an OpenAI-compatible API
STAGE_LABELS = {"base": "Base", "sft": "SFT", "dpo": "DPO", "instruct": "Instruct"}  # in training order


def is_chat(stage: str) -> bool:
    """Every checkpoint after pretraining was tuned on chat turns, so it gets the chat template."""
    return stage != "base"


@dataclass(frozen=True)
class CatalogEntry:
    id: str            # bundled name, hub id or "openai:<model>"
    family: str        # a key of SHOWN_FAMILIES when the family's stages are compared, else any name
    size: str
    stage: str         # "base", "sft", "dpo", "instruct"
    description: str
    label: str = ""    # its name among its family's stages (default: STAGE_LABELS[stage])

    @property
    def chat(self) -> bool:
        return is_chat(self.stage)


@dataclass(frozen=True)
class Checkpoint:
    """One stage of a family, as the training-stages page compares it."""
    model_id: str     # a bundled name, a hub id, or "openai:<model>"
    stage: str        # "base", "sft", "dpo" or "instruct"
    label: str

    @property
    def chat(self) -> bool:
        return is_chat(self.stage)


@dataclass(frozen=True)
class Family:
    key: str          # the ?family= value, and the `family` of its entries
    name: str
    checkpoints: tuple[Checkpoint, ...] = ()   # grouped from ENTRIES by stage_families()
    backend: str = "hf"   # "hf" (local or hub) or "openai"
    note: str = ""


CATALOG_FILE = Path(__file__).with_name("catalog.toml")  # the families and models themselves, as data


def read_catalog(path: Path = CATALOG_FILE) -> tuple[tuple[Family, ...], tuple[CatalogEntry, ...]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return (tuple(Family(**row) for row in data["family"]),
            tuple(CatalogEntry(**row) for row in data["model"]))


SHOWN_FAMILIES, ENTRIES = read_catalog()  # the families whose stages are compared (in order), and every model
CATALOG = tuple(e for e in ENTRIES if not e.id.startswith(API_PREFIX))  # the models this server can load itself
BY_ID = {entry.id: entry for entry in CATALOG}
DEFAULT_MODEL = "pocket-lm"


def entry_for(model_id: str) -> CatalogEntry:
    """Catalog entry, or a generic one for any other hub id or folder."""
    return BY_ID.get(model_id) or CatalogEntry(model_id, "custom", "?", "base", "A model named by the user.")


def stage_families(families: tuple[Family, ...] = SHOWN_FAMILIES,
                   entries: tuple[CatalogEntry, ...] = ENTRIES) -> dict[str, Family]:
    """Each shown family with its checkpoints: the entries of that family, in catalog order."""
    return {f.key: replace(f, checkpoints=tuple(Checkpoint(e.id, e.stage, e.label or STAGE_LABELS[e.stage])
                                                for e in entries if e.family == f.key)) for f in families}
