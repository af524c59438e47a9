"""Preprocess, train and evaluate in one process: the quick local path to a servable model.

The SageMaker pipeline runs the same functions as separate jobs; this is for laptops and tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training import artifact, preprocess, schema, splits
from training.data import load_abalone
from training.errors import TrainingError
from training.evaluate import run as evaluate
from training.hyperparameters import Hyperparameters
from training.train import train_booster

log = logging.getLogger(__name__)


def run_all(
    source: str,
    work_dir: Path,
    *,
    hp: Hyperparameters | None = None,
    expected_sha256: str | None = schema.ABALONE_SHA256,
) -> dict[str, Any]:
    """Write work_dir/{train,validation,test,model,evaluation}; return the evaluation report."""
    hp = hp or Hyperparameters()
    frame = load_abalone(source, expected_sha256=expected_sha256)
    transform = preprocess.run(frame, work_dir, seed=hp.seed)
    booster = train_booster(
        splits.read_split(work_dir / splits.TRAIN, splits.TRAIN),
        splits.read_split(work_dir / splits.VALIDATION, splits.VALIDATION),
        hp,
    )
    model_dir = work_dir / "model"
    artifact.write_model_dir(model_dir, booster, transform)
    return evaluate(model_dir, work_dir / splits.TEST, work_dir / "evaluation")


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
