"""The one feature transform: impute and scale the numeric columns, one-hot encode sex.

Fitted on the training split only, stored as plain JSON in the model directory, and applied by the
server to raw rows, so training and serving encode rows the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from training import schema

if TYPE_CHECKING:  # the server encodes numpy rows and never needs pandas
    import pandas as pd

_FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeatureTransform:
    """Per-column medians (for missing values), means and scales of the numeric columns."""

    medians: tuple[float, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    sex_categories: tuple[str, ...] = schema.SEX_CATEGORIES

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> FeatureTransform:
        numeric = frame[list(schema.NUMERIC_COLUMNS)].to_numpy(dtype=np.float64)
        medians = np.nanmedian(numeric, axis=0)
        filled = np.where(np.isnan(numeric), medians, numeric)
        scales = filled.std(axis=0)
        scales[scales == 0] = 1.0  # a constant column stays 0 after centring instead of NaN
        return cls(
            medians=tuple(float(v) for v in medians),
            means=tuple(float(v) for v in filled.mean(axis=0)),
            scales=tuple(float(v) for v in scales),
        )

    def encode(self, sex_codes: Sequence[str], numeric: np.ndarray) -> np.ndarray:
        """Encode validated raw values: sex codes from sex_categories and an (n, 7) array."""
        numeric = np.asarray(numeric, dtype=np.float64)
        filled = np.where(np.isnan(numeric), np.asarray(self.medians), numeric)
        scaled = (filled - np.asarray(self.means)) / np.asarray(self.scales)
        one_hot = np.zeros((len(sex_codes), len(self.sex_categories)))
        index = {code: i for i, code in enumerate(self.sex_categories)}
        for row, code in enumerate(sex_codes):
            one_hot[row, index[code]] = 1.0
        return np.hstack([scaled, one_hot]).astype(np.float32)

    def decode(self, features: np.ndarray) -> tuple[list[str | None], np.ndarray]:
        """encode's inverse: the sex codes (None where a row's sex columns are not exactly one
        1.0) and the (n, 7) raw measurements, scaled value x scale + mean. Exact but for a
        missing value, which encode replaced with its median."""
        n_numeric = len(self.means)
        scaled = np.asarray(features[:, :n_numeric], dtype=np.float64)
        numeric = scaled * np.asarray(self.scales) + np.asarray(self.means)
        hot = np.asarray(features[:, n_numeric:]) == 1.0
        single = hot.sum(axis=1) == 1
        index = hot.argmax(axis=1)
        codes = [
            self.sex_categories[i] if ok else None for i, ok in zip(index, single, strict=True)
        ]
        return codes, numeric

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode a frame with the raw columns into the model's feature matrix (float32)."""
        numeric = frame[list(schema.NUMERIC_COLUMNS)].to_numpy(dtype=np.float64)
        return self.encode(list(frame[schema.SEX]), numeric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": _FORMAT_VERSION,
            "raw_columns": list(schema.RAW_COLUMNS),
            "feature_names": list(schema.FEATURE_NAMES),
            "numeric_columns": list(schema.NUMERIC_COLUMNS),
            "medians": list(self.medians),
            "means": list(self.means),
            "scales": list(self.scales),
            "sex_categories": list(self.sex_categories),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureTransform:
        """Rebuild from to_dict() output; ValueError when it does not match this code's schema."""
        if not isinstance(data, dict):
            raise ValueError("preprocessing must be a JSON object")
        if data.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported preprocessing format {data.get('format_version')!r}")
        if data.get("feature_names") != list(schema.FEATURE_NAMES):
            raise ValueError("preprocessing feature names do not match the feature schema")
        n = len(schema.NUMERIC_COLUMNS)
        values = {k: tuple(float(v) for v in data[k]) for k in ("medians", "means", "scales")}
        if any(len(v) != n for v in values.values()) or any(s <= 0 for s in values["scales"]):
            raise ValueError("preprocessing statistics are malformed")
        if tuple(data["sex_categories"]) != schema.SEX_CATEGORIES:
            # The feature names fix the one-hot order; any other order would swap columns.
            raise ValueError(f"sex categories must be {list(schema.SEX_CATEGORIES)}")
        return cls(**values)


def write_transform(path: Path, transform: FeatureTransform) -> None:
    """The one writer of the preprocessing file (the split output and the model directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(transform.to_dict(), indent=2, sort_keys=True) + "\n")


def read_transform(path: Path) -> FeatureTransform:
    """The one reader: OSError when the file cannot be read, ValueError when it is not a
    transform this code wrote (callers turn these into their own errors)."""
    try:
        return FeatureTransform.from_dict(json.loads(path.read_text()))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"preprocessing is malformed: {exc}") from None
