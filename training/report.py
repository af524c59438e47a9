"""The evaluation report: its file name, the metric path the pipeline's quality gate reads, and
how the report is built from predictions."""

from __future__ import annotations

from typing import Any, Final

import numpy as np

REPORT_FILENAME: Final = "evaluation.json"
#: The pipeline condition reads this path from REPORT_FILENAME (JsonGet); evaluation writes it.
METRIC_JSON_PATH: Final = "regression_metrics.rmse.value"


def build_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """RMSE, MAE, R2 and MSE (with the standard deviation of the squared errors)."""
    y_true = np.asarray(y_true, dtype=np.float64)
    errors = np.asarray(y_pred, dtype=np.float64) - y_true
    squared = errors**2
    total = float(np.sum((y_true - y_true.mean()) ** 2))
    metrics = {
        "mse": {"value": float(squared.mean()), "standard_deviation": float(squared.std())},
        "rmse": {"value": float(np.sqrt(squared.mean()))},
        "mae": {"value": float(np.abs(errors).mean())},
        "r2": {"value": 1.0 - float(squared.sum()) / total if total else 0.0},
    }
    return {"regression_metrics": metrics, "n_samples": int(y_true.size)}


def metric_at(report: dict[str, Any], path: str = METRIC_JSON_PATH) -> float:
    """Read a dotted path from a report, as the pipeline's JsonGet does."""
    node: Any = report
    for key in path.split("."):
        node = node[key]
    return float(node)
