"""SmolLM2-135M-Instruct (4-bit, from the package registry) works offline on every page with a model picker."""

import pytest

from tests.app.apptest import open_page
from tests.unit.test_registry_models import need_smollm2

MODEL = "SmolLM2-135M-Instruct-Q4_1"


@pytest.mark.parametrize("page", ["pages/next-token.py", "pages/sampling.py", "pages/inside.py", "pages/game.py"])
def test_the_page_runs_with_the_registry_model(page):
    need_smollm2()
    at = open_page(page, model=MODEL, prompt="The capital of France is")
    assert not at.exception and not at.error and not at.warning  # no fallback to the bundled model
    assert at.query_params["model"] in (MODEL, [MODEL])
