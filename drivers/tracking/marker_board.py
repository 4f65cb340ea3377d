"""The ArUco marker board a probe carries: its definition, geometry and a printable image.

A grid of `markers_x` x `markers_y` ArUco markers (side `marker_mm`, `gap_mm` of white between
them, ids from `first_id` row by row from the top left, as OpenCV's GridBoard numbers them) on a
white card with a `margin_mm` quiet zone. The board's frame (the "marker frame" of pivot
calibration): origin at the centre of the marker grid, x to the right and y up as the board is
printed and read, z out of the printed face (towards a camera that sees it), mm.

`reflectance(x_mm, y_mm)` is the printed pattern as a function of the board's plane (1 white,
0 black, NaN off the card): one source of truth for the printable image and the simulator's
rendered camera frames.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

MM_PER_INCH = 25.4
CHECK_BAR_MM = 50.0
MIN_GAP_FRACTION = 0.1  # white between markers: 10 % of a marker's side (see __post_init__)


class BoardError(ValueError):
    """A marker board that cannot be made or printed (one line, for the user)."""


def dictionary_names() -> tuple[str, ...]:
    """The names of OpenCV's predefined ArUco dictionaries (DICT_4X4_50, ...)."""
    return tuple(sorted(n for n in dir(cv2.aruco) if n.startswith("DICT_") and n.upper() == n))


