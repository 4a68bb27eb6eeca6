"""The lecture's Hitchcock step on an offline install: SmolLM2-135M-Instruct (4-bit, from the package registry)."""

import json

from tests.app.apptest import open_page
from tests.unit.test_registry_models import need_smollm2


def test_hitchcock_step_shows_smollm2_with_hitch_on_top():
    need_smollm2()
    at = open_page("pages/lecture.py", step="hitchcock")
    assert not at.exception and not at.error
    assert "SmolLM2-135M-Instruct-Q4_1" in " ".join(c.value for c in at.caption)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = spec["data"][0]
    assert spec["layout"]["title"]["text"].startswith("SmolLM2-135M-Instruct-Q4_1")  # the chart names its model
    assert bars["y"][0].endswith("␣Hitch")  # the first token of " Hitchcock" leads
