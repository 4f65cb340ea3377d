"""How the report tests look at a PDF: its text per page (pypdf), its pages as PNG images
(pdftoppm) and the box of every word (pdftotext -bbox), then checks a reader would make by eye:
headers and "page N of M" on every page, nothing elided, no text past the margins or over other
text, every word dark enough to read. Without poppler-utils the image checks are skipped (they
fail under CI=true, where .ci/system-packages installs it)."""

from __future__ import annotations

import html
import itertools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from probe_nav.report import layout

PT_PER_MM = 72 / 25.4


def require(tool: str) -> str:
    """The path of a poppler tool; skip the test without it (fail under CI=true)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} not found: install poppler-utils (.ci/system-packages)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def page_texts(pdf: Path) -> list[str]:
    """Each page's text with runs of whitespace as single spaces."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(str(pdf)).pages]


def flat(text: str) -> str:
    """Text without any whitespace or invisible break opportunities: a string wrapped over
    lines or cells is still found whole in it."""
    return "".join(text.replace(layout.ZWSP, "").split())


def render_pngs(pdf: Path, out_dir: Path, dpi: int) -> list[Path]:
    """Every page as a PNG at this resolution (pdftoppm), in page order."""
    tool = require("pdftoppm")
    prefix = out_dir / pdf.stem
    subprocess.run([tool, "-png", "-r", str(dpi), str(pdf), str(prefix)], check=True,
                   capture_output=True, timeout=120)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"), key=lambda p: int(p.stem.rsplit("-")[-1]))


def grey(png: Path) -> np.ndarray:
    """The image as 8-bit grey levels (0 black, 255 white), rows by columns."""
    from PySide6.QtGui import QImage

    image = QImage(str(png)).convertToFormat(QImage.Format.Format_Grayscale8)
    assert not image.isNull(), png
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(),
                                                               image.bytesPerLine())
    return data[:, :image.width()].copy()


@dataclass(frozen=True)
class Word:
    """A word on a page and its box in points from the top left."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Page:
    """A page's size in points and its words."""

    width: float
    height: float
    words: list[Word]


_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', re.S)
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                   r"(.*?)</word>", re.S)


def word_pages(pdf: Path) -> list[Page]:
    """The words of every page with their boxes (pdftotext -bbox)."""
    tool = require("pdftotext")
    out = subprocess.run([tool, "-bbox", str(pdf), "-"], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    return [Page(float(w), float(h), [Word(html.unescape(t), float(a), float(b), float(c),
                                           float(d)) for a, b, c, d, t in _WORD.findall(body)])
            for w, h, body in _PAGE.findall(out)]


def outside_margins(page: Page, slack_pt: float = 0.5) -> list[Word]:
    """Words that reach into the left or right margin."""
    left = layout.MARGIN_MM * PT_PER_MM - slack_pt
    right = page.width - layout.MARGIN_MM * PT_PER_MM + slack_pt
    return [w for w in page.words if w.x0 < left or w.x1 > right]


def overlapping(page: Page, fraction: float = 0.25) -> list[tuple[Word, Word]]:
    """Pairs of words whose boxes share more than `fraction` of the smaller one's area."""
    out = []
    for a, b in itertools.combinations(page.words, 2):
        dx = min(a.x1, b.x1) - max(a.x0, b.x0)
        dy = min(a.y1, b.y1) - max(a.y0, b.y0)
        if dx <= 0 or dy <= 0:
            continue
        smaller = min((a.x1 - a.x0) * (a.y1 - a.y0), (b.x1 - b.x0) * (b.y1 - b.y0))
        if dx * dy > fraction * smaller:
            out.append((a, b))
    return out


def darkest(image: np.ndarray, page: Page, word: Word) -> int:
    """The darkest grey level inside a word's box on the page's image."""
    sx, sy = image.shape[1] / page.width, image.shape[0] / page.height
    crop = image[int(word.y0 * sy):int(np.ceil(word.y1 * sy)) + 1,
                 int(word.x0 * sx):int(np.ceil(word.x1 * sx)) + 1]
    return int(crop.min()) if crop.size else 255


def margin_strips(image: np.ndarray, inset_mm: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The left and right margins of a page image, `inset_mm` clear of the text column."""
    px_per_mm = image.shape[1] / layout.PAGE_MM[0]
    edge = int((layout.MARGIN_MM - inset_mm) * px_per_mm)
    return image[:, :edge], image[:, image.shape[1] - edge:]


def rgb(png: Path) -> np.ndarray:
    """The image as 8-bit RGB, rows by columns by 3."""
    from PySide6.QtGui import QImage

    image = QImage(str(png)).convertToFormat(QImage.Format.Format_RGB888)
    assert not image.isNull(), png
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(),
                                                               image.bytesPerLine())
    return data[:, :3 * image.width()].reshape(image.height(), image.width(), 3).copy()


def colour_runs(band: np.ndarray, colour: str, min_px: int, tolerance: int = 24) -> int:
    """How many runs of at least min_px rows of this colour ('#rrggbb') across the whole width
    of a narrow vertical band of RGB pixels (rows by columns by 3): the bars a vertical line
    through a bar chart crosses. A band a few pixels wide is not fooled by a table's rule."""
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    match = np.all(np.abs(band.astype(int) - target) <= tolerance, axis=(1, 2))
    edges = np.diff(np.concatenate([[0], match.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int(np.sum(ends - starts >= min_px))
