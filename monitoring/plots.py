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
    """Baseline and window as densities over one set of bins covering both."""
    edges = _common_edges(baseline, stats["current"])
    figure, axes = plt.subplots(figsize=FIGURE_SIZE)
    axes.stairs(
        _baseline_density(baseline, edges),
        edges,
        fill=True,
        alpha=0.35,
        color=BASELINE_COLOR,
        label=f"baseline (training split, n={baseline['count']})",
    )
    current = stats["current"]
    if current["count"]:
        axes.stairs(
            _density(current, edges),
            edges,
            linewidth=2,
            color=CURRENT_COLOR,
            label=f"window (n={current['count']})",
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


def _common_edges(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> np.ndarray:
    """The baseline's histogram bins, extended at the same width to cover the window's range."""
    edges = np.asarray(baseline["histogram"]["edges"], dtype=np.float64)
    width = (edges[-1] - edges[0]) / (len(edges) - 1) or 1.0
    low = min(edges[0], current.get("min", edges[0]))
    high = max(edges[-1], current.get("max", edges[-1]))
    below = int(np.ceil((edges[0] - low) / width))
    above = int(np.ceil((high - edges[-1]) / width))
    # A wild window (values 1000x the baseline's) would need thousands of bins: cap them.
    if below + above > 200:
        return np.linspace(low, high, 61)
    return edges[0] + width * np.arange(-below, len(edges) + above)


def _baseline_density(baseline: Mapping[str, Any], edges: np.ndarray) -> np.ndarray:
    """The baseline histogram re-binned onto `edges` (its own bins sit inside them)."""
    centres = np.asarray(baseline["histogram"]["edges"], dtype=np.float64)
    centres = (centres[:-1] + centres[1:]) / 2
    counts, _ = np.histogram(centres, bins=edges, weights=baseline["histogram"]["counts"])
    return counts / max(counts.sum(), 1) / np.diff(edges)


def _density(current: Mapping[str, Any], edges: np.ndarray) -> np.ndarray:
    return _baseline_density(current, edges)


def _save(figure: Any, axes: Any, path: Path) -> Path:
    axes.grid(True, linewidth=0.5, alpha=0.4)
    axes.legend(loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return path
