"""Evaluate: score the challenger (and the incumbent, when there is one) on the test split with the
same metric code; write evaluation.json (the gate's property file) and report.html with two plots.

The test split is encoded with the challenger's transform. The incumbent was trained with its own
transform (the one in its model directory), so its rows are decoded with the challenger's
transform and encoded again with the incumbent's: the same raw test rows reach both models. The
decoding is exact for the scaled measurements and the one-hot sex; a measurement that was missing
in the raw data decodes to the challenger's median (abalone has none).
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from container import contract
from training import plots, report, schema, splits
from training.artifact import load_booster
from training.errors import DataError
from training.features import FeatureTransform, read_transform
from training.train import predict

PREDICTED_VS_ACTUAL_PNG: Final = "predicted_vs_actual.png"
RESIDUALS_PNG: Final = "residuals.png"
REPORT_HTML: Final = "report.html"
CHALLENGER: Final = "challenger"
INCUMBENT: Final = contract.INCUMBENT


@dataclass(frozen=True)
class Incumbent:
    """The model in production: its unpacked model directory and where it came from."""

    model_dir: Path
    source: str


def run(
    model_dir: Path,
    test_dir: Path,
    output_dir: Path,
    *,
    incumbent: Incumbent | None = None,
    tolerance: float = report.DEFAULT_RMSE_TOLERANCE,
) -> dict[str, Any]:
    """Write output_dir/evaluation.json (+ plots and report.html) and return the report."""
    report.check_tolerance(tolerance)
    features, labels = splits.read_split(test_dir, splits.TEST)
    predictions = predict(load_booster(model_dir / schema.MODEL_FILENAME), features)
    challenger_report = report.build_report(labels, predictions)
    series = [_series(CHALLENGER, labels, predictions, challenger_report)]
    incumbent_report = None
    if incumbent is not None:
        rows = reencode(features, _transform(model_dir), _transform(incumbent.model_dir))
        incumbent_predictions = predict(
            load_booster(incumbent.model_dir / schema.MODEL_FILENAME), rows
        )
        incumbent_report = report.build_report(labels, incumbent_predictions)
        series.append(_series(INCUMBENT, labels, incumbent_predictions, incumbent_report))
    result = report.compare(
        challenger_report,
        incumbent_report,
        tolerance=tolerance,
        incumbent_source=incumbent.source if incumbent else None,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    plots.predicted_vs_actual_png(series, output_dir / PREDICTED_VS_ACTUAL_PNG)
    plots.residuals_png(series, output_dir / RESIDUALS_PNG)
    (output_dir / REPORT_HTML).write_text(report_html(result))
    partial = output_dir / (report.REPORT_FILENAME + ".partial")
    partial.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(partial, output_dir / report.REPORT_FILENAME)  # the gate never reads half a file
    return result


def _series(
    name: str, labels: np.ndarray, predictions: np.ndarray, scored: dict[str, Any]
) -> plots.Series:
    return plots.Series(f"{name} (RMSE {report.metric_at(scored):.3f})", labels, predictions)


def _transform(model_dir: Path) -> FeatureTransform:
    """A model directory's fitted transform; DataError when it is missing or not this code's."""
    path = model_dir / schema.PREPROCESSING_FILENAME
    try:
        return read_transform(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"unusable preprocessing: {exc}", source=str(path)) from None


def reencode(
    features: np.ndarray, encoded_by: FeatureTransform, to: FeatureTransform
) -> np.ndarray:
    """Rows encoded by one transform, encoded by another instead (unchanged when they agree)."""
    if encoded_by == to:
        return features
    sex, numeric = encoded_by.decode(features)
    if None in sex:  # the test split is this code's own encoding: exactly one sex column is 1
        row = sex.index(None) + 1
        raise DataError(f"test row {row}: its sex columns are not one-hot")
    return to.encode(sex, numeric)


def report_html(result: dict[str, Any]) -> str:
    """The report a person reads: both models' metrics side by side, the gate, both plots."""
    incumbent = result["incumbent"]
    gate = result["gate"]
    head = "<tr><th>metric</th><th>challenger</th>"
    head += "<th>incumbent</th></tr>" if incumbent else "</tr>"
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{values['value']:.4f}</td>"
        + (
            f"<td>{incumbent['regression_metrics'][name]['value']:.4f}</td></tr>"
            if incumbent
            else "</tr>"
        )
        for name, values in result["regression_metrics"].items()
    )
    if incumbent:
        source = html.escape(str(incumbent.get("model_data") or "unknown"))
        models = f"<p>Challenger: the model of this run. Incumbent: <code>{source}</code>.</p>"
    else:
        models = f"<p>Challenger: the model of this run. {html.escape(report.NO_INCUMBENT)}.</p>"
    if incumbent:
        verdict = "within" if gate["challenger_within_limit"] else "above"
        relative = f"Challenger RMSE {gate['rmse']:.4f}, {verdict} the relative limit: "
        relative += html.escape(gate["relative_check"]) + "."
    else:
        relative = f"Challenger RMSE {gate['rmse']:.4f}; {html.escape(report.NO_INCUMBENT)}."
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Abalone model evaluation</title></head>
<body>
<h1>Abalone model evaluation ({result["n_samples"]} test rows)</h1>
{models}
<table border="1" cellpadding="4">{head}{rows}</table>
<h2>Gate: relative check</h2>
<p>{relative} The pipeline also requires RMSE &lt;= RmseThreshold.</p>
<h2>Predicted vs actual rings</h2>
<img src="{PREDICTED_VS_ACTUAL_PNG}" alt="predicted vs actual rings, challenger and incumbent">
<h2>Residuals</h2>
<img src="{RESIDUALS_PNG}" alt="residuals (predicted - actual) against predicted rings">
</body></html>
"""
