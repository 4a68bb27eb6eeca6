"""The next-token model catalog, kept as data: every model once, with its family and training stage.

A new family is rows here only: one `Family` in SHOWN_FAMILIES (name and note) and one `CatalogEntry` per
checkpoint with that family's key; lib/stages.py groups them for the training-stages page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lib import hub

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


_SMOL_NOTE = "Instruct = SFT, then DPO on UltraFeedback."
SHOWN_FAMILIES: tuple[Family, ...] = (  # the families whose stages are compared, in this order
    Family("pocket-lm", "pocket-lm (bundled, 4.2M)",
           note="Trained by this project: pretraining on 11 novels, SFT on the project's instruction set, "
                "DPO on its preference pairs. Works offline."),
    Family("smollm2-135m", "SmolLM2-135M", note=_SMOL_NOTE + " No public SFT-only checkpoint."),
    Family("smollm2-360m", "SmolLM2-360M", note=_SMOL_NOTE),
    Family("qwen2.5-0.5b", "Qwen2.5-0.5B", note="No intermediate stages are published."),
    Family("olmo-2-1b", "OLMo-2-0425-1B",
           note="Fully open: every stage is published. Instruct = SFT, DPO, then RLVR. About 4 GB per checkpoint "
                "in float32."),
    Family("openai", "OpenAI API: davinci-002 vs a chat model", backend="openai",
           note="Through the OpenAI API (needs an API key): davinci-002 is a base completion model; the chat "
                "model is instruction- and preference-tuned. The API returns only the top 20 log-probabilities."),
)

ENTRIES: tuple[CatalogEntry, ...] = (
    CatalogEntry("pocket-lm", "pocket-lm", "4.2M", "base",
                 "Bundled: a tiny GPT-2 trained by this project on 11 public-domain novels. Works offline; knows only those books."),
    CatalogEntry("pocket-lm-sft", "pocket-lm", "4.2M", "sft",
                 "Bundled: pocket-lm after instruction tuning (SFT) on the project's small instruction set."),
    CatalogEntry("pocket-lm-dpo", "pocket-lm", "4.2M", "dpo",
                 "Bundled: pocket-lm-sft after preference tuning (DPO) on the project's small preference set."),
    CatalogEntry("openai-community/gpt2", "gpt2", "124M", "base", "OpenAI's GPT-2 small (2019), trained on WebText."),
    CatalogEntry("openai-community/gpt2-medium", "gpt2", "355M", "base", "GPT-2 medium."),
    CatalogEntry("distilbert/distilgpt2", "gpt2", "82M", "base", "A distilled GPT-2: smaller and faster."),
    CatalogEntry("HuggingFaceTB/SmolLM2-135M", "smollm2-135m", "135M", "base",
                 "A small modern base model trained on 2T tokens."),
    CatalogEntry("HuggingFaceTB/SmolLM2-135M-Instruct", "smollm2-135m", "135M", "instruct",
                 "SmolLM2-135M after SFT and DPO."),
    CatalogEntry("HuggingFaceTB/SmolLM2-360M", "smollm2-360m", "360M", "base", "SmolLM2 base, 360M parameters, 4T tokens."),
    CatalogEntry("HuggingFaceTB/SmolLM2-360M-Instruct", "smollm2-360m", "360M", "instruct",
                 "SmolLM2-360M after SFT and DPO."),
    CatalogEntry("Qwen/Qwen2.5-0.5B", "qwen2.5-0.5b", "0.5B", "base", "Qwen2.5 base model, 0.49B parameters."),
    CatalogEntry("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5-0.5b", "0.5B", "instruct", "Qwen2.5-0.5B, instruction-tuned."),
    CatalogEntry("allenai/OLMo-2-0425-1B", "olmo-2-1b", "1B", "base", "Fully open OLMo 2 1B base model."),
    CatalogEntry("allenai/OLMo-2-0425-1B-SFT", "olmo-2-1b", "1B", "sft", "OLMo 2 1B after SFT."),
    CatalogEntry("allenai/OLMo-2-0425-1B-DPO", "olmo-2-1b", "1B", "dpo", "OLMo 2 1B after SFT and DPO."),
    CatalogEntry("allenai/OLMo-2-0425-1B-Instruct", "olmo-2-1b", "1B", "instruct",
                 "OLMo 2 1B final instruct model (SFT, DPO, RLVR)."),
    CatalogEntry("openai:davinci-002", "openai", "?", "base", "OpenAI's davinci-002 base completion model (API)."),
    CatalogEntry("openai:gpt-4o-mini", "openai", "?", "instruct", "OpenAI's gpt-4o-mini chat model (API).",
                 label="Chat"),
)
CATALOG = tuple(e for e in ENTRIES if not e.id.startswith(API_PREFIX))  # the models this server can load itself
BY_ID = {entry.id: entry for entry in CATALOG}
DEFAULT_MODEL = "pocket-lm"


def entry_for(model_id: str) -> CatalogEntry:
    """Catalog entry, or a generic one for any other hub id or folder."""
    return BY_ID.get(model_id) or CatalogEntry(model_id, "custom", "?", "base", "A model named by the user.")


def locally_available(model_id: str) -> bool:
    if model_id in hub.BUNDLED:
        return (hub.BUNDLED[model_id] / "config.json").exists()
    return hub.cached_snapshot(model_id) is not None


def default_model() -> str:
    """The first catalogued hub base model already on disk (GPT-2 first), else the bundled pocket-lm."""
    for entry in CATALOG:
        if entry.stage == "base" and entry.id not in hub.BUNDLED and locally_available(entry.id):
            return entry.id
    return DEFAULT_MODEL


def stage_families() -> dict[str, Family]:
    """Each shown family with its checkpoints: the entries of that family, in catalog order."""
    return {f.key: replace(f, checkpoints=tuple(Checkpoint(e.id, e.stage, e.label or STAGE_LABELS[e.stage])
                                                for e in ENTRIES if e.family == f.key)) for f in SHOWN_FAMILIES}
