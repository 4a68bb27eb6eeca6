"""A knob is one row of lib/sampling/knobs.py: every page that samples moves temperature over that row's range in
its steps (without its greedy 0 where the page shows greedy apart), and a link's value outside it is clamped."""

import pytest

from lib.sampling.knobs import BY_NAME
from tests.app.apptest import open_page
from tests.conftest import need_shared

ROW = BY_NAME["temperature"].slider  # the table itself is the oracle: (0.0, 3.0, 0.05) today


@pytest.mark.parametrize("page,key,query", [("pages/next-token.py", "nt_temp", {"mode": "sample"}),
                                            ("pages/training-stages.py", "ts_temp", {})])
def test_sampling_pages_take_the_knob_tables_temperature_range(page, key, query):
    need_shared()
    at = open_page(page, temperature="99", **query)
    slider = at.slider(key=key)
    assert (slider.min, slider.max, slider.step) == (ROW.step, ROW.hi, ROW.step)
    assert slider.value == ROW.hi  # a link past the end is clamped to it
