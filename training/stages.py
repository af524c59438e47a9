"""The training side's stages as SageMaker jobs run them inside the image.

Processing (training as processing, for accounts with no training quota): preprocess, train and
evaluate, one stage per job or all three in one (the command line is training/processing.py).
Training job: `python -m container train` (hyperparameters.json, channels, /opt/ml/model).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from container import contract
from training import artifact, preprocess, report, schema, splits
from training.baseline import with_predictions
from training.cluster import (
    Placement,
    parse_timeout,
    row_share,
    training_placement,
)
from training.collective import joined
from training.data import load_abalone
from training.errors import DataError, TrainingError
from training.evaluate import Incumbent
from training.evaluate import run as evaluate
from training.hyperparameters import Hyperparameters
from training.train import predict, train_booster

log = logging.getLogger(__name__)
_DATA_SUFFIXES = (".data", ".csv", ".txt")


def find_data_file(source: Path) -> Path:
    """A data file, or the one data file in a directory (SageMaker mounts inputs as folders)."""
    if source.is_file():
        return source
    if not source.is_dir():
        raise DataError(f"input {source} does not exist")
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
    data = [p for p in files if p.suffix in _DATA_SUFFIXES] or files
    if len(data) != 1:
        names = ", ".join(p.name for p in data) or "nothing"
        raise DataError(f"expected one data file in {source}, found {names}")
    return data[0]


def run_preprocess(
    input_path: Path, output_dir: Path, *, verify: bool, seed: int, parts: int = 1
) -> None:
    data_file = find_data_file(input_path)
    frame = load_abalone(str(data_file), expected_sha256=schema.ABALONE_SHA256 if verify else None)
    preprocess.run(frame, output_dir, seed=seed, parts=parts)


def _share(
    data: tuple[np.ndarray, np.ndarray], placement: Placement, distribution: str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """This host's rows of a split (all of them on one host)."""
    rows = row_share(len(data[1]), placement.cluster, distribution)
    features, labels = data[0][rows], data[1][rows]
    if labels.size == 0:
        raise DataError(
            f"host {placement.cluster.current_host} has no {split} rows ({distribution}); "
            "give every instance at least one part file"
        )
    return features, labels


def build_model_dir(
    train_dir: Path,
    validation_dir: Path | None,
    preprocessing_dir: Path,
    model_dir: Path,
    hp: Hyperparameters,
    placement: Placement | None = None,
) -> bool:
    """Train and write the servable model directory (booster, preprocessing, manifest).

    On several hosts every host trains on its share of the rows as one XGBoost group, and only
    the first host writes the model. Returns whether this host wrote it.
    """
    placement = placement or Placement()
    transform = preprocess.read_preprocessing(preprocessing_dir)
    train = _share(
        splits.read_split(train_dir, splits.TRAIN), placement, placement.train_distribution, "train"
    )
    validation = (
        _share(
            splits.read_split(validation_dir, splits.VALIDATION),
            placement,
            placement.validation_distribution,
            "validation",
        )
        if validation_dir is not None and validation_dir.exists()
        else None
    )
    with joined(placement.cluster, timeout_s=placement.timeout_s, port=placement.tracker_port):
        booster = train_booster(train, validation, hp)
    if not placement.cluster.is_master:
        log.info(
            "host %s trained its share; the first host writes the model",
            placement.cluster.current_host,
        )
        return False
    features = preprocess.read_feature_baseline(preprocessing_dir)
    # The prediction baseline: this host's training rows (all of them on one host).
    drift_baseline = features and with_predictions(features, predict(booster, train[0]))
    artifact.write_model_dir(model_dir, booster, transform, drift_baseline)
    return True


