"""Each request limit is configurable: rows, header size and count, body time; JSON nesting is
refused fast without a setting."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest
import requests

from deploy.invoke import ENCODED_ROW
from devtools.containers import serve_model

pytestmark = pytest.mark.integration

LIMITS = {
    "SERVE_MAX_ROWS": "10",
    "SERVE_MAX_HEADER_BYTES": "1024",
    "SERVE_MAX_HEADERS": "20",
    "SERVE_BODY_TIMEOUT": "2",
}


@pytest.fixture(scope="module")
def limited(docker_client, image, served_model_dir):
    served = serve_model(docker_client, image, served_model_dir, environment=LIMITS)
    try:
        served.wait_ready()
        yield served
    finally:
        served.container.remove(force=True)


def rows(count: int) -> str:
    return "\n".join([ENCODED_ROW] * count) + "\n"


@pytest.mark.parametrize("content_type", ["text/csv", "application/jsonlines", "application/json"])
def test_row_limit_is_413_with_a_message(limited, content_type):
    def body(count: int) -> str:
        if content_type == "text/csv":
            return rows(count)
        lines = [f"[{ENCODED_ROW}]"] * count
        return "\n".join(lines) if content_type.endswith("lines") else f"[{','.join(lines)}]"

    assert limited.invoke(body(10), content_type).status_code == 200
    refused = limited.invoke(body(11), content_type)
    assert refused.status_code == 413
    # CSV's 11 rows end in 11 line breaks, counted (and refused) before the body is split.
    counted = "11 line breaks" if content_type == "text/csv" else "11 rows"
    assert f"request has {counted}; at most 10 rows per request" in refused.json()["error"]


def test_deep_json_is_400_fast(limited):
    record = {"features": [float(v) for v in ENCODED_ROW.split(",")]}
    assert limited.invoke(json.dumps({"instances": [record]}), "application/json").ok  # depth 4
    deep = limited.invoke(json.dumps({"instances": [[[[1.0]]]]}), "application/json")
    assert deep.status_code == 400
    assert "expected a list of values" in deep.json()["error"]
    started = time.monotonic()
    deepest = limited.invoke("[" * 1_000_000, "application/json")
    assert (deepest.status_code, time.monotonic() - started < 2) == (400, True)
    assert "nested too deeply" in deepest.json()["error"]
    # Brackets inside strings are only text.
    quoted = limited.invoke(json.dumps({"instances": [["[[[[[[", 1]]}), "application/json")
    assert "nested" not in quoted.json()["error"]


def test_header_size_and_count_limits_are_431(limited):
    url = f"{limited.url}/invocations"
    sized = {"Content-Type": "text/csv", "X-Pad": "a" * 900}
    assert requests.post(url, data=ENCODED_ROW, headers=sized, timeout=10).ok
    sized["X-Pad"] = "a" * 1100
    too_long = requests.post(url, data=ENCODED_ROW, headers=sized, timeout=10)
    assert too_long.status_code == 431
    assert "limit request headers fields size" in too_long.text
    many = {"Content-Type": "text/csv", **{f"X-H{i}": "1" for i in range(25)}}
    assert requests.post(url, data=ENCODED_ROW, headers=many, timeout=10).status_code == 431
    assert limited.ping_status() == 200


def test_a_trickled_body_is_cut_off_with_408(limited):
    port = int(limited.url.rsplit(":", 1)[1])
    body = rows(1).encode()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        started = time.monotonic()
        answer = b""
        for byte in body:  # one byte every 0.1 s: the whole body would take 11 s
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(0.1)
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        elapsed = time.monotonic() - started
        sock.settimeout(10)
        while chunk := sock.recv(65536):  # the server closes the connection after a 408
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"request body not received within 2 s" in answer
    assert 2 <= elapsed < 6  # the watcher looks every 0.2 s; the machine may be busy
    assert limited.ping_status() == 200


@pytest.mark.parametrize("sent", [0, 200_000], ids=["headers-only", "part-of-the-body"])
def test_a_body_over_the_limit_is_answered_with_connection_close(limited, sent):
    """413 before the body is read: the answer says close, and the server closes, so no client
    reuses a connection that gunicorn drops once its drain of unread bytes gives up."""
    port = int(limited.url.rsplit(":", 1)[1])
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        f"Content-Length: {7 * 1024 * 1024}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + b"0" * sent)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):  # until the server closes
                answer += chunk
    head_lines = answer.split(b"\r\n\r\n", 1)[0].lower().split(b"\r\n")
    assert head_lines[0].startswith(b"http/1.1 413"), answer
    assert b"connection: close" in head_lines
