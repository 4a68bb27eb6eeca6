from tests.app.apptest import open_page


def run_page(**query):
    return open_page("pages/inside.py", **query)


def chart_titles(at):
    import json
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_lens_view_by_default():
    at = run_page(prompt="She opened the door and")
    titles = chart_titles(at)
    assert any("layer by layer" in t for t in titles)
    assert any("if the model stopped" in t for t in titles)


def test_deep_link_opens_one_attention_head():
    at = run_page(prompt="She opened the door and", view="attention", layer="3", head="2", pattern="first")
    assert at.slider(key="ins_layer").value == 3 and at.slider(key="ins_head").value == 2
    assert any("Layer 3, head 2" in t for t in chart_titles(at))
    assert any("first token" in t for t in chart_titles(at))


def test_out_of_range_head_is_clamped_and_jump_button_moves():
    at = run_page(prompt="a b a b a b", view="attention", layer="99", head="-4")
    assert at.slider(key="ins_layer").value == at.slider(key="ins_layer").max
    assert at.slider(key="ins_head").value == 1
    jump = [b for b in at.button if b.key and b.key.startswith("ins_jump_")][0]
    _, _, li, hi = jump.key.split("_")
    jump.click().run()
    assert not at.exception
    assert at.slider(key="ins_layer").value == int(li) + 1 and at.slider(key="ins_head").value == int(hi) + 1


def test_empty_prompt_asks_for_text():
    at = run_page(prompt="  ")
    assert any("Type a prompt" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_long_prompt_and_odd_characters():
    at = run_page(prompt="héllo 🙂 你好 \x00 <b>x</b> " * 60)
    assert any("only its last" in w.value or "were cut" in w.value for w in at.warning)
    assert at.get("plotly_chart")


def test_token_text_is_escaped_in_charts():
    at = run_page(prompt="<b>bold</b> <a href=x>link</a>", view="lens")
    import json
    import re

    text = " ".join(json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart"))
    assert "<br>" in text  # the lens cells' own line breaks
    foreign = re.findall(r"<(?!br>|extra>|/extra>).{0,8}", text)
    assert not foreign, foreign  # only the charts' own markup; a token's "<" arrives as &lt;