def run_train_processing(
    train_dir: Path,
    validation_dir: Path,
    preprocessing_dir: Path,
    output_dir: Path,
    hp: Hyperparameters,
    placement: Placement | None = None,
) -> Path | None:
    """Training as processing: Processing uploads outputs as they are, so write model.tar.gz
    (the first host only: the others return None and leave output_dir empty)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "model"
        if not build_model_dir(
            train_dir, validation_dir, preprocessing_dir, model_dir, hp, placement
        ):
            return None
        archive = output_dir / schema.MODEL_ARCHIVE_FILENAME
        artifact.package_model(model_dir, archive)
    return archive


def resolve_model_dir(model_input: Path, scratch: Path) -> Path:
    """A model directory, or one unpacked from model.tar.gz (file, or inside the input folder)."""
    archive = model_input / schema.MODEL_ARCHIVE_FILENAME if model_input.is_dir() else model_input
    if archive.is_file():
        artifact.unpack_model(archive, scratch)
        return scratch
    if (model_input / schema.MODEL_FILENAME).is_file():
        return model_input
    raise DataError(
        f"no {schema.MODEL_ARCHIVE_FILENAME} or {schema.MODEL_FILENAME} in {model_input}"
    )


def run_evaluate(
    model_input: Path,
    test_dir: Path,
    output_dir: Path,
    *,
    incumbent_input: Path | None = None,
    incumbent_url: str = "",
    tolerance: float = report.DEFAULT_RMSE_TOLERANCE,
) -> dict[str, Any]:
    """Score the model, and the incumbent when incumbent_input is given (its model.tar.gz)."""
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = resolve_model_dir(model_input, Path(tmp) / "challenger")
        incumbent = None
        if incumbent_input is not None:
            try:
                incumbent_dir = resolve_model_dir(incumbent_input, Path(tmp) / "incumbent")
            except DataError as exc:
                where = incumbent_url or incumbent_input
                raise DataError(f"the incumbent ({where}): {exc}") from None
            incumbent = Incumbent(incumbent_dir, incumbent_url or str(incumbent_input))
        return evaluate(model_dir, test_dir, output_dir, incumbent=incumbent, tolerance=tolerance)


def has_incumbent(incumbent_url: str, placeholder_url: str) -> bool:
    """Whether IncumbentModelUrl names an incumbent. A ProcessingInput needs an S3 object that
    exists, so "none" is spelled as a placeholder every execution has: InputDataUri itself (the
    pipeline passes both; see pipelines/steps.py). Empty also means none (a direct call)."""
    return bool(incumbent_url) and incumbent_url != placeholder_url


def run_stages(
    frame: pd.DataFrame, output_root: Path, hp: Hyperparameters, *, archive: bool
) -> dict[str, Any]:
    """Preprocess, train and evaluate in one process, wired once: output_root/{train,
    validation,test,preprocessing,model,evaluation}; the model as model.tar.gz (what a
    Processing job uploads) or as a directory. Returns the evaluation report."""
    preprocess.run(frame, output_root, seed=hp.seed)
    inputs = (
        output_root / splits.TRAIN,
        output_root / splits.VALIDATION,
        output_root / preprocess.PREPROCESSING_DIR,
    )
    test_dir, evaluation_dir = output_root / splits.TEST, output_root / "evaluation"
    if not archive:
        build_model_dir(*inputs, output_root / "model", hp)
        return evaluate(output_root / "model", test_dir, evaluation_dir)
    model_archive = run_train_processing(*inputs, output_root / "model", hp)
    assert model_archive is not None  # one host: it writes the model
    try:
        return run_evaluate(model_archive, test_dir, evaluation_dir)
    except BaseException:
        model_archive.unlink(missing_ok=True)  # a failed job leaves no model behind
        raise


def run_all_stages(
    input_path: Path, output_root: Path, *, verify: bool, hp: Hyperparameters
) -> None:
    """No-verb Processing: preprocess, train and evaluate in one job."""
    data_file = find_data_file(input_path)
    frame = load_abalone(str(data_file), expected_sha256=schema.ABALONE_SHA256 if verify else None)
    run_stages(frame, output_root, hp, archive=True)


def run_training_job(
    hyperparameters_file: Path,
    channels_dir: Path,
    model_dir: Path,
    placement: Placement | None = None,
) -> None:
    """Training-job mode: string hyperparameters, channels as folders, model into model_dir
    (on several hosts, from the first host only)."""
    values = json.loads(hyperparameters_file.read_text()) if hyperparameters_file.exists() else {}
    if not isinstance(values, dict):
        raise TrainingError(f"{hyperparameters_file} is not a JSON object")
    hp = Hyperparameters.from_strings(values)
    channel = {
        name: channels_dir / name
        for name in (
            contract.TRAIN_CHANNEL,
            contract.VALIDATION_CHANNEL,
            contract.PREPROCESSING_CHANNEL,
        )
    }
    for required in (contract.TRAIN_CHANNEL, contract.PREPROCESSING_CHANNEL):
        if not channel[required].is_dir():
            raise DataError(f"missing input channel {required!r} ({channel[required]})")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model"
        if build_model_dir(
            channel[contract.TRAIN_CHANNEL],
            channel[contract.VALIDATION_CHANNEL],
            channel[contract.PREPROCESSING_CHANNEL],
            staged,
            hp,
            placement,
        ):
            artifact.copy_model_dir(staged, model_dir)  # only complete models reach /opt/ml/model


def run_training_job_here(timeout: str) -> None:
    """Training-job mode at SageMaker's paths, the cluster from its resource config."""
    placement = training_placement(
        Path(contract.RESOURCE_CONFIG), Path(contract.INPUT_DATA_CONFIG), parse_timeout(timeout)
    )
    run_training_job(
        Path(contract.HYPERPARAMETERS),
        Path(contract.CHANNELS),
        Path(contract.TRAINING_MODEL_DIR),
        placement,
    )


def clear_partial_outputs(directory: Path) -> None:
    """Remove *.partial leftovers so a failed job uploads nothing half-written."""
    if directory.is_dir():
        for leftover in directory.rglob("*.partial"):
            leftover.unlink(missing_ok=True)
        for staging in directory.rglob(".model-*"):
            shutil.rmtree(staging, ignore_errors=True)
