"""The real server (`python -m container serve`, gunicorn gthread, 2 workers) on this host: a
request with a large body is answered `Connection: close` so that the client's next one lands on
an idle worker, a small one keeps its connection, and a large body read through gunicorn's own
reader gets the answer it gets in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from container import codecs
from container.contract import CSV
from container.invocations import predict_payload
from container.wsgi import SPREAD_BODY_BYTES
from deploy.invoke import ENCODED_ROW, wait_until_ready
from devtools.ports import free_port
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def server_url(model_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SM_MODEL_DIR": str(model_dir), "OMP_NUM_THREADS": "1"}
    env.update(SAGEMAKER_BIND_TO_PORT=str(port), SAGEMAKER_MODEL_SERVER_WORKERS="2")
    process = subprocess.Popen(
        [sys.executable, "-m", "container", "serve"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/ping", 60, check=lambda: _running(process))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def _running(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        raise RuntimeError(f"the server exited with {process.returncode}")


def _body(rows: int) -> bytes:
    return ("\n".join([ENCODED_ROW] * rows) + "\n").encode()


def test_a_large_body_is_answered_connection_close_and_a_small_one_keeps_it(server_url: str):
    large = _body(1_000)
    assert len(large) > SPREAD_BODY_BYTES > len(_body(10))
    with requests.Session() as session:
        small = session.post(
            f"{server_url}/invocations", data=_body(10), headers={"Content-Type": CSV}
        )
        assert small.status_code == 200
        assert small.headers.get("Connection", "").lower() != "close"
        answer = session.post(
            f"{server_url}/invocations", data=large, headers={"Content-Type": CSV}
        )
        assert answer.status_code == 200
        assert answer.headers["Connection"].lower() == "close"
        # the session reconnects for the next request, which is answered as usual
        again = session.post(f"{server_url}/invocations", data=large, headers={"Content-Type": CSV})
        assert again.content == answer.content


def test_a_multi_mib_body_through_gunicorn_gets_the_in_process_answer(
    server_url: str, predictor
) -> None:
    body = _body(30_000)  # ~2 MiB: read in 256 KiB steps, decoded in 256 KiB chunks
    served = requests.post(f"{server_url}/invocations", data=body, headers={"Content-Type": CSV})
    assert served.status_code == 200, served.text
    limits = codecs.Limits(max_columns=predictor.max_fields)
    assert served.content == predict_payload(body, CSV, CSV, predictor, CSV, limits).body
