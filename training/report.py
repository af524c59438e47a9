"""The evaluation report: its file name, the paths the pipeline's quality gate reads, how the
report is built from predictions, and the champion/challenger arithmetic.

The gate registers a model only when both hold:
    RMSE <= RmseThreshold                              (absolute, a pipeline parameter)
    RMSE <= incumbent RMSE x (1 + RmseTolerance)       (relative, the newest Approved model)
A pipeline condition cannot multiply, so the Evaluate step writes the relative limit itself
(GATE_LIMIT_JSON_PATH); with no incumbent it writes the challenger's own RMSE there, so the
relative check passes and only the absolute threshold applies, and the report says so.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

REPORT_FILENAME: Final = "evaluation.json"
#: The pipeline condition reads this path from REPORT_FILENAME (JsonGet); evaluation writes it.
METRIC_JSON_PATH: Final = "regression_metrics.rmse.value"
#: The relative check's right-hand side: incumbent RMSE x (1 + tolerance), or the challenger's
#: own RMSE when there is no incumbent.
GATE_LIMIT_JSON_PATH: Final = "gate.rmse_limit"
#: One line a person reads in the Fail step's message: the incumbent's RMSE and the limit, or
#: that there was no incumbent.
GATE_RELATIVE_JSON_PATH: Final = "gate.relative_check"
#: RmseTolerance's default: a challenger may be up to 1% worse than the incumbent (noise on a
#: test split of a few hundred rows is larger than that; a real regression is not).
DEFAULT_RMSE_TOLERANCE: Final = 0.01
NO_INCUMBENT: Final = "no incumbent: only the absolute threshold applies"


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


def check_tolerance(tolerance: float) -> float:
    """A tolerance in [0, 1); ValueError otherwise (1 would let a model twice as bad through)."""
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"the RMSE tolerance must be at least 0 and below 1, got {tolerance}")
    return tolerance


def gate_section(rmse: float, incumbent_rmse: float | None, tolerance: float) -> dict[str, Any]:
    """What the gate reads: the relative limit, and one line saying how it was set."""
    check_tolerance(tolerance)
    if incumbent_rmse is None:
        return {
            "rmse": rmse,
            "incumbent_rmse": None,
            "tolerance": tolerance,
            "rmse_limit": rmse,
            "relative_check": NO_INCUMBENT,
            "challenger_within_limit": True,
        }
    limit = incumbent_rmse * (1.0 + tolerance)
    return {
        "rmse": rmse,
        "incumbent_rmse": incumbent_rmse,
        "tolerance": tolerance,
        "rmse_limit": limit,
        "relative_check": (
            f"limit {limit:.4f} = incumbent RMSE {incumbent_rmse:.4f} x (1 + {tolerance:g})"
        ),
        "challenger_within_limit": rmse <= limit,
    }


def compare(
    challenger: dict[str, Any],
    incumbent: dict[str, Any] | None,
    *,
    tolerance: float,
    incumbent_source: str | None = None,
) -> dict[str, Any]:
    """The full report: the challenger's metrics where the gate reads them (unchanged paths),
    the incumbent's metrics on the same rows (or null), and the gate section."""
    rmse = metric_at(challenger)
    incumbent_rmse = None if incumbent is None else metric_at(incumbent)
    return {
        **challenger,
        "incumbent": None if incumbent is None else {"model_data": incumbent_source, **incumbent},
        "gate": gate_section(rmse, incumbent_rmse, tolerance),
    }


def metric_at(report: dict[str, Any], path: str = METRIC_JSON_PATH) -> float:
    """Read a dotted path from a report, as the pipeline's JsonGet does."""
    node: Any = report
    for key in path.split("."):
        node = node[key]
    return float(node)
