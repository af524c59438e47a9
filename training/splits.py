"""Encoded data splits as the stages exchange them: headerless CSV, label first (XGBoost's
convention for CSV training input), one folder per split."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Final

import numpy as np

from container import contract
from training import schema
from training.errors import DataError

TRAIN: Final = contract.TRAIN_SPLIT
VALIDATION: Final = contract.VALIDATION_SPLIT
TEST: Final = contract.TEST_SPLIT
SPLITS: Final = (TRAIN, VALIDATION, TEST)


def split_file(split_dir: Path, split: str) -> Path:
    return split_dir / f"{split}.csv"


def write_split(split_dir: Path, split: str, features: np.ndarray, labels: np.ndarray) -> Path:
    """Write label + features; via a partial file so readers never see half a split."""
    split_dir.mkdir(parents=True, exist_ok=True)
    path = split_file(split_dir, split)
    partial = path.with_name(path.name + ".partial")
    table = np.column_stack([labels, features])
    np.savetxt(partial, table, delimiter=",", fmt="%.9g")
    os.replace(partial, path)
    return path


def part_file(split_dir: Path, split: str, part: int) -> Path:
    return split_dir / f"{split}-part-{part:05d}.csv"


def write_split_parts(
    split_dir: Path, split: str, features: np.ndarray, labels: np.ndarray, parts: int
) -> list[Path]:
    """Write a split as `parts` files of consecutive rows (one part: <split>.csv, as always),
    so that SageMaker can give each instance its own files (ShardedByS3Key)."""
    if parts < 1 or parts > max(len(labels), 1):
        raise DataError(f"cannot write {len(labels)} {split} rows as {parts} part files")
    if parts == 1:
        return [write_split(split_dir, split, features, labels)]
    bounds = np.linspace(0, len(labels), parts + 1).astype(int)
    written = []
    for part, (start, stop) in enumerate(itertools.pairwise(bounds)):
        path = write_split(split_dir, split, features[start:stop], labels[start:stop])
        written.append(path.replace(part_file(split_dir, split, part)))
    return written


def read_split(split_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one split written by write_split(_parts) (or the label-first CSVs in split_dir,
    in name order: a host's share of the part files)."""
    tables = [_read_table(path) for path in _find_csvs(split_dir, split)]
    table = np.concatenate(tables) if len(tables) > 1 else tables[0]
    return table[:, 1:].astype(np.float32), table[:, 0]


def _read_table(path: Path) -> np.ndarray:
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DataError(f"not a numeric label-first CSV: {exc}", source=str(path)) from None
    if table.size == 0:
        raise DataError("no data rows", source=str(path))
    if table.shape[1] != schema.N_FEATURES + 1:
        raise DataError(
            f"expected {schema.N_FEATURES + 1} columns (label + {schema.N_FEATURES} features), "
            f"got {table.shape[1]}",
            source=str(path),
        )
    bad_rows = np.flatnonzero(~np.isfinite(table).all(axis=1))
    if bad_rows.size:
        raise DataError("value is not finite", source=str(path), line=int(bad_rows[0]) + 1)
    return table


def _find_csvs(split_dir: Path, split: str) -> list[Path]:
    preferred = split_file(split_dir, split)
    if preferred.is_file():
        return [preferred]
    found = sorted(split_dir.glob("*.csv")) if split_dir.is_dir() else []
    if found:
        return found
    raise DataError(f"expected {preferred.name} (or .csv part files) in {split_dir}")
