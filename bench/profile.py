"""Where one request's time goes, in one process on one core (`python -m bench.profile`).

Times each stage of the real server's /invocations on the benchmark's payloads (content
negotiation, decode, features, predict, encode), then the whole app called as WSGI (no socket,
no gunicorn): with the access log on and off, through Flask instead of the fast path, and the
framework floor's app; finally a cProfile of the 1-row WSGI call grouped by package. Run
`make bench` (or `python -m bench --smoke`) first: it writes the model and payloads this reads
from build/bench/work.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import os
import pstats
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.floor import per_call_seconds
from container import contract

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "bench" / "work"
PAYLOADS = (
    ("csv1", contract.CSV),
    ("raw1", contract.CSV),
    ("json1", contract.JSON),
    ("csv1000", contract.CSV),
    ("raw1000", contract.CSV),
    ("json1000", contract.JSON),
)


def _wsgi_caller(app: Any, body: bytes, content_type: str) -> Callable[[], bytes]:
    from werkzeug.test import EnvironBuilder

    base = EnvironBuilder(
        method="POST",
        path="/invocations",
        data=body,
        content_type=content_type,
        headers={"Accept": contract.CSV, contract.INFERENCE_ID: "bench"},
    ).get_environ()

    def start_response(status: str, _headers: list[Any], _exc: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(status)

    def call() -> bytes:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(body)
        return b"".join(app(environ, start_response))

    return call


def stage_times(predictor: Any, body: bytes, content_type: str, budget: float) -> dict[str, float]:
    from container import codecs

    media = codecs.choose_accept(contract.CSV, contract.CSV)
    rows = codecs.decode(body, content_type)
    features = predictor.features(rows)
    predictions = predictor.predict(features)
    return {
        "accept": per_call_seconds(
            lambda: codecs.choose_accept(contract.CSV, contract.CSV), budget
        ),
        "decode": per_call_seconds(lambda: codecs.decode(body, content_type), budget),
        "features": per_call_seconds(lambda: predictor.features(rows), budget),
        "predict": per_call_seconds(lambda: predictor.predict(features), budget),
        "xgboost inplace_predict": per_call_seconds(
            lambda: predictor.booster.inplace_predict(features, validate_features=False), budget
        ),
        "encode": per_call_seconds(lambda: codecs.encode(predictions, media), budget),
    }


def _category(filename: str) -> str:
    for name in ("werkzeug", "flask", "logging", "container", "xgboost", "numpy", "json"):
        if f"/{name}/" in filename or filename.endswith(f"/{name}.py"):
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C calls)"
    return "other python"


def profile_breakdown(call: Callable[[], object], calls: int) -> tuple[dict[str, float], str]:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    by_category: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
        by_category[_category(filename)] += row[2]  # tottime
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    per_call = {k: v / calls for k, v in by_category.items()}
    return per_call, out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--budget-s", type=float, default=0.3)
    parser.add_argument("--calls", type=int, default=3000, help="profiled 1-row WSGI calls")
    args = parser.parse_args(argv)
    if os.environ.get("OMP_NUM_THREADS") != "1":
        os.environ["OMP_NUM_THREADS"] = "1"
        os.execv(sys.executable, [sys.executable, "-m", "bench.profile", *(argv or sys.argv[1:])])
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})

    from bench.floor_app import create_app as create_floor_app
    from container.__main__ import configure_logging
    from container.accesslog import AccessLog
    from container.app import ModelState, create_app
    from container.model import load_model
    from container.settings import ServingSettings

    # The access log the server writes (buffered, timer-flushed), here into /dev/null: the
    # formatting and writes count, the terminal does not.
    configure_logging("info")
    access_log = AccessLog(open(os.devnull, "w"))  # noqa: SIM115 - open for the life of the run
    access_log.start()

    predictor = load_model(args.work / "model")
    state = ModelState(predictor=predictor, ready=True)
    settings = ServingSettings(model_dir=args.work / "model")
    apps = {
        "real app, access log on": create_app(settings, state, access_log),
        "real app, access log off": create_app(settings, state),
        "via Flask, access log on": create_app(
            dataclasses.replace(settings, fast_path=False), state, access_log
        ),
        "framework floor app": create_floor_app(settings.max_body_bytes),
    }
    print("Per-request cost in one process, one core (ms, median of blocks)\n")
    header = f"{'payload':<9}" + "".join(
        f"{h:>11}" for h in ("accept", "decode", "features", "predict", "(xgboost)", "encode")
    )
    header += "".join(f"{h:>26}" for h in apps)
    print(header)
    for name, content_type in PAYLOADS:
        body = (args.work / "payloads" / f"{name}.body").read_bytes()
        stages = stage_times(predictor, body, content_type, args.budget_s)
        wsgi = {
            label: per_call_seconds(_wsgi_caller(app, body, content_type), args.budget_s)
            for label, app in apps.items()
        }
        print(
            f"{name:<9}"
            + "".join(f"{v * 1000:>11.3f}" for v in stages.values())
            + "".join(f"{v * 1000:>26.3f}" for v in wsgi.values())
        )

    body = (args.work / "payloads" / "csv1.body").read_bytes()
    call = _wsgi_caller(apps["real app, access log on"], body, contract.CSV)
    per_call, top = profile_breakdown(call, args.calls)
    total = sum(per_call.values())
    print(f"\ncProfile of the real app (access log on), 1-row CSV, {args.calls} WSGI calls:")
    print(f"  {total * 1000:.3f} ms per call under the profiler, self time by package:")
    for category, seconds in sorted(per_call.items(), key=lambda kv: -kv[1]):
        print(f"  {category:<22} {seconds * 1e6:8.1f} us  {seconds / total:6.1%}")
    print("\nTop functions by self time:")
    print("\n".join(top.splitlines()[6:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
