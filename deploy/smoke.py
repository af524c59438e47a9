"""Smoke-test an endpoint through the SageMaker runtime API: on AWS, or the local compose gateway.

python -m deploy.smoke --endpoint-name abalone-staging                       # AWS (boto3)
python -m deploy.smoke --endpoint-name abalone-staging --endpoint-url http://127.0.0.1:8080

Checks: the endpoint is InService (AWS only), an encoded row and a raw row get plausible
predictions, several rows get one prediction each, a bad payload gets the container's 400 as
ModelError, and the p95 latency of a few sequential requests stays under a limit.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deploy.cli import client, run
from deploy.invoke import ENCODED_ROW, RAW_ROW, invoke, runtime_client

#: The abalone target: rings, 1 to 29 in the data set.
PLAUSIBLE_RINGS = (1.0, 30.0)
BAD_PAYLOAD = "1,2,3"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Settings:
    endpoint_name: str
    endpoint_url: str | None
    latency_requests: int
    max_p95_ms: float
    report_path: Path | None


def _prediction(text: str) -> float:
    value = float(text.strip())
    low, high = PLAUSIBLE_RINGS
    if not low <= value <= high:
        raise ValueError(f"prediction {value} outside {low}..{high} rings")
    return value


def check(name: str, probe: Callable[[], str]) -> Check:
    """Run one probe; any exception is that check failing, with its message."""
    try:
        return Check(name, True, probe())
    except Exception as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def in_service(sagemaker: Any, endpoint_name: str) -> str:
    described = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    status = described["EndpointStatus"]
    if status != "InService":
        raise RuntimeError(f"status {status}: {described.get('FailureReason', '')}")
    return f"InService, config {described['EndpointConfigName']}"


def predicts(runtime: Any, endpoint_name: str, row: str) -> str:
    return f"{_prediction(invoke(runtime, endpoint_name, row)):.2f} rings"


def predicts_each_row(runtime: Any, endpoint_name: str) -> str:
    rows = [ENCODED_ROW, ENCODED_ROW, ENCODED_ROW]
    lines = invoke(runtime, endpoint_name, "\n".join(rows)).strip().splitlines()
    if len(lines) != len(rows):
        raise RuntimeError(f"{len(rows)} rows in, {len(lines)} lines out")
    return ", ".join(f"{_prediction(line):.2f}" for line in lines)


def refuses_bad_payload(runtime: Any, endpoint_name: str) -> str:
    try:
        invoke(runtime, endpoint_name, BAD_PAYLOAD)
    except runtime.exceptions.ModelError as exc:
        status = exc.response.get("OriginalStatusCode")
        if status != 400:
            raise RuntimeError(f"ModelError with original status {status}, expected 400") from exc
        return f"400: {exc.response.get('OriginalMessage', '')}"
    raise RuntimeError(f"{BAD_PAYLOAD!r} got a prediction instead of a 400")


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def latency(runtime: Any, endpoint_name: str, requests: int, max_p95_ms: float) -> str:
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        invoke(runtime, endpoint_name, RAW_ROW)
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
    summary = f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(timings):.0f} ms over {requests}"
    if p95 > max_p95_ms:
        raise RuntimeError(f"{summary}: p95 over {max_p95_ms:.0f} ms")
    return summary


def run_checks(settings: Settings, runtime: Any, sagemaker: Any | None) -> list[Check]:
    name = settings.endpoint_name
    checks = []
    if sagemaker is not None:
        checks.append(check("endpoint in service", lambda: in_service(sagemaker, name)))
    checks += [
        check("ping-equivalent: encoded row", lambda: predicts(runtime, name, ENCODED_ROW)),
        check("raw row", lambda: predicts(runtime, name, RAW_ROW)),
        check("one prediction per row", lambda: predicts_each_row(runtime, name)),
        check("bad payload refused", lambda: refuses_bad_payload(runtime, name)),
        check(
            "latency",
            lambda: latency(runtime, name, settings.latency_requests, settings.max_p95_ms),
        ),
    ]
    return checks


def report(settings: Settings, checks: list[Check]) -> bool:
    where = settings.endpoint_url or "AWS"
    print(f"smoke test of {settings.endpoint_name} ({where}):")
    for item in checks:
        print(f"  {'PASS' if item.ok else 'FAIL'} {item.name}: {item.detail}")
    passed = all(item.ok for item in checks)
    if settings.report_path:
        settings.report_path.parent.mkdir(parents=True, exist_ok=True)
        body = {"endpoint": settings.endpoint_name, "passed": passed}
        body["checks"] = [asdict(item) for item in checks]
        settings.report_path.write_text(json.dumps(body, indent=2) + "\n")
    return passed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--endpoint-url", help="a local runtime gateway (default: AWS)")
    parser.add_argument("--latency-requests", type=int, default=20)
    parser.add_argument("--max-p95-ms", type=float, default=1000.0)
    parser.add_argument("--report", type=Path, help="also write the results as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings(
        endpoint_name=args.endpoint_name,
        endpoint_url=args.endpoint_url or None,
        latency_requests=max(1, args.latency_requests),
        max_p95_ms=args.max_p95_ms,
        report_path=args.report,
    )

    def command() -> int:
        runtime = runtime_client(settings.endpoint_url)
        sagemaker = None if settings.endpoint_url else client("sagemaker")
        return 0 if report(settings, run_checks(settings, runtime, sagemaker)) else 1

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
