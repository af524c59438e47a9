"""Tiny scatter plots as PNG, drawn with numpy and written with zlib: the evaluation report needs
two pictures, not a plotting library in the image."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_SIZE = 400
_MARGIN = 30
_BACKGROUND = (255, 255, 255)
_AXES = (120, 120, 120)
_GUIDE = (220, 60, 60)
_POINT = (30, 90, 200)


def _png_bytes(pixels: np.ndarray) -> bytes:
    height, width, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _scale(values: np.ndarray, low: float, high: float) -> np.ndarray:
    span = (high - low) or 1.0
    return _MARGIN + (values - low) / span * (_SIZE - 2 * _MARGIN)


def scatter_png(x: np.ndarray, y: np.ndarray, path: Path, *, guide: str) -> dict[str, float]:
    """Plot y against x with a guide line ('diagonal' y = x, or 'zero' y = 0); return the ranges."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if guide == "diagonal":
        low = float(min(x.min(), y.min()))
        high = float(max(x.max(), y.max()))
        x_range = y_range = (low, high)
    else:
        bound = float(np.abs(y).max()) or 1.0
        x_range, y_range = (float(x.min()), float(x.max())), (-bound, bound)
    pixels = np.full((_SIZE, _SIZE, 3), _BACKGROUND, dtype=np.uint8)
    pixels[_SIZE - _MARGIN, _MARGIN : _SIZE - _MARGIN] = _AXES
    pixels[_MARGIN : _SIZE - _MARGIN, _MARGIN] = _AXES
    line = np.linspace(*x_range, num=_SIZE)
    guide_y = line if guide == "diagonal" else np.zeros_like(line)
    _draw(pixels, _scale(line, *x_range), _scale(guide_y, *y_range), _GUIDE, radius=0)
    _draw(pixels, _scale(x, *x_range), _scale(y, *y_range), _POINT, radius=1)
    path.write_bytes(_png_bytes(pixels))
    return {"x_min": x_range[0], "x_max": x_range[1], "y_min": y_range[0], "y_max": y_range[1]}


def _draw(
    pixels: np.ndarray, px: np.ndarray, py: np.ndarray, color: tuple[int, int, int], *, radius: int
) -> None:
    columns = np.clip(np.round(px).astype(int), 0, _SIZE - 1)
    rows = np.clip(_SIZE - 1 - np.round(py).astype(int), 0, _SIZE - 1)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            pixels[np.clip(rows + dy, 0, _SIZE - 1), np.clip(columns + dx, 0, _SIZE - 1)] = color
