"""Invoke an endpoint through the SageMaker runtime API, locally (the compose gateway) or on AWS.

python -m deploy.invoke wait --url http://127.0.0.1:8080/ping
python -m deploy.invoke invoke --endpoint-url http://127.0.0.1:8080 --endpoint-name abalone-staging
"""

from __future__ import annotations

import argparse
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, Final

from container import contract

#: The AWS abalone template's sample: one already-encoded feature row.
ENCODED_ROW = (
    "0.383148412,0.273297349,-0.227545026,-0.153451984,-0.046713787,-0.046474046,-0.322093154,0,0,1"
)
#: A raw abalone row as in the UCI file (without the rings label).
RAW_ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
DEFAULT_ENDPOINT = "abalone-staging"
#: How often wait_until_ready runs its `check` (a Docker API call is not free).
CHECK_EVERY_S: Final = 0.5


def wait_until_ready(
    url: str,
    timeout_s: float,
    *,
    interval_s: float = 0.25,
    check: Callable[[], None] | None = None,
) -> float:
    """Poll `url` until it answers 200 and return the seconds that took.

    The one readiness poller: `make up` runs it, and the development helpers (devtools/, the
    bench) call it with a shorter interval and a `check` that stops the wait when their server
    has exited.

    Args:
        url: the URL to GET, e.g. http://127.0.0.1:8080/ping.
        timeout_s: how long to keep polling.
        interval_s: the pause between two polls.
        check: called between polls, at most every CHECK_EVERY_S; it raises to stop waiting.

    Raises:
        TimeoutError: no 200 within timeout_s.
    """
    started = time.monotonic()
    checked = -CHECK_EVERY_S
    last = "no answer"
    while time.monotonic() - started < timeout_s:
        status, last = _get_status(url)
        if status == 200:
            return time.monotonic() - started
        if check is not None and time.monotonic() - checked >= CHECK_EVERY_S:
            checked = time.monotonic()
            check()
        time.sleep(interval_s)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s ({last})")


def _get_status(url: str) -> tuple[int | None, str]:
    """(HTTP status or None, what came back) of one GET with a 2 s timeout."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except OSError as exc:
        return None, str(exc)


def runtime_client(endpoint_url: str | None) -> Any:
    """A sagemaker-runtime client; for a local endpoint URL, with dummy credentials and region
    (the local gateway checks no signature, and real keys have no business going there)."""
    import boto3  # host-side dependency only

    if endpoint_url is None:
        return boto3.client("sagemaker-runtime")
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def invoke(client: Any, endpoint_name: str, body: str, *, accept: str = contract.CSV) -> str:
    response = client.invoke_endpoint(
        EndpointName=endpoint_name, Body=body.encode(), ContentType=contract.CSV, Accept=accept
    )
    return str(response["Body"].read().decode())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    wait = commands.add_parser("wait", help="poll a URL until it answers 200")
    wait.add_argument("--url", required=True)
    wait.add_argument("--timeout", type=float, default=120)
    call = commands.add_parser("invoke", help="predict the sample rows")
    call.add_argument("--endpoint-url", help="runtime API URL (default: AWS)")
    call.add_argument("--endpoint-name", default=DEFAULT_ENDPOINT)
    args = parser.parse_args(argv)
    try:
        if args.command == "wait":
            wait_until_ready(args.url, args.timeout)
            return 0
        client = runtime_client(args.endpoint_url)
        for label, row in (("encoded row (seed sample)", ENCODED_ROW), ("raw row", RAW_ROW)):
            prediction = invoke(client, args.endpoint_name, row).strip()
            print(f"{args.endpoint_name} <- {label}: {row}\n  predicted rings: {prediction}")
    except Exception as exc:  # a CLI: one readable line, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