@dataclass(frozen=True)
class MarkerBoard:
    """A grid board of ArUco markers (see the module's docstring for its frame)."""

    dictionary: str = "DICT_4X4_50"
    markers_x: int = 3
    markers_y: int = 2
    marker_mm: float = 10.0
    gap_mm: float = 2.0
    first_id: int = 0
    margin_mm: float = 3.0

    def __post_init__(self) -> None:
        if self.dictionary not in dictionary_names():
            raise BoardError(f"unknown ArUco dictionary {self.dictionary!r} "
                             "(e.g. DICT_4X4_50, DICT_5X5_100)")
        if not (1 <= self.markers_x <= 20 and 1 <= self.markers_y <= 20):
            raise BoardError(f"a board has 1-20 markers each way, got "
                             f"{self.markers_x}x{self.markers_y}")
        if self.markers_x * self.markers_y < 2:
            raise BoardError("a board needs at least 2 markers (one gives no reliable pose)")
        for name in ("marker_mm", "gap_mm", "margin_mm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= 1000):
                raise BoardError(f"{name} must be a number in (0, 1000] mm, got {value}")
        # The detector finds each marker as a closed dark contour: neighbours whose black borders
        # (almost) touch merge into one blob and are lost.
        if self.gap_mm < MIN_GAP_FRACTION * self.marker_mm:
            raise BoardError(f"gap_mm {self.gap_mm:g} is too small: at least "
                             f"{MIN_GAP_FRACTION:g} x marker_mm = "
                             f"{MIN_GAP_FRACTION * self.marker_mm:g} mm of white between markers")
        size = self.aruco_dictionary.bytesList.shape[0]
        if not (self.first_id >= 0 and self.first_id + self.n_markers <= size):
            raise BoardError(f"ids {self.first_id}-{self.first_id + self.n_markers - 1} do not "
                             f"fit {self.dictionary} (ids 0-{size - 1})")

    @property
    def n_markers(self) -> int:
        """How many markers the board holds."""
        return self.markers_x * self.markers_y

    @property
    def ids(self) -> tuple[int, ...]:
        """Marker ids, row by row from the top left."""
        return tuple(range(self.first_id, self.first_id + self.n_markers))

    @property
    def aruco_dictionary(self) -> cv2.aruco.Dictionary:
        """OpenCV's dictionary object."""
        return cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))

    @property
    def grid_mm(self) -> tuple[float, float]:
        """Width and height of the marker grid (without the margin)."""
        return (self.markers_x * self.marker_mm + (self.markers_x - 1) * self.gap_mm,
                self.markers_y * self.marker_mm + (self.markers_y - 1) * self.gap_mm)

    @property
    def card_mm(self) -> tuple[float, float]:
        """Width and height of the white card (grid plus margin all round)."""
        w, h = self.grid_mm
        return w + 2 * self.margin_mm, h + 2 * self.margin_mm

    def object_points(self) -> np.ndarray:
        """Corners of every marker in the board's frame, (n_markers, 4, 3) mm, in ArUco's order
        (top left, top right, bottom right, bottom left as the marker is read), ids order."""
        w, h = self.grid_mm
        pitch = self.marker_mm + self.gap_mm
        points = np.zeros((self.n_markers, 4, 3))
        for k in range(self.n_markers):
            row, col = divmod(k, self.markers_x)
            left, top = -w / 2 + col * pitch, h / 2 - row * pitch
            right, bottom = left + self.marker_mm, top - self.marker_mm
            points[k, :, :2] = [(left, top), (right, top), (right, bottom), (left, bottom)]
        return points

    @cached_property
    def _bits(self) -> np.ndarray:
        """Each marker's cells including its black border, (n_markers, c, c) bool (True white)."""
        cells = self.aruco_dictionary.markerSize + 2
        return np.stack([cv2.aruco.generateImageMarker(self.aruco_dictionary, i, cells,
                                                       borderBits=1) > 127
                         for i in self.ids])

    def reflectance(self, x_mm: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
        """The printed pattern at board points (any matching shapes): 1.0 white, 0.0 black,
        NaN off the card."""
        x, y = np.broadcast_arrays(np.asarray(x_mm, float), np.asarray(y_mm, float))
        w, h = self.grid_mm
        cw, ch = self.card_mm
        out = np.where((np.abs(x) <= cw / 2) & (np.abs(y) <= ch / 2), 1.0, np.nan)  # a copy
        pitch = self.marker_mm + self.gap_mm
        u, v = x + w / 2, h / 2 - y  # from the grid's top left, v downwards
        col, row = np.floor(u / pitch), np.floor(v / pitch)
        fu, fv = u - col * pitch, v - row * pitch  # within the pitch cell
        inside = ((col >= 0) & (col < self.markers_x) & (row >= 0) & (row < self.markers_y)
                  & (fu < self.marker_mm) & (fv < self.marker_mm))
        cells = self._bits.shape[1]
        k = (row * self.markers_x + col)[inside].astype(int)
        ci = np.minimum((fu[inside] / self.marker_mm * cells).astype(int), cells - 1)
        ri = np.minimum((fv[inside] / self.marker_mm * cells).astype(int), cells - 1)
        out[inside] = self._bits[k, ri, ci].astype(float)
        return out

    def describe(self) -> str:
        """One line naming the board, as printed on it."""
        return (f"{self.dictionary} {self.markers_x}x{self.markers_y} markers "
                f"{self.marker_mm:g} mm, gap {self.gap_mm:g} mm, ids {self.ids[0]}-{self.ids[-1]}")


def check_disjoint(first: MarkerBoard, second: MarkerBoard) -> None:
    """BoardError unless the two boards share no marker: a marker of one read as the other's
    would mix their poses. Markers are compared by their printed bits in all four turns (the
    same id of one dictionary, or of two dictionaries that share patterns: DICT_4X4_50 and
    DICT_4X4_100)."""
    if first.aruco_dictionary.markerSize != second.aruco_dictionary.markerSize:
        return  # different bit grids: one board's markers never decode as the other's
    theirs = {np.rot90(bits, turn).tobytes(): marker_id
              for marker_id, bits in zip(second.ids, second._bits, strict=True)
              for turn in range(4)}
    shared = [(marker_id, theirs[bits.tobytes()])
              for marker_id, bits in zip(first.ids, first._bits, strict=True)
              if bits.tobytes() in theirs]
    if shared:
        ids = ", ".join(str(a) if a == b else f"{a}={b}" for a, b in shared[:6])
        raise BoardError(f"the two boards share {len(shared)} marker(s) (ids {ids}"
                         f"{', ...' if len(shared) > 6 else ''}): ids {first.ids[0]}-"
                         f"{first.ids[-1]} and {second.ids[0]}-{second.ids[-1]} of "
                         f"{first.dictionary}/{second.dictionary} must not overlap")


def printable_image(board: MarkerBoard, dpi: float = 300.0,
                    title: str = "probe-nav marker board") -> np.ndarray:
    """The board to print at `dpi` (grey uint8): the card, a 50 mm check bar with 10 mm ticks
    under it and a legend that tells the technician to print at 100 % and measure the bar."""
    if not (math.isfinite(dpi) and 72 <= dpi <= 2400):
        raise BoardError(f"dpi must be 72-2400, got {dpi}")
    px_per_mm = dpi / MM_PER_INCH
    card_w, card_h = board.card_mm
    page_w_mm = max(card_w, CHECK_BAR_MM + 10.0, 95.0) + 10.0
    text_px = max(1, round(3.0 * px_per_mm))  # legend lines 3 mm apart
    legend_mm = 4 * 3.0 + 12.0  # check bar block and four lines of text
    page_h_mm = card_h + 10.0 + legend_mm
    width, height = round(page_w_mm * px_per_mm), round(page_h_mm * px_per_mm)
    # The card: every pixel's centre sampled from the pattern (edges within half a pixel).
    x0_mm, y0_mm = (page_w_mm - card_w) / 2, 5.0  # the card's top left on the page
    cols = (np.arange(width) + 0.5) / px_per_mm - x0_mm - card_w / 2
    rows = card_h / 2 - ((np.arange(height) + 0.5) / px_per_mm - y0_mm)
    pattern = board.reflectance(cols[None, :], rows[:, None])
    image = np.where(np.isnan(pattern), 255, np.where(pattern > 0.5, 255, 0)).astype(np.uint8)
    # The card's outline (thin grey, outside the quiet zone) to cut along.
    def px(v_mm: float) -> int:
        return round(v_mm * px_per_mm)
    cv2.rectangle(image, (px(x0_mm) - 1, px(y0_mm) - 1),
                  (px(x0_mm + card_w), px(y0_mm + card_h)), 160, 1)
    bar_y = y0_mm + card_h + 6.0
    bar_x = (page_w_mm - CHECK_BAR_MM) / 2
    cv2.rectangle(image, (px(bar_x), px(bar_y)), (px(bar_x + CHECK_BAR_MM) - 1, px(bar_y + 1.0)),
                  0, -1)
    for tick in range(0, int(CHECK_BAR_MM) + 1, 10):
        cv2.rectangle(image, (px(bar_x + tick) - 1, px(bar_y - 2.0)),
                      (px(bar_x + tick), px(bar_y + 1.0)), 0, -1)
    lines = [f"the bar above must measure 50 mm: print at 100 %, {dpi:g} dpi",
             board.describe(),
             f"card {card_w:g} x {card_h:g} mm; pose frame: centre, x right, y up, z out",
             title]
    font = cv2.FONT_HERSHEY_SIMPLEX
    (_, one_px), _ = cv2.getTextSize("M", font, 1.0, 1)
    scale = 2.0 * px_per_mm / one_px  # capitals 2 mm high ...
    widest = max(cv2.getTextSize(t, font, scale, 1)[0][0] for t in lines)
    scale *= min(1.0, (width - px(10.0)) / widest)  # ... unless the page is narrower
    for i, text in enumerate(lines):
        cv2.putText(image, text, (px(5.0), px(bar_y + 7.0) + i * text_px), font, scale, 0,
                    max(1, round(0.2 * px_per_mm)), cv2.LINE_AA)
    return image


def png_bytes(image: np.ndarray, dpi: float) -> bytes:
    """`image` as PNG with its physical resolution recorded (pHYs chunk), so that printing
    software prints it at true scale."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise BoardError("could not encode the board as PNG")
    data = encoded.tobytes()
    ppm = round(dpi / MM_PER_INCH * 1000.0)
    body = b"pHYs" + struct.pack(">IIB", ppm, ppm, 1)
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return data[:ihdr_end] + chunk + data[ihdr_end:]
