"""Preprocess: seeded train/validation/test split, the transform fitted on the train split only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from container import contract
from training import baseline, schema, splits
from training.features import FeatureTransform, read_transform, write_transform

#: The split output's folder for the fitted transform (the pipeline's preprocessing output).
PREPROCESSING_DIR = contract.PREPROCESSING
MIN_ROWS = 20


def split_frame(
    frame: pd.DataFrame, *, validation_size: float = 0.15, test_size: float = 0.15, seed: int = 42
) -> dict[str, pd.DataFrame]:
    """Split rows into train/validation/test by fractions of the whole, reproducibly."""
    if len(frame) < MIN_ROWS:
        from training.errors import DataError

        raise DataError(f"only {len(frame)} data rows; at least {MIN_ROWS} are needed to split")
    rest, test = train_test_split(frame, test_size=test_size, random_state=seed)
    train, validation = train_test_split(
        rest, test_size=validation_size / (1.0 - test_size), random_state=seed
    )
    return {splits.TRAIN: train, splits.VALIDATION: validation, splits.TEST: test}


def run(
    frame: pd.DataFrame,
    output_dir: Path,
    *,
    validation_size: float = 0.15,
    test_size: float = 0.15,
    seed: int = 42,
    parts: int = 1,
) -> FeatureTransform:
    """Write the encoded splits to output_dir/<split>/ and the fitted transform.

    The transform is fitted on the whole train split; only then is each split cut into `parts`
    files (one: <split>.csv; several: <split>-part-NNNNN.csv) for instances to share.
    """
    frames = split_frame(frame, validation_size=validation_size, test_size=test_size, seed=seed)
    transform = FeatureTransform.fit(frames[splits.TRAIN])
    for name, part in frames.items():
        labels = part[schema.TARGET].to_numpy(dtype=float)
        features = transform.transform(part)
        splits.write_split_parts(output_dir / name, name, features, labels, parts)
    write_transform(output_dir / PREPROCESSING_DIR / schema.PREPROCESSING_FILENAME, transform)
    # The drift baseline travels with the transform to training, which adds the predictions.
    baseline.write_baseline(
        output_dir / PREPROCESSING_DIR / schema.BASELINE_FILENAME,
        baseline.feature_baseline(frames[splits.TRAIN]),
    )
    return transform


def read_feature_baseline(directory: Path) -> dict[str, Any] | None:
    """The training split's baseline in a preprocessing directory; None when an older
    preprocessing output has none (the model then ships without one)."""
    from training.errors import DataError

    path = directory / schema.BASELINE_FILENAME
    if not path.exists():
        return None
    try:
        return baseline.read_baseline(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable baseline: {exc}", source=str(path)) from None


def read_preprocessing(directory: Path) -> FeatureTransform:
    """The transform in a preprocessing output (or channel) directory, as a DataError if bad."""
    from training.errors import DataError

    path = directory / schema.PREPROCESSING_FILENAME
    try:
        return read_transform(path)
    except FileNotFoundError:
        raise DataError(f"missing {path.name} in {directory}") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"unreadable preprocessing: {exc}", source=str(path)) from None
