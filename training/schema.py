"""What training and serving must agree on: columns, encoding, artifact file names, metric path."""

from __future__ import annotations

from typing import Final

from container import contract

#: Raw abalone columns, in the order of the UCI file (no header row there).
SEX: Final = "sex"
NUMERIC_COLUMNS: Final = (
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
)
RAW_COLUMNS: Final = (SEX, *NUMERIC_COLUMNS)
TARGET: Final = "rings"
FILE_COLUMNS: Final = (*RAW_COLUMNS, TARGET)

#: Sex codes in one-hot order (alphabetical, as scikit-learn's OneHotEncoder orders them).
SEX_CATEGORIES: Final = ("F", "I", "M")

#: Encoded model features: the scaled numeric columns, then the one-hot sex indicators.
FEATURE_NAMES: Final = (*NUMERIC_COLUMNS, *(f"sex_{c}" for c in SEX_CATEGORIES))
N_FEATURES: Final = len(FEATURE_NAMES)
N_RAW_FIELDS: Final = len(RAW_COLUMNS)

#: Model directory layout, declared in the contract (container/contract.py) and named here too
#: for the training code that writes it.
MODEL_FILENAME: Final = contract.MODEL_FILENAME
PREPROCESSING_FILENAME: Final = contract.PREPROCESSING_FILENAME
MANIFEST_FILENAME: Final = contract.MANIFEST_FILENAME
BASELINE_FILENAME: Final = contract.BASELINE_FILENAME
MODEL_ARCHIVE_FILENAME: Final = contract.MODEL_ARCHIVE_FILENAME

#: Known sha256 of the UCI abalone.data file.
ABALONE_SHA256: Final = "de37cdcdcaaa50c309d514f248f7c2302a5f1f88c168905eba23fe2fbc78449f"
