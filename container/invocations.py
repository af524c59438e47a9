"""The /invocations logic as a pure function: body and headers in, body and media type out."""

from __future__ import annotations

from typing import NamedTuple

from container import codecs
from container.inputs import record_cells
from container.model import Predictor


class Prediction(NamedTuple):
    body: bytes
    media_type: str
    rows: int


def predict_payload(
    body: bytes,
    content_type: str | None,
    accept: str | None,
    predictor: Predictor,
    default_accept: str,
    limits: codecs.Limits = codecs.DEFAULT_LIMITS,
) -> Prediction:
    """Decode, validate, predict, encode. The output type is settled before any work (406 first)."""
    media_type = codecs.choose_accept(accept, default_accept)
    rows = codecs.decode(body, content_type, limits, record_cells)
    predictions = predictor.predict(predictor.features(rows))
    return Prediction(codecs.encode(predictions, media_type), media_type, len(rows))
