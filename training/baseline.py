"""The drift baseline: what the training split looked like, per raw column, and what the model
predicted for it, stored as JSON in the model directory for the drift monitor (monitoring/).

Per numeric column (and for the predictions): counts, missing, min/max, mean/std, a quantile
sketch (percentiles 0..100, for the KS statistic), the decile bins with the training split's share
in each (for the PSI), and an equal-width histogram (for the report's plots). For sex: the share of
each category. numpy only (no pandas): the monitor job reads it with the same code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from training import schema

if TYPE_CHECKING:
    import pandas as pd

FORMAT_VERSION: Final = 1
#: Percentiles kept of each numeric column: the baseline's CDF for the KS statistic.
QUANTILE_PROBABILITIES: Final = tuple(i / 100 for i in range(101))
#: PSI bins: the training split's deciles (ties merged), open at both ends.
PSI_QUANTILES: Final = tuple(i / 10 for i in range(1, 10))
HISTOGRAM_BINS: Final = 30
PREDICTION: Final = "prediction"


def numeric_sketch(values: np.ndarray) -> dict[str, Any]:
    """The sketch of one numeric column (NaN = missing); a column with no value has no bins."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    missing = int(values.size - present.size)
    sketch: dict[str, Any] = {"count": int(present.size), "missing": missing}
    if present.size == 0:
        return sketch
    edges = np.unique(np.quantile(present, PSI_QUANTILES))
    low, high = float(present.min()), float(present.max())
    counts, histogram_edges = np.histogram(present, bins=HISTOGRAM_BINS, range=(low, high))
    sketch.update(
        min=low,
        max=high,
        mean=float(present.mean()),
        std=float(present.std()),
        quantiles=[float(v) for v in np.quantile(present, QUANTILE_PROBABILITIES)],
        psi_edges=[float(v) for v in edges],
        psi_fractions=[float(v) for v in bin_fractions(present, edges)],
        histogram={"edges": histogram_edges.tolist(), "counts": counts.tolist()},
    )
    return sketch


def bin_fractions(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Share of `values` in each bin (-inf, e1], (e1, e2], ..., (ek, inf)."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return counts / max(int(values.size), 1)


def category_sketch(codes: Sequence[object], categories: Sequence[str]) -> dict[str, Any]:
    """Shares of each category among the present codes (None or NaN = missing)."""
    present = [str(c).upper() for c in codes if isinstance(c, str) and c.strip()]
    total = max(len(present), 1)
    return {
        "count": len(present),
        "missing": len(codes) - len(present),
        "frequencies": {c: present.count(c) / total for c in categories},
    }


def feature_baseline(frame: pd.DataFrame) -> dict[str, Any]:
    """The baseline of a frame with the raw columns (the training split, before encoding)."""
    return {
        "format_version": FORMAT_VERSION,
        "source": "training split",
        "rows": len(frame),
        "numeric": {
            name: numeric_sketch(frame[name].to_numpy(dtype=np.float64))
            for name in schema.NUMERIC_COLUMNS
        },
        "categorical": {
            schema.SEX: category_sketch(list(frame[schema.SEX]), schema.SEX_CATEGORIES)
        },
    }


def with_predictions(baseline: Mapping[str, Any], predictions: np.ndarray) -> dict[str, Any]:
    """The baseline plus the sketch of the model's predictions on the training split."""
    return {**baseline, PREDICTION: numeric_sketch(predictions)}


def write_baseline(path: Path, baseline: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline, indent=1, sort_keys=True) + "\n")


def read_baseline(path: Path) -> dict[str, Any]:
    """The baseline at `path`: OSError when unreadable, ValueError when not one this code wrote."""
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"baseline is not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported baseline format in {path.name}")
    numeric, categorical = data.get("numeric"), data.get("categorical")
    if not isinstance(numeric, dict) or set(numeric) != set(schema.NUMERIC_COLUMNS):
        raise ValueError(f"baseline columns are not {', '.join(schema.NUMERIC_COLUMNS)}")
    if not isinstance(categorical, dict) or schema.SEX not in categorical:
        raise ValueError(f"baseline has no {schema.SEX} frequencies")
    for name, sketch in (*numeric.items(), (PREDICTION, data.get(PREDICTION) or {"count": 0})):
        if not isinstance(sketch, dict) or (sketch.get("count") and "psi_edges" not in sketch):
            raise ValueError(f"baseline sketch of {name} is malformed")
    return data
