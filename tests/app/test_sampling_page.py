from tests.app.apptest import open_page
from tests.conftest import need_shared


def run_page(**query):
    return open_page("pages/sampling.py", **query)


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_top_k_from_the_url_keeps_exactly_k_tokens():
    need_shared()
    at = run_page(prompt="She opened the door and", top_k="3")
    assert metric(at, "Tokens kept") == "3"
    assert at.session_state["sk_top_k_on"] is True


def test_moving_temperature_changes_entropy_and_the_url():
    at = run_page(prompt="She opened the door and")
    hot = metric(at, "Entropy (nats)")
    at.session_state["sk_temperature"] = 0.3  # what a released knob stores (the browser path: tests/e2e/test_knob_panel.py)
    at.run()
    assert not at.exception
    assert float(metric(at, "Entropy (nats)")) < float(hot)
    assert at.query_params["temperature"] == ["0.3"] or at.query_params["temperature"] == "0.3"


def test_temperature_zero_is_greedy():
    at = run_page(prompt="She opened the door and", temperature="0.0")
    assert metric(at, "Tokens kept") == "1"


def test_bad_url_values_fall_back_instead_of_crashing():
    at = run_page(prompt="Hello", top_p="banana", temperature="-5")
    assert not at.exception


def test_three_continuations():
    at = run_page(prompt="She opened the door and", temperature="0.9")
    at.button(key="sk_generate").click().run()
    assert not at.exception
    assert len(at.text) == 3 and len({t.value for t in at.text}) >= 2


def test_empty_prompt():
    at = run_page(prompt="")
    assert any("Type a prompt" in i.value for i in at.info)


def test_the_panel_has_one_control_per_row_of_the_knob_table():
    """Every knob switched on from the URL: the knob panel gets one slider per row, each switched on, every knob in
    the order line in generate()'s order, each explained, and each written back to the URL."""
    import json

    from lib.sampling.knobs import KNOBS, LABELS, ORDER

    on = {row.name: str(0.7 if row.slider.on is None else row.slider.on) for row in KNOBS}
    at = run_page(prompt="She opened the door and", **on)
    [panel] = at.get("bidi_component")
    rows = json.loads(panel.proto.json)["knobs"]
    assert [r["name"] for r in rows] == [row.name for row in KNOBS]
    assert all(r["enabled"] and float(r["value"]) == float(on[r["name"]]) for r in rows)
    order_line = next(m.value for m in at.markdown if m.value.startswith("**Order applied"))
    positions = [order_line.index(f"{LABELS[name]} (") for name in ORDER]
    assert positions == sorted(positions)
    assert all(any(m.value.startswith(f"**{row.label}.**") for m in at.markdown) for row in KNOBS)
    assert {name: at.query_params[name] for name in on} in (on, {n: [v] for n, v in on.items()})
