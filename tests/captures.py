"""Capture trees for the monitor's tests: abalone rows sent as a real gateway would capture them
(container/capture.py's record and layout), with the predictions of a real model."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from container import codecs, contract
from container.capture import Exchange, capture_record, file_name, hour_dir
from training import schema

Predict = Callable[[bytes], np.ndarray]


def shifted(frame: pd.DataFrame, shifts: dict[str, float]) -> pd.DataFrame:
    """The rows with each named column multiplied by its factor."""
    out = frame.copy()
    for name, factor in shifts.items():
        out[name] = out[name] * factor
    return out


def raw_csv(frame: pd.DataFrame) -> bytes:
    return frame[list(schema.RAW_COLUMNS)].to_csv(header=False, index=False).encode()


def predictor_of(predictor: Any) -> Predict:
    """A container.model.Predictor as a function of a raw CSV body."""
    return lambda body: predictor.predict(predictor.features(codecs.decode(body, contract.CSV)))


def capture_lines(
    frame: pd.DataFrame, predict: Predict, start: datetime, rows_per_request: int = 10
) -> list[str]:
    """One capture line per request of `rows_per_request` raw CSV rows, a second apart."""
    lines = []
    for number, first in enumerate(range(0, len(frame), rows_per_request)):
        body = raw_csv(frame.iloc[first : first + rows_per_request])
        exchange = Exchange(
            endpoint="abalone-test",
            body=body,
            content_type=contract.CSV,
            output=codecs.encode_csv(predict(body)),
            output_content_type=contract.CSV,
            time=start + timedelta(seconds=number),
        )
        lines.append(json.dumps(capture_record(exchange, f"event-{number}")))
    return lines


def write_capture_file(root: Path, lines: list[str], when: datetime, endpoint: str) -> Path:
    """The lines in one file of <root>/<endpoint>/AllTraffic/yyyy/mm/dd/hh/."""
    directory = hour_dir(root, endpoint, contract.PRODUCTION_VARIANT, when)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(when, f"{len(list(directory.iterdir())):08d}-test")
    path.write_text("".join(f"{line}\n" for line in lines))
    return path
