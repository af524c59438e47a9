"""Evaluate: score the model directory on the test split and write the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training import report, schema, splits
from training.artifact import load_booster
from training.train import predict


def run(model_dir: Path, test_dir: Path, output_dir: Path) -> dict[str, Any]:
    """Write output_dir/evaluation.json for the model on the test split and return it."""
    features, labels = splits.read_split(test_dir, splits.TEST)
    result = report.build_report(
        labels, predict(load_booster(model_dir / schema.MODEL_FILENAME), features)
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / report.REPORT_FILENAME).write_text(json.dumps(result, indent=2) + "\n")
    return result
