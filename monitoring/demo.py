"""`make drift-demo`'s host side: abalone rows through the local endpoint's runtime gateway with
boto3, unshifted then with two features shifted, and the check that the monitor flags exactly
those two.

    python -m monitoring.demo send --endpoint-url http://127.0.0.1:8080 --endpoint-name NAME \
        --data abalone.data --captures build/datacapture/NAME --windows-dir build/monitor/demo
    python -m monitoring.demo check build/monitor/demo

`send` writes the two windows' monitor arguments (before.args, after.args: --window-end and
--window-hours covering each phase only) for `make monitor`. Host side only (boto3); the image
never runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from container import contract
from training import schema

#: Two features, multiplied by these factors in the second phase.
SHIFTS: Final = {"shell_weight": 1.7, "diameter": 1.3}
ROWS_PER_PHASE: Final = 500
ROWS_PER_REQUEST: Final = 10
CAPTURE_TIMEOUT_S: Final = 60


def _send(client: Any, endpoint_name: str, frame: Any) -> int:
    """Send the rows as raw CSV, ROWS_PER_REQUEST at a time; returns the number of requests."""
    requests = 0
    for first in range(0, len(frame), ROWS_PER_REQUEST):
        chunk = frame.iloc[first : first + ROWS_PER_REQUEST][list(schema.RAW_COLUMNS)]
        body = chunk.to_csv(header=False, index=False).encode()
        client.invoke_endpoint(EndpointName=endpoint_name, Body=body, ContentType=contract.CSV)
        requests += 1
    return requests


def _captured_lines(captures_dir: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in captures_dir.rglob("*.jsonl"))


def _wait_for_captures(captures_dir: Path, expected: int) -> None:
    """The gateway writes off the request path: wait until every capture is on disk."""
    deadline = time.monotonic() + CAPTURE_TIMEOUT_S
    while _captured_lines(captures_dir) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"only {_captured_lines(captures_dir)} of {expected} captures in {captures_dir} "
                f"after {CAPTURE_TIMEOUT_S} s: is capture on (CAPTURE_PERCENT=100 make up)?"
            )
        time.sleep(0.2)


def _window_args(start: datetime, end: datetime) -> str:
    hours = (end - start).total_seconds() / 3600
    return f"--window-end {end.isoformat()} --window-hours {hours:.9f}"


def send(args: argparse.Namespace) -> None:
    from deploy.invoke import runtime_client
    from training.data import load_abalone

    frame = load_abalone(args.data, expected_sha256=None)
    rows = frame.sample(2 * ROWS_PER_PHASE, random_state=11)
    unshifted, moved = rows.iloc[:ROWS_PER_PHASE], rows.iloc[ROWS_PER_PHASE:].copy()
    for name, factor in SHIFTS.items():
        moved[name] = moved[name] * factor
    client = runtime_client(args.endpoint_url)
    already = _captured_lines(args.captures) if args.captures.is_dir() else 0
    start = datetime.now(UTC)
    requests = _send(client, args.endpoint_name, unshifted)
    boundary = datetime.now(UTC)
    requests += _send(client, args.endpoint_name, moved)
    end = datetime.now(UTC)
    _wait_for_captures(args.captures, already + requests)
    args.windows_dir.mkdir(parents=True, exist_ok=True)
    (args.windows_dir / "before.args").write_text(_window_args(start, boundary))
    (args.windows_dir / "after.args").write_text(_window_args(boundary, end))
    shifted = ", ".join(f"{name} x {factor}" for name, factor in SHIFTS.items())
    print(f"sent {ROWS_PER_PHASE} unshifted rows, then {ROWS_PER_PHASE} with {shifted}")


def _flagged(report_dir: Path) -> set[str]:
    violations = json.loads((report_dir / "violations.json").read_text())["violations"]
    return {v["feature"] for v in violations}


def check(args: argparse.Namespace) -> int:
    before, after = _flagged(args.demo_dir / "before"), _flagged(args.demo_dir / "after")
    print(f"unshifted window: flagged {', '.join(sorted(before)) or 'nothing'}")
    print(f"shifted window:   flagged {', '.join(sorted(after)) or 'nothing'}")
    print(
        f"reports: {args.demo_dir / 'before' / 'report.html'}, "
        f"{args.demo_dir / 'after' / 'report.html'}"
    )
    if before or after != set(SHIFTS):
        print(f"expected nothing, then exactly {', '.join(sorted(SHIFTS))}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    sender = commands.add_parser("send", help="send the two phases and wait for their captures")
    sender.add_argument("--endpoint-url", required=True)
    sender.add_argument("--endpoint-name", required=True)
    sender.add_argument("--data", required=True)
    sender.add_argument("--captures", type=Path, required=True)
    sender.add_argument("--windows-dir", type=Path, required=True)
    checker = commands.add_parser("check", help="print what each window flagged")
    checker.add_argument("demo_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "send":
        send(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
