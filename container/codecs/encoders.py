"""Response encoders: predictions to a body in each output type."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

import numpy as np

from container.contract import CSV, JSON, JSONLINES


def encode_csv(predictions: np.ndarray) -> bytes:
    return ("\n".join(map(repr, predictions.tolist())) + "\n").encode()


def encode_json(predictions: np.ndarray) -> bytes:
    return json.dumps({"predictions": [{"score": v} for v in predictions.tolist()]}).encode()


def encode_jsonlines(predictions: np.ndarray) -> bytes:
    return "".join(json.dumps({"score": v}) + "\n" for v in predictions.tolist()).encode()


ENCODERS: Final[dict[str, Callable[[np.ndarray], bytes]]] = {
    CSV: encode_csv,
    JSON: encode_json,
    JSONLINES: encode_jsonlines,
}


def encode(predictions: np.ndarray, media_type: str) -> bytes:
    return ENCODERS[media_type](predictions)
