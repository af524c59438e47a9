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
from collections.abc import Sequence
from typing import Any

from container import contract

#: The AWS abalone template's sample: one already-encoded feature row.
ENCODED_ROW = (
    "0.383148412,0.273297349,-0.227545026,-0.153451984,-0.046713787,-0.046474046,-0.322093154,0,0,1"
)
#: A raw abalone row as in the UCI file (without the rings label).
RAW_ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
DEFAULT_ENDPOINT = "abalone-staging"


def wait_until_ready(url: str, timeout_s: float) -> None:
    """Poll `url` until it answers 200; TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s ({last})")


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
