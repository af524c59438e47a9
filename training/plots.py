"""The evaluation report's two plots, drawn with matplotlib: predicted vs actual rings, and the
residuals; the challenger and the incumbent on the same axes when both were scored.

Training side only: the server never imports this module (matplotlib stays out of serving).
The Agg backend is set before pyplot is imported, so no display is ever looked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after the backend is chosen
import numpy as np

FIGURE_SIZE: Final = (6.4, 4.8)
DPI: Final = 100
#: Challenger first (drawn on top), then the incumbent.
COLORS: Final = ("tab:blue", "tab:orange")
MARKERS: Final = ("o", "s")


@dataclass(frozen=True)
class Series:
    """One model's predictions on the test rows."""

    label: str
    actual: np.ndarray
    predicted: np.ndarray


def predicted_vs_actual_png(series: Sequence[Series], path: Path) -> Path:
    """Scatter predicted against actual rings, with the perfect-prediction diagonal."""
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    try:
        values = np.concatenate([np.r_[s.actual, s.predicted] for s in series])
        low, high = float(values.min()), float(values.max())
        pad = (high - low) * 0.03 or 1.0
        line = (low - pad, high + pad)
        axes.plot(line, line, color="tab:red", linewidth=1, label="perfect prediction")
        _scatter(axes, series, lambda s: (s.actual, s.predicted))
        axes.set_xlim(line)
        axes.set_ylim(line)
        axes.set_xlabel("actual rings")
        axes.set_ylabel("predicted rings")
        axes.set_title(f"Predicted vs actual rings ({len(series[0].actual)} test rows)")
        return _save(figure, axes, path)
    finally:
        plt.close(figure)


def residuals_png(series: Sequence[Series], path: Path) -> Path:
    """Scatter the error (predicted - actual) against the prediction, with the zero line."""
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    try:
        axes.axhline(0.0, color="tab:red", linewidth=1, label="zero error")
        _scatter(axes, series, lambda s: (s.predicted, s.predicted - s.actual))
        bound = max(float(np.abs(s.predicted - s.actual).max()) for s in series) * 1.05 or 1.0
        axes.set_ylim(-bound, bound)
        axes.set_xlabel("predicted rings")
        axes.set_ylabel("predicted - actual rings")
        axes.set_title("Residuals on the test rows")
        return _save(figure, axes, path)
    finally:
        plt.close(figure)


def _scatter(axes, series: Sequence[Series], xy) -> None:
    # The incumbent first so the challenger's points lie on top of it.
    for index in reversed(range(len(series))):
        x, y = xy(series[index])
        axes.scatter(
            x,
            y,
            s=14,
            alpha=0.6,
            color=COLORS[index % len(COLORS)],
            marker=MARKERS[index % len(MARKERS)],
            label=series[index].label,
        )


def _save(figure, axes, path: Path) -> Path:
    axes.grid(True, linewidth=0.5, alpha=0.4)
    axes.legend(loc="best")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=DPI)
    return path
