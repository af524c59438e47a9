"""The abalone model's named inputs: a JSON record's fields mapped onto the row the model takes,
the raw UCI columns or the encoded features (the wire format knows no field names)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from container.errors import InvalidPayload
from training import schema

# Keys are matched case-insensitively ("Whole weight" == "whole_weight", "sex_f" == "sex_F").
_RAW_KEYS: Final = tuple(name.lower() for name in schema.RAW_COLUMNS)
_FEATURE_KEYS: Final = tuple(name.lower() for name in schema.FEATURE_NAMES)
_MAX_KEYS: Final = max(len(_RAW_KEYS), len(_FEATURE_KEYS))
_EXPECTED: Final = (
    f"named fields must be the raw columns ({', '.join(schema.RAW_COLUMNS)}) "
    f"or the features ({', '.join(schema.FEATURE_NAMES)})"
)


def record_cells(record: Mapping[str, Any], number: int) -> list[Any]:
    """The record's values in the model's order; InvalidPayload naming row `number` if its
    fields are neither the raw columns nor the features."""
    if len(record) > _MAX_KEYS:  # refused before thousands of keys are normalised and sorted
        raise InvalidPayload(f"row {number}: {_EXPECTED}; got {len(record)} fields")
    fields = {
        str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in record.items()
    }
    for names in (_RAW_KEYS, _FEATURE_KEYS):
        if set(fields) == set(names):
            return [fields[name] for name in names]
    raise InvalidPayload(f"row {number}: {_EXPECTED}; got {', '.join(sorted(fields))[:300]}")
