"""The drift report's plots, drawn with matplotlib: per numeric feature (and for the predictions)
the baseline's and the window's distributions on the same axes; for sex, the category shares.

Monitor job only: the server never imports monitoring/. The Agg backend is set before pyplot is
imported, so no display is ever looked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after the backend is chosen
import numpy as np

FIGURE_SIZE: Final = (6.4, 4.0)
DPI: Final = 90
BASELINE_COLOR: Final = "tab:blue"
CURRENT_COLOR: Final = "tab:orange"


def numeric_png(
    name: str, stats: Mapping[str, Any], baseline: Mapping[str, Any], path: Path
) -> Path:
    """Baseline and window as densities over one grid (monitoring.drift.window_histogram)."""
    edges = np.asarray(stats["window_histogram"]["edges"], dtype=np.float64)
    counts = np.asarray(stats["window_histogram"]["counts"], dtype=np.float64)
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.stairs(
        _baseline_density(baseline, edges),
        edges,
        fill=True,
        alpha=0.35,
        color=BASELINE_COLOR,
        label=f"baseline (training split, n={baseline['count']})",
    )
    axes.stairs(
        counts / max(counts.sum(), 1) / np.diff(edges),
        edges,
        linewidth=2,
        color=CURRENT_COLOR,
        label=f"window (n={int(counts.sum())})",
    )
    axes.set_xlabel(name)
    axes.set_ylabel("density")
    axes.set_title(f"{name}: PSI {stats['psi']:.3f}, KS {stats['ks']:.3f}")
    return _save(figure, axes, path)


def categorical_png(name: str, stats: Mapping[str, Any], path: Path) -> Path:
    categories = list(stats["baseline_frequencies"])
    x = np.arange(len(categories))
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.bar(
        x - 0.2,
        [stats["baseline_frequencies"][c] for c in categories],
        0.4,
        color=BASELINE_COLOR,
        label="baseline (training split)",
    )
    axes.bar(
        x + 0.2,
        [stats["frequencies"][c] for c in categories],
        0.4,
        color=CURRENT_COLOR,
        label=f"window (n={stats['rows']})",
    )
    axes.set_xticks(x, categories)
    axes.set_xlabel(name)
    axes.set_ylabel("share of rows")
    axes.set_title(f"{name}: PSI {stats['psi']:.3f}")
    return _save(figure, axes, path)


def _baseline_density(baseline: Mapping[str, Any], edges: np.ndarray) -> np.ndarray:
    """The baseline histogram on `edges`: its own bins extended, so each lands in one bin (on
    an evenly spaced grid, by its centre)."""
    centres = np.asarray(baseline["histogram"]["edges"], dtype=np.float64)
    centres = (centres[:-1] + centres[1:]) / 2
    counts, _ = np.histogram(centres, bins=edges, weights=baseline["histogram"]["counts"])
    return counts / max(counts.sum(), 1) / np.diff(edges)


def _save(figure: Any, axes: Any, path: Path) -> Path:
    axes.grid(True, linewidth=0.5, alpha=0.4)
    axes.legend(loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
