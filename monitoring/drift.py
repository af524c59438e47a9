"""Drift statistics of a window's values against the training baseline, and the thresholds that
make a feature a violation.

- PSI (population stability index) over the baseline's decile bins, open at both ends:
  sum((a - e) * ln(a / e)) with shares floored at 1e-4 so an empty bin counts instead of
  dividing by zero. Sex: over its categories, plus one bin for codes the baseline never saw.
- KS: the two-sample Kolmogorov-Smirnov statistic, max |F_window - F_baseline|, with the
  baseline's CDF read from its percentile sketch (linear between percentiles); numeric only.
- Missing share, and out-of-range share (outside the training split's [min, max]; sex: a code the
  training split did not hold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np

from training.baseline import QUANTILE_PROBABILITIES, bin_fractions, numeric_sketch

#: Below this share a bin counts as this share in the PSI (an empty bin would be infinite).
PSI_FLOOR: Final = 1e-4
#: PSI above 0.2 is the usual "significant shift" (0.1-0.2: moderate).
PSI_THRESHOLD: Final = 0.2
#: KS above 0.2: a fifth of the mass moved; well above sampling noise at MIN_ROWS rows
#: (the 99.9% critical value at 100 rows is about 0.19, at 500 rows 0.09).
KS_THRESHOLD: Final = 0.2
#: More missing values than the training split had, by this share of the rows.
MISSING_INCREASE_THRESHOLD: Final = 0.05
#: Values outside the training split's range (or unseen categories), as a share of the rows.
OUT_OF_RANGE_THRESHOLD: Final = 0.05
#: The report's histograms: the baseline's bins, extended at their width over the window's range,
#: up to this many extra bins (a wilder window gets evenly spaced bins over both ranges instead).
MAX_EXTRA_BINS: Final = 200
#: Below this many rows the statistics are reported but flag nothing (noise would).
MIN_ROWS: Final = 100
THRESHOLDS: Final = {
    "psi": PSI_THRESHOLD,
    "ks": KS_THRESHOLD,
    "missing_increase": MISSING_INCREASE_THRESHOLD,
    "share_out_of_range": OUT_OF_RANGE_THRESHOLD,
}


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    e = np.maximum(np.asarray(expected, dtype=np.float64), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=np.float64), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_against_sketch(values: np.ndarray, quantiles: Sequence[float]) -> float:
    """max |ECDF(values) - F_baseline| over the window's values, either side of each step."""
    if values.size == 0:
        return 0.0
    points, probabilities = _sketch_cdf(quantiles)
    ordered = np.sort(values)
    base = np.interp(ordered, points, probabilities, left=0.0, right=1.0)
    n = ordered.size
    above = np.searchsorted(ordered, ordered, side="right") / n  # F_window at each value
    below = np.searchsorted(ordered, ordered, side="left") / n  # just before it
    return float(max(np.max(np.abs(above - base)), np.max(np.abs(base - below))))


def _sketch_cdf(quantiles: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct percentile values with the highest probability each reaches (ties: the CDF
    jumps there)."""
    values = np.asarray(quantiles, dtype=np.float64)
    points, last = np.unique(values[::-1], return_index=True)
    probabilities = np.asarray(QUANTILE_PROBABILITIES)[::-1][last]
    return points, probabilities


def numeric_drift(values: np.ndarray, sketch: Mapping[str, Any]) -> dict[str, Any]:
    """The statistics of one numeric column (or the predictions) against its baseline sketch."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    rows = max(int(values.size), 1)
    baseline_rows = max(sketch["count"] + sketch["missing"], 1)
    out = (present < sketch["min"]) | (present > sketch["max"])
    return {
        "kind": "numeric",
        "rows": int(values.size),
        # Nothing to compare: not measured (None), rather than the PSI of an empty window.
        "psi": psi(sketch["psi_fractions"], bin_fractions(present, sketch["psi_edges"]))
        if present.size
        else None,
        "ks": ks_against_sketch(present, sketch["quantiles"]) if present.size else None,
        "share_missing": (values.size - present.size) / rows,
        "baseline_share_missing": sketch["missing"] / baseline_rows,
        "share_out_of_range": int(out.sum()) / rows,
        "mean": float(present.mean()) if present.size else None,
        "baseline_mean": sketch["mean"],
        "current": numeric_sketch(present),
        "window_histogram": window_histogram(present, sketch["histogram"]["edges"]),
    }


def window_histogram(present: np.ndarray, baseline_edges: Sequence[float]) -> dict[str, Any]:
    """The window's counts over the baseline's histogram bins, extended to hold every value, so
    the report draws both on one grid."""
    edges = np.asarray(baseline_edges, dtype=np.float64)
    low = min(edges[0], float(present.min())) if present.size else edges[0]
    high = max(edges[-1], float(present.max())) if present.size else edges[-1]
    width = (edges[-1] - edges[0]) / (len(edges) - 1) or 1.0
    below = int(np.ceil((edges[0] - low) / width))
    above = int(np.ceil((high - edges[-1]) / width))
    if below + above > MAX_EXTRA_BINS:
        grid = np.linspace(low, high, len(edges))
    else:
        grid = edges[0] + width * np.arange(-below, len(edges) + above)
    counts, _ = np.histogram(present, bins=grid)
    return {"edges": grid.tolist(), "counts": counts.tolist()}


def categorical_drift(codes: Sequence[str | None], sketch: Mapping[str, Any]) -> dict[str, Any]:
    categories = list(sketch["frequencies"])
    present = [c for c in codes if c is not None]
    rows, total = max(len(codes), 1), max(len(present), 1)
    current = {c: present.count(c) / total for c in categories}
    unseen = sum(1 for c in present if c not in sketch["frequencies"])
    baseline_rows = max(sketch["count"] + sketch["missing"], 1)
    return {
        "kind": "categorical",
        "rows": len(codes),
        "psi": psi([*sketch["frequencies"].values(), 0.0], [*current.values(), unseen / total])
        if present
        else None,
        "ks": None,
        "share_missing": (len(codes) - len(present)) / rows,
        "baseline_share_missing": sketch["missing"] / baseline_rows,
        "share_out_of_range": unseen / rows,
        "frequencies": current,
        "baseline_frequencies": dict(sketch["frequencies"]),
    }


def violations(name: str, stats: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The thresholds `stats` exceeds (none below MIN_ROWS rows)."""
    if stats["rows"] < MIN_ROWS:
        return []
    measured = {
        "psi": stats["psi"],
        "ks": stats["ks"],
        "missing_increase": stats["share_missing"] - stats["baseline_share_missing"],
        "share_out_of_range": stats["share_out_of_range"],
    }
    return [
        {"feature": name, "check": check, "value": value, "threshold": THRESHOLDS[check]}
        for check, value in measured.items()
        if value is not None and value > THRESHOLDS[check]
    ]
