"""The Processing job's command line: `python -m container process STAGE [--options]`, parsed
and run (stages.py holds the stages themselves). Every path defaults to SageMaker's location
(container/contract.py), so the pipeline passes the same constants and tests pass temporary
directories."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from container import contract
from training import report
from training.cluster import parse_timeout, processing_placement, read_cluster
from training.errors import TrainingError
from training.hyperparameters import Hyperparameters
from training.stages import (
    has_incumbent,
    run_all_stages,
    run_evaluate,
    run_preprocess,
    run_train_processing,
)


def _hyperparameters(text: str) -> Hyperparameters:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrainingError(f"--hyperparameters is not JSON: {exc.msg}") from None
    if not isinstance(values, dict):
        raise TrainingError("--hyperparameters must be a JSON object")
    return Hyperparameters.from_strings(values)


def _tolerance(text: str) -> float:
    try:
        return report.check_tolerance(float(text))
    except ValueError as exc:
        raise TrainingError(f"--rmse-tolerance {text!r}: {exc}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m container process")
    stages = parser.add_subparsers(dest="stage", required=True)
    pre = stages.add_parser("preprocess", help="split and encode the raw data")
    pre.add_argument("--input", type=Path, default=Path(contract.RAW_DATA_INPUT))
    pre.add_argument("--output", type=Path, default=Path(contract.SPLITS_OUTPUT))
    pre.add_argument("--seed", type=int, default=42)
    pre.add_argument("--no-verify", action="store_true", help="skip the abalone sha256 check")
    pre.add_argument(
        "--parts", type=int, default=1, help="part files per split (to shard over instances)"
    )
    train = stages.add_parser("train", help="train and write model.tar.gz")
    train.add_argument("--train", type=Path, default=Path(contract.TRAIN_INPUT))
    train.add_argument("--validation", type=Path, default=Path(contract.VALIDATION_INPUT))
    train.add_argument("--preprocessing", type=Path, default=Path(contract.PREPROCESSING_INPUT))
    train.add_argument("--output", type=Path, default=Path(contract.MODEL_OUTPUT))
    train.add_argument("--hyperparameters", default="{}", help="JSON object of strings")
    train.add_argument(
        "--resource-config", type=Path, default=Path(contract.PROCESSING_RESOURCE_CONFIG)
    )
    train.add_argument("--job-config", type=Path, default=Path(contract.PROCESSING_JOB_CONFIG))
    ev = stages.add_parser("evaluate", help="score the model on the test split")
    ev.add_argument("--model", type=Path, default=Path(contract.MODEL_INPUT))
    ev.add_argument("--test", type=Path, default=Path(contract.TEST_INPUT))
    ev.add_argument("--output", type=Path, default=Path(contract.EVALUATION_OUTPUT))
    ev.add_argument("--incumbent", type=Path, default=Path(contract.INCUMBENT_INPUT))
    ev.add_argument("--incumbent-url", default="", help="IncumbentModelUrl (empty: none)")
    ev.add_argument(
        "--placeholder-url", default="", help="the URL that stands for no incumbent (InputDataUri)"
    )
    ev.add_argument("--rmse-tolerance", type=_tolerance, default=report.DEFAULT_RMSE_TOLERANCE)
    every = stages.add_parser("all", help="preprocess, train and evaluate in one job")
    every.add_argument("--input", type=Path, default=Path(contract.RAW_DATA_INPUT))
    every.add_argument("--output", type=Path, default=Path(contract.SPLITS_OUTPUT))
    every.add_argument("--no-verify", action="store_true")
    every.add_argument("--hyperparameters", default="{}")
    every.add_argument(
        "--resource-config", type=Path, default=Path(contract.PROCESSING_RESOURCE_CONFIG)
    )
    return parser


def run_processing(
    argv: Sequence[str], cluster_timeout: str = contract.CLUSTER_TIMEOUT.default
) -> None:
    """Parse a Processing stage's arguments and run it; TrainingError on bad inputs."""
    args = _parser().parse_args(list(argv) or ["all"])
    if args.stage == "preprocess":
        run_preprocess(
            args.input, args.output, verify=not args.no_verify, seed=args.seed, parts=args.parts
        )
    elif args.stage == "train":
        placement = processing_placement(
            args.resource_config,
            args.job_config,
            args.train,
            args.validation,
            parse_timeout(cluster_timeout),
        )
        archive = run_train_processing(
            args.train,
            args.validation,
            args.preprocessing,
            args.output,
            _hyperparameters(args.hyperparameters),
            placement,
        )
        print(f"wrote {archive}" if archive else "trained; the first host writes the model")
    elif args.stage == "evaluate":
        given = has_incumbent(args.incumbent_url, args.placeholder_url)
        result = run_evaluate(
            args.model,
            args.test,
            args.output,
            incumbent_input=args.incumbent if given else None,
            incumbent_url=args.incumbent_url,
            tolerance=args.rmse_tolerance,
        )
        print(json.dumps(result["regression_metrics"]))
    else:
        if read_cluster(args.resource_config).is_distributed:
            raise TrainingError(
                "the all-in-one job runs on one instance; train on several with `process train`"
            )
        run_all_stages(
            args.input,
            args.output,
            verify=not args.no_verify,
            hp=_hyperparameters(args.hyperparameters),
        )
