"""The /invocations logic as a pure function: body and headers in, body and media type out."""

from __future__ import annotations

from typing import Final, NamedTuple

import numpy as np

from container import codecs
from container.contract import CSV, JSONLINES
from container.inputs import record_cells
from container.model import Predictor

#: Output types whose body for all rows is the bodies for consecutive rows, concatenated.
_LINE_PER_ROW: Final = frozenset({CSV, JSONLINES})


class Prediction(NamedTuple):
    body: bytes
    media_type: str
    rows: int


def predict_payload(
    body: bytes | bytearray,
    content_type: str | None,
    accept: str | None,
    predictor: Predictor,
    default_accept: str,
    limits: codecs.Limits = codecs.DEFAULT_LIMITS,
) -> Prediction:
    """Decode, validate, predict, encode. The output type is settled before any work (406 first).
    A CSV body above codecs.CHUNK_BYTES goes a chunk of rows at a time (_predict_chunks)."""
    media_type = codecs.choose_accept(accept, default_accept)
    if len(body) > codecs.CHUNK_BYTES and codecs.normalize_media_type(content_type or "") == CSV:
        return _predict_chunks(body, media_type, predictor, limits)
    rows = codecs.decode(body, content_type, limits, record_cells)
    predictions = predictor.predict(predictor.features(rows))
    return Prediction(codecs.encode(predictions, media_type), media_type, len(rows))


def _predict_chunks(
    body: bytes | bytearray, media_type: str, predictor: Predictor, limits: codecs.Limits
) -> Prediction:
    """Each chunk decoded, checked, predicted and, for line-per-row outputs, encoded before the
    next is read: memory holds the body, the output and one chunk's work (a few hundred KiB)
    instead of the whole body as text, lines, float64 and float32 matrices at once. The answer
    is sent only once every chunk has passed, so a bad row anywhere is still a 400."""
    parts: list[bytes] = []
    predictions: list[np.ndarray] = []
    count = 0
    for rows in codecs.decode_csv_chunks(body, limits, codecs.CHUNK_BYTES):
        chunk = predictor.predict(predictor.features(rows), small_batch=False)
        count += len(rows)
        if media_type in _LINE_PER_ROW:
            parts.append(codecs.encode(chunk, media_type))
        else:
            predictions.append(chunk)
    if predictions:
        parts.append(codecs.encode(np.concatenate(predictions), media_type))
    return Prediction(b"".join(parts), media_type, count)
