"""components.html: user text shown as text in markdown, as one clean line in messages, escaped for Plotly."""

from __future__ import annotations

import html

import markdown_it  # CommonMark reference parser (shipped with rich); GFM autolinks are checked in the browser

from components.html import WORD_JOINER, escape_markdown, plotly_text, error_line

PAYLOADS = ["[click](http://evil.example/)", "**bold** _it_ `code`", "# heading", "<b>x</b> &amp;", "$x^2$",
            ":red[x] :material/home:", "1. list", "> quote", "| a | b |", "![img](x.png)", "\\*not\\*"]


def test_markdown_renders_user_text_exactly_as_typed():
    parser = markdown_it.MarkdownIt("commonmark")
    for text in PAYLOADS:
        rendered = parser.renderInline(escape_markdown(text))
        assert html.unescape(rendered).replace(WORD_JOINER, "") == text, (text, rendered)


def test_autolink_literals_are_broken_by_an_invisible_joiner():
    out = escape_markdown("see http://evil.example, www.evil.example and me@evil.example")
    assert "http://" not in out.replace("\\", "") and "www." not in out.replace("\\", "")
    assert "@evil" not in out.replace("\\", "")


def test_problem_is_one_line_without_server_paths():
    exc = OSError("[Errno 36] File name too long: '/work/app/.cache/huggingface/hub/models--x'\nTraceback (most…")
    line = error_line(exc)
    assert "\n" not in line and "/work/app" not in line and "huggingface" not in line and "Traceback" not in line


def test_plotly_text_escapes_markup():
    assert plotly_text('<a href="javascript:alert(1)">x</a>') == '&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;'
