"""The naive reference: the minimal server anyone would write, run by `make bench` beside the image.

gunicorn `sync` workers (as many as the image's), one OpenMP thread each, np.loadtxt into
float32, booster.inplace_predict, str() per prediction. Raw abalone rows (a sex code first) go
through the model's own preprocessing, read the plain way. No limits, no validation beyond what
numpy refuses: it is the yardstick for throughput, not a server to deploy. The benchmark runs it
in the same image (its Python and packages; this file mounted read-only):
`python -m gunicorn -k sync -w N bench.reference_app:app`.
"""

import io
from pathlib import Path

import numpy as np
import xgboost as xgb
from flask import Flask, Response, request

from container import contract
from training.features import read_transform

MODEL_DIR = Path(contract.MODEL_DIR.default)
booster = xgb.Booster(model_file=MODEL_DIR / contract.MODEL_FILENAME)
booster.set_param({"nthread": 1})
transform = read_transform(MODEL_DIR / contract.PREPROCESSING_FILENAME)
app = Flask(__name__)


@app.route("/ping")
def ping() -> str:
    return ""


@app.route("/invocations", methods=["POST"])
def invocations() -> Response:
    body = request.get_data()
    if body[:1].isalpha():  # raw rows: sex code, then the seven measurements
        cells = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=str, ndmin=2)
        rows = transform.encode(list(cells[:, 0]), cells[:, 1:].astype(np.float64))
    else:
        rows = np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.float32, ndmin=2)
    predictions = booster.inplace_predict(rows)
    return Response("\n".join(map(str, predictions.tolist())) + "\n", mimetype="text/csv")
