"""Screenshot comparison that tolerates font antialiasing but not a broken layout."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops

# Compared at half size in grey: antialiasing differences mostly average out.
SCALE = 0.5
PIXEL_THRESHOLD = 64  # of 255: a pixel differs when its grey level moved more than this
MAX_DIFFERENT_RATIO = 0.03
MAX_SIZE_DELTA = 6  # pixels: more than this in either dimension is a layout change, not antialiasing


@dataclass(frozen=True)
class Difference:
    """How far a screenshot is from its baseline."""

    size: tuple[int, int]
    baseline_size: tuple[int, int]
    ratio: float

    @property
    def same_layout(self) -> bool:
        return all(abs(a - b) <= MAX_SIZE_DELTA for a, b in zip(self.size, self.baseline_size, strict=True))

    @property
    def within_tolerance(self) -> bool:
        return self.same_layout and self.ratio <= MAX_DIFFERENT_RATIO


def _grey(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS).convert("L")


def compare(actual_png: bytes, baseline: Path | Image.Image) -> Difference:
    """The share of pixels that differ noticeably, after scaling both images to the baseline's half size."""
    actual = Image.open(io.BytesIO(actual_png))
    expected = baseline if isinstance(baseline, Image.Image) else Image.open(baseline)
    size = (max(1, int(expected.width * SCALE)), max(1, int(expected.height * SCALE)))
    delta = ImageChops.difference(_grey(actual, size), _grey(expected, size))
    histogram = delta.histogram()
    different = sum(histogram[PIXEL_THRESHOLD + 1 :])
    return Difference(actual.size, expected.size, different / (size[0] * size[1]))
