"""The in-process floor: CSV parse + XGBoost `inplace_predict`, one thread on one core.

Run as its own process (`python -m bench.floor ...`), pinned to one CPU with OMP_NUM_THREADS=1,
on the same model and the same payload files as the servers. For each payload it times several
plain parsers and keeps the fastest as the floor; it also times the real server's own pipeline
(`container.invocations.predict_payload`: decode, validate, encode raw rows, predict, encode the
output) in the same process, so the cost of the code outside HTTP is known.
Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from container import contract


def per_call_seconds(fn: Callable[[], object], budget_s: float) -> float:
    """Seconds per call in the fastest block (blocks of >= 20 ms, within budget_s): a floor is
    the best this machine does, and the minimum is the estimate other load moves least."""
    fn()
    n = 1
    while True:
        started = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - started
        if elapsed >= 0.02:
            break
        n *= 4
    blocks = [elapsed / n]
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline and len(blocks) < 50:
        started = time.perf_counter()
        for _ in range(n):
            fn()
        blocks.append((time.perf_counter() - started) / n)
    return min(blocks)


def encoded_parsers() -> dict[str, Callable[[bytes], np.ndarray]]:
    def split(body: bytes) -> np.ndarray:
        return np.array([line.split(b",") for line in body.splitlines() if line], dtype=np.float32)

    def fromstring(body: bytes) -> np.ndarray:
        flat = np.fromstring(body.replace(b"\n", b",").rstrip(b","), dtype=np.float32, sep=",")
        return flat.reshape(body.count(b"\n") or 1, -1)

    def loadtxt(body: bytes) -> np.ndarray:
        return np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.float32, ndmin=2)

    return {"split+np.array": split, "np.fromstring": fromstring, "np.loadtxt": loadtxt}


def raw_parsers(transform: Any) -> dict[str, Callable[[bytes], np.ndarray]]:
    medians = np.asarray(transform.medians)
    means = np.asarray(transform.means)
    scales = np.asarray(transform.scales)
    categories = np.array([c.encode() for c in transform.sex_categories])

    def split_vectorized(body: bytes) -> np.ndarray:
        cells = np.array([line.split(b",") for line in body.splitlines() if line])
        numeric = cells[:, 1:].astype(np.float64)
        filled = np.where(np.isnan(numeric), medians, numeric)
        one_hot = cells[:, :1] == categories
        return np.hstack([(filled - means) / scales, one_hot]).astype(np.float32)

    return {"split+vectorised transform": split_vectorized}


def reference_features(body: bytes, kind: str, transform: Any) -> np.ndarray:
    """The features by the training code's own transform: what every parser must reproduce."""
    lines = [line.split(",") for line in body.decode().splitlines() if line.strip()]
    if kind == "encoded":
        return np.array(lines, dtype=np.float64).astype(np.float32)
    numeric = np.array([line[1:] for line in lines], dtype=np.float64)
    return np.asarray(transform.encode([line[0].strip().upper() for line in lines], numeric))


def server_pipeline(predictor: Any) -> Callable[[bytes, str], object]:
    """container.invocations.predict_payload, with a batch-sized row limit where it has one."""
    from container import codecs
    from container.invocations import predict_payload

    kwargs: dict[str, Any] = {}
    if hasattr(codecs, "Limits"):
        with contextlib.suppress(TypeError):
            kwargs["limits"] = codecs.Limits(max_rows=10**7)
    return lambda body, content_type: predict_payload(
        body, content_type, contract.CSV, predictor, contract.CSV, **kwargs
    )


def measure(model_dir: Path, payloads: list[dict[str, Any]], budget_s: float) -> dict[str, Any]:
    from container.model import load_model

    predictor = load_model(model_dir)
    booster = predictor.booster
    transform = predictor.transform
    pipeline = server_pipeline(predictor)
    results: dict[str, Any] = {}
    for payload in payloads:
        body = Path(payload["path"]).read_bytes()
        content_type = payload["content_type"]
        entry: dict[str, Any] = {"rows": payload["rows"], "parsers": {}}
        if content_type == contract.CSV:
            features = reference_features(body, payload["kind"], transform)
            expected = booster.inplace_predict(features, validate_features=False)
            parsers = encoded_parsers() if payload["kind"] == "encoded" else raw_parsers(transform)
            for name, parse in parsers.items():
                got = booster.inplace_predict(parse(body), validate_features=False)
                if np.max(np.abs(got - expected)) > 1e-5:
                    continue  # a parser that changes the answer is not a floor
                entry["parsers"][name] = {
                    "parse_s": per_call_seconds(lambda p=parse, b=body: p(b), budget_s / 4),
                    "total_s": per_call_seconds(
                        lambda p=parse, b=body: booster.inplace_predict(
                            p(b), validate_features=False
                        ),
                        budget_s / 2,
                    ),
                }
            entry["predict_s"] = per_call_seconds(
                lambda f=features: booster.inplace_predict(f, validate_features=False), budget_s / 4
            )
            best = min(entry["parsers"].items(), key=lambda kv: kv[1]["total_s"])
            entry["floor_parser"] = best[0]
            entry["floor_s"] = best[1]["total_s"]
        try:
            entry["pipeline_s"] = per_call_seconds(
                lambda b=body, c=content_type: pipeline(b, c), budget_s / 2
            )
        except Exception as exc:  # the server refuses this payload in-process: say so, go on
            entry["pipeline_error"] = f"{type(exc).__name__}: {exc}"[:300]
        results[payload["name"]] = entry
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--payloads", type=Path, required=True, help="JSON list of payloads")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last)")
    parser.add_argument("--budget-s", type=float, default=1.0, help="seconds per payload")
    args = parser.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("run with OMP_NUM_THREADS=1 (set before xgboost is imported)", file=sys.stderr)
        return 2
    cpus = sorted(os.sched_getaffinity(0))
    cpu = cpus[-1] if args.cpu is None else args.cpu
    os.sched_setaffinity(0, {cpu})
    payloads = json.loads(args.payloads.read_text())
    results = measure(args.model_dir, payloads, args.budget_s)
    json.dump({"cpu": cpu, "payloads": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
