"""Reproducible corpus preparation for the bundled pocket model.

Reads every .txt file in a folder, strips Project Gutenberg boilerplate,
BOMs, CRLF line endings and tables of contents, unwraps hard-wrapped
paragraphs, and splits each book into chapters. Whole chapters are held out
for validation (every `holdout_every`-th chapter of each book).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "assets" / "corpora" / "novels"

_START = re.compile(r"^\*\*\*\s*START OF (THE|THIS) PROJECT GUTENBERG.*$", re.M | re.I)
_END = re.compile(r"^(\*\*\*\s*END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg).*$", re.M | re.I)
_BOILERPLATE_LINE = re.compile(r"gutenberg|^\s*\[illustration[^\]]*\]\s*$|^\s*produced by|^\s*e-?text prepared by|www\.|http", re.I)
_CHAPTER = re.compile(r"^\s*(CHAPTER|Chapter|BOOK|VOLUME|PART|Letter|LETTER)\b[^\n]{0,60}$|^\s*[IVXLC]+\.?\s*$", re.M)
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": "--", "–": "-", "_": ""})


@dataclass(frozen=True)
class Corpus:
    train: str
    valid: str
    books: tuple[str, ...]
    n_chapters_train: int
    n_chapters_valid: int


def strip_boilerplate(raw: str) -> str:
    """Remove BOM, CRLF, Gutenberg header/footer and licence lines."""
    text = raw.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    start = _START.search(text)
    if start:
        text = text[start.end():]
    end = _END.search(text)
    if end:
        text = text[: end.start()]
    return "\n".join(line for line in text.split("\n") if not _BOILERPLATE_LINE.search(line))


def _is_prose(paragraph: str) -> bool:
    lines = [l for l in paragraph.split("\n") if l.strip()]
    if not lines or sum(c.isupper() for c in paragraph) > 0.3 * sum(c.isalpha() for c in paragraph):
        return False
    long_lines = sum(len(l.strip()) > 50 for l in lines)
    return len(lines[0]) > 200 or (len(lines) >= 2 and long_lines >= 0.6 * len(lines))


def drop_front_matter(text: str) -> str:
    """Drop title pages and tables of contents: everything before the first prose paragraph
    that follows a chapter heading (or the first prose paragraph, when there are no headings)."""
    paragraphs = text.split("\n\n")
    for i, para in enumerate(paragraphs):
        if _is_prose(para.strip("\n")):
            # keep the heading just before the prose, if any
            j = i - 1 if i > 0 and _CHAPTER.match(paragraphs[i - 1].strip()) else i
            return "\n\n".join(paragraphs[j:])
    return text


def unwrap(text: str) -> list[str]:
    """Join hard-wrapped lines into one line per paragraph; drop empty paragraphs."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        joined = " ".join(line.strip() for line in para.split("\n") if line.strip())
        joined = re.sub(r"\s+", " ", joined.translate(_QUOTES)).strip()
        if joined:
            out.append(joined)
    return out


def split_chapters(paragraphs: list[str], fallback_chunks: int = 30) -> list[list[str]]:
    """Group paragraphs into chapters at heading lines; books without headings get equal chunks."""
    chapters: list[list[str]] = [[]]
    for para in paragraphs:
        if _CHAPTER.match(para) and chapters[-1]:
            chapters.append([])
        chapters[-1].append(para)
    if len(chapters) < 10:
        size = max(1, len(paragraphs) // fallback_chunks)
        chapters = [paragraphs[i : i + size] for i in range(0, len(paragraphs), size)]
    return [c for c in chapters if c]


def clean_book(raw: str) -> list[list[str]]:
    return split_chapters(unwrap(drop_front_matter(strip_boilerplate(raw))))


def prepare(folder: Path = DEFAULT_CORPUS, holdout_every: int = 12, holdout_offset: int = 5) -> Corpus:
    """Clean every book in `folder` and split whole chapters into train and validation text."""
    files = sorted(Path(folder).glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no .txt files in {folder}")
    train: list[str] = []
    valid: list[str] = []
    for path in files:
        for idx, chapter in enumerate(clean_book(path.read_text(encoding="utf-8", errors="replace"))):
            (valid if idx % holdout_every == holdout_offset else train).append("\n\n".join(chapter))
    return Corpus(
        train="\n\n".join(train),
        valid="\n\n".join(valid),
        books=tuple(p.name for p in files),
        n_chapters_train=len(train),
        n_chapters_valid=len(valid),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Clean a folder of books into train/valid text.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=Path("build/corpus"))
    args = parser.parse_args()
    corpus = prepare(args.corpus)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train.txt").write_text(corpus.train, encoding="utf-8")
    (args.out / "valid.txt").write_text(corpus.valid, encoding="utf-8")
    print(f"{len(corpus.books)} books, {corpus.n_chapters_train} train / {corpus.n_chapters_valid} valid chapters, "
          f"{len(corpus.train):,} / {len(corpus.valid):,} characters")


if __name__ == "__main__":
    main()
