"""The token-shift view on the Training-stages page, in AppTest (bundled pocket-lm family, offline)."""


from tests.app.apptest import open_page

PROMPT = "Write a short letter to your sister about the weather."


def test_answer_is_labelled_with_counts_and_a_marker():
    at = open_page("pages/training-stages.py", timeout=240, prompt=PROMPT, tokens="2", complete="1")
    assert any("Which tokens did alignment change" in h.value for h in at.header)
    metrics = {m.label: m.value for m in at.metric}
    counts = [int(metrics[k].split(" of ")[0]) for k in ("Unshifted", "Marginal", "Shifted")]
    n = int(metrics["Unshifted"].split(" of ")[1])
    assert sum(counts) == n
    assert metrics["Shifted ratio"] == f"{counts[2] / n:.0%}"
    chips = [m.value for m in at.markdown if 'class="llmx-shift"' in m.value and "title=" in m.value]
    assert len(chips) == 1 and chips[0].count("<span") == n
    assert at.segmented_control(key="ts_shift_model").value == "pocket-lm-dpo"


def test_deep_link_picks_the_sft_checkpoint_and_escapes_html():
    at = open_page("pages/training-stages.py", timeout=240, prompt="<b>bold</b> & <script>", shift_model="pocket-lm-sft",
                   tokens="2", complete="1")
    assert at.segmented_control(key="ts_shift_model").value == "pocket-lm-sft"
    for m in at.markdown:
        assert "<script>" not in m.value and "<b>bold" not in m.value
