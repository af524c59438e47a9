"""The drift monitor job: `python -m container process monitor [options]` in the image.

Reads the Data Capture files of a time window, decodes them with the server's codecs, compares
every raw feature and the predictions with the baseline shipped in the model artifact, and writes
drift.json, violations.json and report.html (+ PNGs) to the output folder; then prints the drift
metrics line (monitoring/metrics.py) for CloudWatch. Defaults are SageMaker Processing's paths
(container/contract.py), so a Processing job needs no argument but the window.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from container import contract
from monitoring import report
from monitoring.captures import (
    Malformed,
    Window,
    capture_files,
    endpoint_of,
    parse_time,
    read_records,
)
from monitoring.drift import MIN_ROWS, categorical_drift, numeric_drift, violations
from monitoring.observations import Observations, observe
from training import schema
from training.baseline import PREDICTION, read_baseline
from training.errors import DataError
from training.features import FeatureTransform, read_transform

log = logging.getLogger(__name__)
DEFAULT_WINDOW_HOURS = 1.0


def load_model_baseline(model_dir: Path) -> tuple[dict[str, Any], FeatureTransform]:
    """The baseline and the transform of a model directory, checked against its manifest as the
    server checks the files it loads."""
    from container.model import ModelLoadError, verify_manifest

    path = model_dir / schema.BASELINE_FILENAME
    if not path.is_file():
        raise DataError(
            f"the model in {model_dir} has no {schema.BASELINE_FILENAME}: it was trained before "
            "drift baselines existed; retrain it (make pipeline-local / run-pipeline)"
        )
    try:
        verify_manifest(model_dir)
    except ModelLoadError as exc:
        raise DataError(str(exc)) from None
    try:
        return read_baseline(path), read_transform(model_dir / schema.PREPROCESSING_FILENAME)
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable model files in {model_dir}: {exc}") from None


def measure(seen: Observations, baseline: Mapping[str, Any]) -> dict[str, Any]:
    """Per-feature and prediction statistics, and the violations among them."""
    numeric = seen.numeric_matrix()
    features: dict[str, Any] = {
        name: numeric_drift(numeric[:, i], baseline["numeric"][name])
        for i, name in enumerate(schema.NUMERIC_COLUMNS)
    }
    features[schema.SEX] = categorical_drift(seen.sex, baseline["categorical"][schema.SEX])
    found = [v for name, stats in features.items() for v in violations(name, stats)]
    prediction = None
    if baseline.get(PREDICTION, {}).get("count"):
        prediction = numeric_drift(seen.prediction_vector(), baseline[PREDICTION])
    return {"features": features, "violations": found, "prediction": prediction}


def summarize(
    drift: Mapping[str, Any],
    seen: Observations,
    malformed: Malformed,
    window: Window,
    endpoint_name: str | None,
) -> dict[str, Any]:
    measured = [
        s["psi"]
        for s in drift["features"].values()
        if s["psi"] is not None and s["rows"] >= MIN_ROWS
    ]
    prediction = drift["prediction"]
    return {
        "endpoint_name": endpoint_name,
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "records": seen.records,
        "rows": len(seen.sex),
        "malformed": malformed.count,
        "max_psi": max(measured, default=0.0),
        "features_in_violation": len({v["feature"] for v in drift["violations"]}),
        "prediction_psi": prediction["psi"] if prediction else None,
    }


def run(
    captures_dir: Path,
    model_input: Path,
    output_dir: Path,
    window: Window,
    endpoint_name: str | None = None,
) -> dict[str, Any]:
    """Measure one window and write the report; returns drift.json's content."""
    from training.stages import resolve_model_dir  # the evaluate step's reading of its input

    if not captures_dir.is_dir():
        raise DataError(f"no capture folder {captures_dir}")
    with tempfile.TemporaryDirectory() as tmp:
        baseline, transform = load_model_baseline(resolve_model_dir(model_input, Path(tmp)))
    files = capture_files(captures_dir, window)
    endpoint_name = endpoint_name or endpoint_of(captures_dir, files)
    malformed = Malformed()
    seen = observe(read_records(files, window, malformed), transform, malformed)
    drift = measure(seen, baseline)
    drift["summary"] = summarize(drift, seen, malformed, window, endpoint_name)
    drift["malformed_examples"] = malformed.examples
    drift["files"] = len(files)
    output_dir.mkdir(parents=True, exist_ok=True)
    report.write_json(output_dir / report.DRIFT_FILENAME, drift)
    report.write_json(
        output_dir / report.VIOLATIONS_FILENAME,
        {"summary": drift["summary"], "violations": drift["violations"]},
    )
    pictures = report.draw_plots(drift, baseline, output_dir)
    report.write_html(output_dir / report.REPORT_FILENAME, drift, pictures)
    return drift


def _publish(summary: Mapping[str, Any]) -> None:
    from monitoring.metrics import publish_drift_metrics

    name = summary["endpoint_name"]
    if not name:
        log.warning("no endpoint name (--endpoint-name): drift metrics not published")
        return
    try:
        publish_drift_metrics(summary, name)
    except ValueError as exc:
        log.warning("drift metrics not published: %s", exc)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m container process monitor")
    parser.add_argument("--captures", type=Path, default=Path(contract.CAPTURES_INPUT))
    parser.add_argument(
        "--baseline",
        type=Path,
        default=Path(contract.MODEL_INPUT),
        help="the model directory or model.tar.gz whose baseline to compare with",
    )
    parser.add_argument("--output", type=Path, default=Path(contract.MONITOR_OUTPUT))
    parser.add_argument("--window-end", help="ISO 8601 (default: now); the window ends before it")
    parser.add_argument("--window-hours", type=float, default=DEFAULT_WINDOW_HOURS)
    parser.add_argument("--endpoint-name", help="default: read from the capture tree's path")
    return parser


def run_cli(argv: Sequence[str]) -> None:
    """Parse the job's arguments, run it, print the verdict and the metrics line."""
    args = _parser().parse_args(list(argv))
    try:
        end = parse_time(args.window_end) if args.window_end else datetime.now(UTC)
        window = Window.ending(end, args.window_hours)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    drift = run(args.captures, args.baseline, args.output, window, args.endpoint_name)
    summary = drift["summary"]
    flagged = sorted({v["feature"] for v in drift["violations"]})
    print(
        f"{summary['records']} records, {summary['rows']} rows, {summary['malformed']} "
        f"malformed; features in violation: {', '.join(flagged) or 'none'}"
    )
    _publish(summary)
