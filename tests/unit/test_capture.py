"""Data capture in the runtime gateway, over real sockets: boto3 calls the gateway, the gateway a
tiny upstream; every field of the written record, the layout and file name, the encodings, the
sampling percentage, and a capture directory that cannot be written failing no request."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server

from container import contract, gateway
from container.capture import (
    CaptureSettings,
    CaptureSettingsError,
    CaptureWriter,
    writer_from_settings,
)
from deploy.invoke import runtime_client

REPO = Path(__file__).resolve().parents[2]
ENDPOINT = "abalone-capture"
#: <minute>-<second>-<millisecond>-<uuid>.jsonl under <endpoint>/<variant>/yyyy/mm/dd/hh/
LAYOUT = re.compile(
    rf"{ENDPOINT}/AllTraffic/(\d{{4}})/(\d{{2}})/(\d{{2}})/(\d{{2}})/"
    r"\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl"
)
ISO_MILLIS_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def serve(app: Flask) -> tuple[str, Any]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


@pytest.fixture(scope="module")
def upstream_url() -> Iterator[str]:
    """A container stand-in: answers in the type asked for by Accept, one score per body line."""
    app = Flask(__name__)

    @app.post(contract.INVOCATIONS)
    def invocations() -> Response:
        rows = max(len(request.get_data().splitlines()), 1)
        if request.headers.get("Accept") == contract.JSON:
            body = json.dumps({"predictions": [{"score": 9.5}] * rows})
            return Response(body, mimetype=contract.JSON)
        return Response("9.5\n" * rows, content_type="text/csv; charset=utf-8")

    url, server = serve(app)
    yield url
    server.shutdown()


def gateway_with(upstream_url: str, writer: CaptureWriter | None) -> tuple[Any, Any]:
    url, server = serve(gateway.create_gateway({ENDPOINT: upstream_url}, capture=writer))
    return runtime_client(url), server


def captured(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, json.loads(line))
        for path in sorted(root.rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_a_capture_record_has_sagemakers_fields_and_layout(tmp_path, upstream_url):
    writer = CaptureWriter(tmp_path, 100)
    client, server = gateway_with(upstream_url, writer)
    before = datetime.now(UTC)
    body = b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
    client.invoke_endpoint(
        EndpointName=ENDPOINT, Body=body, ContentType="text/csv", InferenceId="order-17"
    )
    writer.wait_until_written()
    server.shutdown()
    [(path, record)] = captured(tmp_path)
    match = LAYOUT.fullmatch(path.relative_to(tmp_path).as_posix())
    assert match, path
    inference_time = datetime.fromisoformat(record["eventMetadata"]["inferenceTime"])
    assert before - timedelta(seconds=1) <= inference_time <= datetime.now(UTC)
    assert [int(g) for g in match.groups()] == [
        inference_time.year,
        inference_time.month,
        inference_time.day,
        inference_time.hour,
    ]
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
    assert record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": body.decode(),
        "encoding": "CSV",
    }
    assert record["captureData"]["endpointOutput"] == {
        "observedContentType": "text/csv; charset=utf-8",
        "mode": "OUTPUT",
        "data": "9.5\n",
        "encoding": "CSV",
    }
    metadata = record["eventMetadata"]
    assert set(metadata) == {"eventId", "inferenceTime", "inferenceId"}
    assert metadata["inferenceId"] == "order-17"
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata["eventId"])
    assert ISO_MILLIS_Z.fullmatch(metadata["inferenceTime"])


@pytest.mark.parametrize(
    ("content_type", "accept", "input_encoding", "output_encoding"),
    [
        ("application/json", "application/json", "JSON", "JSON"),
        ("application/jsonlines", "text/csv", "JSON", "CSV"),
        ("text/libsvm", "text/csv", "BASE64", "CSV"),
    ],
)
def test_bodies_are_text_for_csv_and_json_types_and_base64_otherwise(
    tmp_path, upstream_url, content_type, accept, input_encoding, output_encoding
):
    writer = CaptureWriter(tmp_path, 100)
    client, server = gateway_with(upstream_url, writer)
    body = b'{"instances": [[1, 2]]}' if "json" in content_type else b"1:0.5 3:0.25"
    client.invoke_endpoint(
        EndpointName=ENDPOINT, Body=body, ContentType=content_type, Accept=accept
    )
    writer.wait_until_written()
    server.shutdown()
    [(_, record)] = captured(tmp_path)
    sides = record["captureData"]
    assert sides["endpointInput"]["encoding"] == input_encoding
    assert sides["endpointOutput"]["encoding"] == output_encoding
    data = sides["endpointInput"]["data"]
    assert (base64.b64decode(data) if input_encoding == "BASE64" else data.encode()) == body
    assert "inferenceId" not in record["eventMetadata"]


@pytest.mark.parametrize(("percent", "expected"), [(0, 0), (100, 25)])
def test_the_sampling_percentage_decides_how_many_are_captured(
    tmp_path, upstream_url, percent, expected
):
    writer = CaptureWriter(tmp_path, percent)
    client, server = gateway_with(upstream_url, writer)
    for _ in range(25):
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"1,2", ContentType="text/csv")
    writer.wait_until_written()
    server.shutdown()
    assert len(captured(tmp_path)) == expected == writer.captured


def test_a_capture_directory_that_cannot_be_written_fails_no_request(
    tmp_path, upstream_url, caplog
):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the capture root should be")
    writer = CaptureWriter(blocked, 100)
    client, server = gateway_with(upstream_url, writer)
    for _ in range(5):
        response = client.invoke_endpoint(
            EndpointName=ENDPOINT, Body=b"1,2", ContentType="text/csv"
        )
        assert response["Body"].read() == b"9.5\n"
    writer.wait_until_written()
    server.shutdown()
    assert (writer.captured, writer.failed) == (0, 5)
    writer.close()  # what the gateway's exit runs: the loss is a warning in its log
    assert "0 written, 0 dropped (queue full), 5 failed" in caplog.text


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path, upstream_url):
    writer = CaptureWriter(tmp_path, 100, max_queue=1)
    hold = threading.Lock()
    hold.acquire()
    writer._write = lambda _batch: hold.acquire()  # type: ignore[method-assign]  # a stuck disk
    client, server = gateway_with(upstream_url, writer)
    for _ in range(6):
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"1,2", ContentType="text/csv")
    server.shutdown()
    # One record is being "written", one waits in the queue (unless the writer had not yet taken
    # the first when the second came): the others were dropped, and every request answered.
    assert writer.dropped in (4, 5)
    hold.release()


def test_bodies_over_the_queue_byte_budget_are_dropped_not_held(tmp_path, upstream_url):
    """A stuck disk must not let queued bodies grow without bound: 6 MiB requests would hold
    MAX_QUEUE x 12 MiB; the byte budget drops them instead."""
    writer = CaptureWriter(tmp_path, 100, max_queue_bytes=10)
    hold = threading.Lock()
    hold.acquire()
    writer._write = lambda _batch: hold.acquire()  # type: ignore[method-assign]  # a stuck disk
    client, server = gateway_with(upstream_url, writer)
    for _ in range(3):  # 3 bytes in, 4 out: one record fits the budget, a second would not
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"1,2", ContentType="text/csv")
    server.shutdown()
    assert writer.dropped == 2
    hold.release()


def test_capture_settings_are_read_from_the_environment(tmp_path):
    assert writer_from_settings(CaptureSettings.from_env({})) is None
    settings = CaptureSettings.from_env({"GATEWAY_CAPTURE_DIR": str(tmp_path)})
    assert settings == CaptureSettings(root=tmp_path, sampling_percentage=100)
    zero = {"GATEWAY_CAPTURE_DIR": str(tmp_path), "GATEWAY_CAPTURE_SAMPLING_PERCENTAGE": "0"}
    assert writer_from_settings(CaptureSettings.from_env(zero)) is None
    for bad in ("101", "-1", "half"):
        with pytest.raises(CaptureSettingsError, match="GATEWAY_CAPTURE_SAMPLING_PERCENTAGE"):
            CaptureSettings.from_env({"GATEWAY_CAPTURE_SAMPLING_PERCENTAGE": bad})


def test_the_encodings_follow_the_endpoint_templates_capture_header():
    text = (REPO / "deploy/templates/endpoint.yaml").read_text()
    header = re.search(r"CsvContentTypes: \[(.*)\]\n\s+JsonContentTypes: \[(.*)\]", text)
    assert header, "CaptureContentTypeHeader not found in endpoint.yaml"
    csv_types, json_types = ([t.strip() for t in g.split(",")] for g in header.groups())
    assert tuple(csv_types) == contract.CAPTURE_CSV_CONTENT_TYPES
    assert tuple(json_types) == contract.CAPTURE_JSON_CONTENT_TYPES
