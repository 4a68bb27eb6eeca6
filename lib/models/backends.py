"""Open any model by reference: a bundled name, a hub id, a folder, or an API model ("openai:<model>")."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from lib.models import hub
from lib.models.catalog import API_PREFIX
from lib.models.next_token import HFCausalLM, NextTokenModel


def open_model(ref: str, progress: Callable[[float, str], None] | None = None,
               api: Mapping[str, Any] | None = None) -> NextTokenModel:
    """The model `ref` names.

    With `api` (OpenAIBackend's settings: api_key, base_url, endpoint, ...), an API model for one session; its
    key must stay in that session, so it is never shared. Without, a local transformers model named and cached
    by its canonical reference; hub.ModelUnavailable says why one can't be loaded here (hosted mode included).
    """
    if api is not None:
        from lib.models.openai_backend import OpenAIBackend

        return OpenAIBackend(ref.removeprefix(API_PREFIX), **api)
    return HFCausalLM.load(hub.canonical(ref), progress)
