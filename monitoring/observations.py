"""Captured invocations as the raw abalone values the model saw and the predictions it gave,
decoded with the server's own codecs (container/codecs) so the monitor reads every body the
endpoint accepts: raw rows (with the sex letter) and encoded feature rows, in CSV, JSON, JSON
Lines or libsvm; predictions in CSV, JSON or JSON Lines.

Encoded rows are turned back into raw values with the model's fitted transform (scaled value x
scale + mean; the one-hot sex columns back to a letter), so both kinds meet the baseline, which
describes the raw training split.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from container import codecs
from container.codecs import Limits, Rows
from container.errors import ServingError
from container.inputs import record_cells
from monitoring.captures import CapturedRecord, Malformed, Payload
from training import schema
from training.features import FeatureTransform

_N_NUMERIC = len(schema.NUMERIC_COLUMNS)
#: Wide enough for any row the server takes (raw fields or features).
_LIMITS = Limits(max_columns=max(schema.N_FEATURES, schema.N_RAW_FIELDS))


@dataclass
class Observations:
    """The window's rows: raw numeric values (n x 7, NaN = missing), sex codes (None = missing),
    and the predictions; `records` counts the captured invocations they came from."""

    numeric: list[np.ndarray] = field(default_factory=list)
    sex: list[str | None] = field(default_factory=list)
    predictions: list[np.ndarray] = field(default_factory=list)
    records: int = 0

    def numeric_matrix(self) -> np.ndarray:
        if not self.numeric:
            return np.empty((0, _N_NUMERIC))
        return np.vstack(self.numeric)

    def prediction_vector(self) -> np.ndarray:
        return np.concatenate(self.predictions) if self.predictions else np.empty(0)


def observe(
    records: Iterable[CapturedRecord], transform: FeatureTransform, malformed: Malformed
) -> Observations:
    """Decode every record; one that cannot be decoded is counted in `malformed` and skipped."""
    seen = Observations()
    for record in records:
        try:
            numeric, sex = decode_inputs(record.input, transform)
            predictions = decode_predictions(record.output)
        except ValueError as exc:
            malformed.add(record.source, str(exc))
            continue
        if len(predictions) != len(sex):
            malformed.add(record.source, f"{len(sex)} rows but {len(predictions)} predictions")
            continue
        seen.numeric.append(numeric)
        seen.sex.extend(sex)
        seen.predictions.append(predictions)
        seen.records += 1
    return seen


def decode_inputs(
    payload: Payload, transform: FeatureTransform
) -> tuple[np.ndarray, list[str | None]]:
    """Raw numeric values (n x 7) and sex codes of one request body; ValueError if the server
    would not have taken it."""
    try:
        rows = codecs.decode(payload.data, payload.content_type, _LIMITS, record_cells)
    except ServingError as exc:
        raise ValueError(f"input: {exc.message}") from None
    if rows.categories is not None:
        return _raw(rows)
    return _from_features(rows, transform)


def _raw(rows: Rows) -> tuple[np.ndarray, list[str | None]]:
    assert rows.categories is not None
    if rows.values.shape[1] != _N_NUMERIC:
        raise ValueError(f"input: raw rows of {rows.values.shape[1] + 1} fields")
    return rows.values, [code.strip().upper() or None for code in rows.categories]


def _from_features(rows: Rows, transform: FeatureTransform) -> tuple[np.ndarray, list[str | None]]:
    values = rows.values
    if rows.sparse and values.shape[1] < schema.N_FEATURES:
        padded = np.full((len(rows), schema.N_FEATURES), np.nan)
        padded[:, : values.shape[1]] = values
        values = padded
    if values.shape[1] != schema.N_FEATURES:
        raise ValueError(f"input: rows of {values.shape[1]} values, not {schema.N_FEATURES}")
    sex, numeric = transform.decode(values)
    return numeric, sex


def decode_predictions(payload: Payload) -> np.ndarray:
    """The predictions in a response body (the server's CSV, JSON or JSON Lines encodings)."""
    media_type = codecs.normalize_media_type(payload.content_type)
    try:
        text = payload.data.decode("utf-8")
        if media_type == codecs.CSV:
            values = [float(line) for line in text.split("\n") if line.strip()]
        elif media_type == codecs.JSON:
            values = [float(item["score"]) for item in json.loads(text)["predictions"]]
        elif media_type == codecs.JSONLINES:
            values = [float(json.loads(line)["score"]) for line in text.split("\n") if line.strip()]
        else:
            raise ValueError(f"output: unexpected content type {payload.content_type!r}")
    except (UnicodeDecodeError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"output: not the server's {media_type} predictions ({exc})") from None
    return np.asarray(values, dtype=np.float64)
