"""The benchmark's model and payloads, both from the real abalone data.

The quick model has the sizes of the reference comparison (README, Performance): 200 trees of
depth 5 on the 10 encoded features. The deep model (300 trees grown to depth 8 on random
features and labels) has every tree full-depth and irregular, so no optimisation fitted to one
tree shape helps it (treepredict's table walker does not take it: XGBoost predicts every row).
Both are saved with `training.artifact.write_model_dir` (booster + the abalone preprocessing +
manifest), so the server takes raw abalone rows as well as encoded ones on either.
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
DEEP_TREES = 300
DEEP_DEPTH = 8
#: name -> (trees, max depth) of the benchmark's models.
MODELS = {"quick": (TREES, DEPTH), "deep": (DEEP_TREES, DEEP_DEPTH)}
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


def train_deep_model(transform: FeatureTransform, model_dir: Path, seed: int = 7) -> xgb.Booster:
    """300 trees of depth 8 on random data shaped like the encoded features (7 standardised
    measurements, a one-hot sex code), random labels: every tree grows to full depth."""
    rng = np.random.default_rng(seed)
    rows = 20_000
    categories = len(transform.sex_categories)
    numeric = rng.standard_normal((rows, schema.N_FEATURES - categories))
    one_hot = np.eye(categories)[rng.integers(0, categories, rows)]
    features = np.hstack([numeric, one_hot]).astype(np.float32)
    labels = rng.uniform(1, 30, rows)
    params = {"max_depth": DEEP_DEPTH, "eta": 0.1, "objective": "reg:squarederror"}
    params.update(tree_method="hist", seed=seed, nthread=0)
    booster = xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=DEEP_TREES)
    write_model_dir(model_dir, booster, transform)
    model_dir.chmod(0o755)
    return booster


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
    bodies = {
        "csv1": (contract.CSV, [enc_lines[0]], "encoded"),
        "csv1000": (contract.CSV, enc_lines[:1000], "encoded"),
        "raw1": (contract.CSV, [raw_lines[0]], "raw"),
        "raw1000": (contract.CSV, raw_lines[:1000], "raw"),
        "batch6mb": (contract.CSV, _fill(raw_lines, batch_bytes), "raw"),
        "enc6mb": (contract.CSV, _fill(enc_lines, batch_bytes), "encoded"),
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


def _fill(lines: list[str], limit: int) -> list[str]:
    """`lines` repeated in order, as many as fit in `limit` bytes with their line breaks."""
    batch: list[str] = []
    size = 0
    while True:
        for line in lines:
            if size + len(line) + 1 > limit:
                return batch
            batch.append(line)
            size += len(line) + 1


def _write(out_dir: Path, name: str, content_type: str, body: str, rows: int, kind: str) -> Payload:
    path = out_dir / f"{name}.body"
    path.write_text(body)
    return Payload(name, path, content_type, rows, kind, path.stat().st_size)


def payload_index(payloads: dict[str, Payload]) -> list[dict[str, object]]:
    return [{**asdict(p), "path": str(p.path)} for p in payloads.values()]
