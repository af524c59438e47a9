"""Data capture in the compose stack as `CAPTURE_PERCENT=100 make up` starts it: the hardened,
read-only gateway (nobody) writes SageMaker's layout into CAPTURE_DIR, and what it wrote is what
the drift monitor reads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from deploy.invoke import RAW_ROW, invoke, runtime_client
from monitoring.captures import Malformed, Window, capture_files, read_records
from tests.integration.dockerutil import compose_stack

pytestmark = pytest.mark.integration


def test_the_compose_gateway_captures_what_the_monitor_reads(image, real_model_dir, tmp_path):
    from datetime import UTC, datetime, timedelta

    captures = tmp_path / "datacapture"
    captures.mkdir()
    captures.chmod(0o777)  # what `make up` does: the gateway runs as nobody
    started = datetime.now(UTC)
    project = f"abalone-capture-{os.getpid()}"
    with compose_stack(image, real_model_dir, project, captures, capture_percent=100) as url:
        client = runtime_client(url)
        for _ in range(3):
            assert 1 < float(invoke(client, "abalone-prod", RAW_ROW)) < 30
        # A kept-alive connection would hold the gateway's graceful stop for 30 s.
        client.close()
        deadline = time.monotonic() + 10
        while len(_lines(captures)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    window = Window(started - timedelta(seconds=1), datetime.now(UTC))
    files = capture_files(captures, window)
    assert [f.relative_to(captures).parts[:2] for f in files] == [("abalone-prod", "AllTraffic")]
    malformed = Malformed()
    records = list(read_records(files, window, malformed))
    assert malformed.count == 0 and len(records) == 3
    assert {r.input.data for r in records} == {RAW_ROW.encode()}
    assert files[0].stat().st_uid == 65534  # written by the gateway's user, nobody


def _lines(root: Path) -> list[bytes]:
    return [line for p in root.rglob("*.jsonl") for line in p.read_bytes().splitlines()]
