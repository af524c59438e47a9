"""The drift report: drift.json (everything measured), violations.json (what crossed a threshold)
and report.html with one plot per feature and one for the predictions."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from monitoring import plots
from monitoring.drift import MIN_ROWS, THRESHOLDS

DRIFT_FILENAME: Final = "drift.json"
VIOLATIONS_FILENAME: Final = "violations.json"
REPORT_FILENAME: Final = "report.html"


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
    partial.replace(path)


def draw_plots(
    drift: Mapping[str, Any], baseline: Mapping[str, Any], output_dir: Path
) -> dict[str, str]:
    """One PNG per feature and one for the predictions; returns {name: file name}."""
    drawn = {}
    for name, stats in drift["features"].items():
        path = output_dir / f"drift-{name}.png"
        if stats["psi"] is None:  # nothing in the window to draw
            continue
        if stats["kind"] == "categorical":
            plots.categorical_png(name, stats, path)
        else:
            plots.numeric_png(name, stats, baseline["numeric"][name], path)
        drawn[name] = path.name
    prediction = drift.get("prediction")
    if prediction and prediction["psi"] is not None:
        path = output_dir / "drift-prediction.png"
        plots.numeric_png("predicted rings", prediction, baseline["prediction"], path)
        drawn["prediction"] = path.name
    return drawn


def write_html(path: Path, drift: Mapping[str, Any], pictures: Mapping[str, str]) -> None:
    summary = drift["summary"]
    flagged = {v["feature"] for v in drift["violations"]}
    rows = "".join(
        _feature_row(name, stats, name in flagged) for name, stats in drift["features"].items()
    )
    figures = "".join(
        f'<figure><img src="{html.escape(file)}" alt="{html.escape(name)}"></figure>'
        for name, file in pictures.items()
    )
    verdict = (
        f"{summary['features_in_violation']} feature(s) in violation: "
        + html.escape(", ".join(sorted(flagged)))
        if flagged
        else "no feature in violation"
    )
    note = (
        ""
        if summary["rows"] >= MIN_ROWS
        else (f"<p><b>Only {summary['rows']} rows: below {MIN_ROWS}, nothing is flagged.</b></p>")
    )
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Drift report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "td,th{padding:2px 8px;text-align:right}.flag{background:#fdd}"
        "figure{display:inline-block;margin:4px}</style></head><body>"
        f"<h1>Drift report: {html.escape(summary['endpoint_name'] or 'endpoint')}</h1>"
        f"<p>Window {html.escape(summary['window_start'])} to {html.escape(summary['window_end'])}:"
        f" {summary['records']} captured invocations, {summary['rows']} rows,"
        f" {summary['malformed']} malformed lines skipped. <b>{verdict}</b>.</p>{note}"
        f"<p>Thresholds: {html.escape(json.dumps(THRESHOLDS))};"
        f" max PSI {summary['max_psi']:.3f}.</p>"
        "<table><tr><th>feature</th><th>PSI</th><th>KS</th><th>missing</th>"
        f"<th>out of range</th><th>mean (baseline)</th></tr>{rows}</table>"
        f"{_prediction_line(drift.get('prediction'))}{figures}</body></html>\n"
    )


def _feature_row(name: str, stats: Mapping[str, Any], flagged: bool) -> str:
    ks = "" if stats["ks"] is None else f"{stats['ks']:.3f}"
    psi = "" if stats["psi"] is None else f"{stats['psi']:.3f}"
    mean = ""
    if stats["kind"] == "numeric" and stats["mean"] is not None:
        mean = f"{stats['mean']:.4g} ({stats['baseline_mean']:.4g})"
    css = ' class="flag"' if flagged else ""
    return (
        f"<tr{css}><th>{html.escape(name)}</th><td>{psi}</td><td>{ks}</td>"
        f"<td>{stats['share_missing']:.1%}</td><td>{stats['share_out_of_range']:.1%}</td>"
        f"<td>{mean}</td></tr>"
    )


def _prediction_line(prediction: Mapping[str, Any] | None) -> str:
    if not prediction or prediction["psi"] is None:
        return "<p>Predictions: none in the window, or no prediction baseline in the model.</p>"
    return (
        f"<p>Predictions against the model's predictions on its training split: PSI "
        f"{prediction['psi']:.3f}, KS {prediction['ks']:.3f}, mean {prediction['mean']:.3f} "
        f"(baseline {prediction['baseline_mean']:.3f}).</p>"
    )
