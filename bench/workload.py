"""The benchmark's model and payloads, both from the real abalone data.

The model has the sizes of the reference comparison (README, Performance): 200 trees of depth 5
on the 10 encoded features, saved with `training.artifact.write_model_dir` (booster +
preprocessing + manifest), so the server takes raw abalone rows as well as encoded ones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import xgboost as xgb

from container import contract
from training import schema
from training.artifact import write_model_dir
from training.data import load_abalone
from training.features import FeatureTransform
from training.hyperparameters import Hyperparameters
from training.train import train_booster

TREES = 200
DEPTH = 5
#: A batch-transform MULTI_RECORD request: just under 6 MB (the limit is 6 MiB).
BATCH_BYTES = 6_000_000


@dataclass(frozen=True)
class Payload:
    name: str
    path: Path
    content_type: str
    rows: int
    kind: str  # "encoded" or "raw": which in-process floor applies
    nbytes: int


def train_model(data: str, model_dir: Path) -> tuple[xgb.Booster, FeatureTransform, np.ndarray]:
    """Train the benchmark model on all rows; returns the booster, transform and raw frame rows."""
    frame = load_abalone(data)
    transform = FeatureTransform.fit(frame)
    features = transform.transform(frame)
    labels = frame[schema.TARGET].to_numpy(dtype=np.float64)
    hp = Hyperparameters(num_round=TREES, early_stopping_rounds=0, max_depth=DEPTH)
    booster = train_booster((features, labels), None, hp, emit=lambda _line: None)
    assert booster.num_boosted_rounds() == TREES, booster.num_boosted_rounds()
    write_model_dir(model_dir, booster, transform)
    model_dir.chmod(0o755)
    raw = frame[list(schema.RAW_COLUMNS)].to_numpy(dtype=object)
    return booster, transform, raw


def _encoded_line(values: np.ndarray) -> str:
    return ",".join(f"{float(v):.9g}" for v in values)


def _raw_line(values: np.ndarray) -> str:
    return ",".join([str(values[0]), *(f"{float(v):g}" for v in values[1:])])


def write_payloads(
    out_dir: Path, transform: FeatureTransform, raw: np.ndarray, batch_bytes: int = BATCH_BYTES
) -> dict[str, Payload]:
    """Write every request body the scenarios send; returns them by name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    encoded = transform.encode([str(s) for s in raw[:, 0]], raw[:, 1:].astype(np.float64))
    enc_lines = [_encoded_line(row) for row in encoded]
    raw_lines = [_raw_line(row) for row in raw]
    batch: list[str] = []
    size = 0
    while True:
        for line in raw_lines:
            if size + len(line) + 1 > batch_bytes:
                break
            batch.append(line)
            size += len(line) + 1
        else:
            continue
        break
    bodies = {
        "csv1": (contract.CSV, [enc_lines[0]], "encoded"),
        "csv1000": (contract.CSV, enc_lines[:1000], "encoded"),
        "raw1": (contract.CSV, [raw_lines[0]], "raw"),
        "raw1000": (contract.CSV, raw_lines[:1000], "raw"),
        "batch6mb": (contract.CSV, batch, "raw"),
    }
    payloads: dict[str, Payload] = {}
    for name, (content_type, lines, kind) in bodies.items():
        payloads[name] = _write(
            out_dir, name, content_type, "\n".join(lines) + "\n", len(lines), kind
        )
    for name, rows, source in (("json1", 1, encoded[:1]), ("json1000", 1000, encoded[:1000])):
        body = json.dumps({"instances": [[float(f"{v:.9g}") for v in row] for row in source]})
        payloads[name] = _write(out_dir, name, contract.JSON, body, rows, "encoded")
    return payloads


def _write(out_dir: Path, name: str, content_type: str, body: str, rows: int, kind: str) -> Payload:
    path = out_dir / f"{name}.body"
    path.write_text(body)
    return Payload(name, path, content_type, rows, kind, path.stat().st_size)


def payload_index(payloads: dict[str, Payload]) -> list[dict[str, object]]:
    return [{**asdict(p), "path": str(p.path)} for p in payloads.values()]
