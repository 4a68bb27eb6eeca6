"""Every page of the app, once: the router, the home page, the lecture and the tests read this table.

A new page is its file under pages/ plus one row here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageRow:
    file: str              # the page script, relative to the app root
    title: str             # sidebar title; the home page's link text starts with it
    icon: str
    url_path: str          # the page's URL (/tokenizer); "" for the default page, served at /
    blurb: str = ""        # the home page links "<title>: <blurb>"; every page but the home page has one
    presented: bool = True  # has a body to check in presentation mode (tests/e2e/test_layouts.py)
    default: bool = False  # the page at /

    @property
    def home_label(self) -> str:
        return f"{self.title}: {self.blurb}"


PAGES: tuple[PageRow, ...] = (
    PageRow("pages/lecture.py", "Lecture", "🎤", "lecture",
            "both seed lectures step by step (← → keys, ?present=1 for a projector)"),
    PageRow("pages/home.py", "Overview", "🏠", "", default=True),
    PageRow("pages/tokenizer.py", "Tokenizer", "🔤", "tokenizer", "text becomes tokens"),
    PageRow("pages/next-token.py", "Next-token distribution", "📊", "next-token",
            "every token gets a probability"),
    PageRow("pages/sampling.py", "Sampling knobs", "🎛️", "sampling", "temperature, top-k, top-p, min-p"),
    PageRow("pages/training-stages.py", "Training stages", "🎓", "training-stages",
            "pretrained vs instruction- and preference-tuned"),
    PageRow("pages/model-scale.py", "Model scale", "📏", "model-scale", "BERT, GPT-2, GPT-3 and beyond"),
    PageRow("pages/inside.py", "Inside the model", "🔬", "inside", "what each layer predicts, and where attention goes"),
    PageRow("pages/game.py", "Guessing game (lecturer)", "🎯", "game", "the class guesses the next word, beside the model"),
    PageRow("pages/play.py", "Guessing game (play)", "✋", "play", "join a round from your phone",
            presented=False),  # the students' phone form
)
BY_URL = {row.url_path: row for row in PAGES}
ON_HOME = tuple(row for row in PAGES if not row.default)  # the home page links every other page
