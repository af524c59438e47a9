"""Preprocess, train and evaluate in one process: the quick local path to a servable model.

The same wiring as the one-job Processing run (stages.run_stages), with the model left as a
directory; the SageMaker pipeline runs the stages as separate jobs. For laptops and tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training import schema
from training.data import load_abalone
from training.errors import TrainingError
from training.hyperparameters import Hyperparameters
from training.stages import run_stages

log = logging.getLogger(__name__)


def run_all(
    source: str,
    work_dir: Path,
    *,
    hp: Hyperparameters | None = None,
    expected_sha256: str | None = schema.ABALONE_SHA256,
) -> dict[str, Any]:
    """Write work_dir/{train,validation,test,model,evaluation}; return the evaluation report."""
    frame = load_abalone(source, expected_sha256=expected_sha256)
    return run_stages(frame, work_dir, hp or Hyperparameters(), archive=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="path, http(s) URL or s3:// URI")
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--no-verify", action="store_true", help="skip the abalone sha256 check")
    parser.add_argument(
        "--hyperparameters",
        type=json.loads,
        default={},
        help='JSON object, e.g. \'{"max_depth": "6"}\'',
    )
    args = parser.parse_args(argv)
    try:
        hp = Hyperparameters.from_strings(args.hyperparameters)
        result = run_all(
            args.data,
            args.output_dir,
            hp=hp,
            expected_sha256=None if args.no_verify else schema.ABALONE_SHA256,
        )
    except TrainingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result["regression_metrics"], indent=2))
    print(f"model: {args.output_dir / 'model'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
