"""Evaluate: score the model directory on the test split; write evaluation.json and a small
report a person can look at (metrics and two plots in report.html, next to the JSON)."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from training import report, schema, splits
from training.artifact import load_booster
from training.plots import scatter_png
from training.train import predict

PREDICTED_VS_ACTUAL_PNG = "predicted_vs_actual.png"
RESIDUALS_PNG = "residuals.png"
REPORT_HTML = "report.html"


def run(model_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, Any]:
    """Write output_dir/evaluation.json (+ plots and report.html) and return the report."""
    features, labels = splits.read_split(test_dir, splits.TEST)
    predictions = predict(load_booster(model_dir / schema.MODEL_FILENAME), features)
    result = report.build_report(labels, predictions)
    output_dir.mkdir(parents=True, exist_ok=True)
    ranges = {
        PREDICTED_VS_ACTUAL_PNG: scatter_png(
            labels, predictions, output_dir / PREDICTED_VS_ACTUAL_PNG, guide="diagonal"
        ),
        RESIDUALS_PNG: scatter_png(
            predictions, predictions - labels, output_dir / RESIDUALS_PNG, guide="zero"
        ),
    }
    (output_dir / REPORT_HTML).write_text(_report_html(result, ranges))
    partial = output_dir / (report.REPORT_FILENAME + ".partial")
    partial.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(partial, output_dir / report.REPORT_FILENAME)  # the gate never reads half a file
    return result


def _report_html(result: dict[str, Any], ranges: dict[str, dict[str, float]]) -> str:
    metrics = result["regression_metrics"]
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{values['value']:.4f}</td></tr>"
        for name, values in metrics.items()
    )
    pva, res = ranges[PREDICTED_VS_ACTUAL_PNG], ranges[RESIDUALS_PNG]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Abalone model evaluation</title></head>
<body>
<h1>Abalone model evaluation ({result["n_samples"]} test rows)</h1>
<table border="1" cellpadding="4"><tr><th>metric</th><th>value</th></tr>{rows}</table>
<h2>Predicted vs actual rings</h2>
<p>x: actual rings, y: predicted rings, both {pva["x_min"]:.1f} to {pva["x_max"]:.1f};
red line: perfect prediction.</p>
<img src="{PREDICTED_VS_ACTUAL_PNG}" alt="predicted vs actual">
<h2>Residuals</h2>
<p>x: predicted rings ({res["x_min"]:.1f} to {res["x_max"]:.1f}), y: predicted minus actual
({res["y_min"]:.1f} to {res["y_max"]:.1f}); red line: zero error.</p>
<img src="{RESIDUALS_PNG}" alt="residuals">
</body></html>
"""
