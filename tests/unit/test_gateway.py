"""container.gateway over real sockets: a tiny upstream that answers or misbehaves on purpose, the
gateway in front of it, and boto3 or raw HTTP as the caller. Every failure to get an answer from
the container is a ModelError (424), a body over 6 MiB is a ValidationError (400), never a 500."""

from __future__ import annotations

import http.client
import json
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
from werkzeug.serving import make_server

from container import gateway
from deploy.invoke import runtime_client
from devtools.ports import free_port

#: Short, so the hanging upstream costs the suite well under a second per request.
UPSTREAM_TIMEOUT_S = 0.5
LIMIT = gateway.MAX_BODY_BYTES


class Upstream(socketserver.ThreadingTCPServer):
    """A container stand-in on 127.0.0.1: reads one request, then does what `behaviour` says."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, behaviour: Callable[[Upstream, socket.socket], None]):
        self.behaviour = behaviour
        self.bodies: list[bytes] = []
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _UpstreamHandler(socketserver.StreamRequestHandler):
    server: Upstream

    def handle(self) -> None:
        length = 0
        for line in iter(self.rfile.readline, b"\r\n"):
            if not line:
                return
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        self.server.bodies.append(self.rfile.read(length))
        self.server.behaviour(self.server, self.connection)


def answer(status: int, body: bytes, content_type: str = "text/csv") -> Callable[..., None]:
    def behaviour(_server: Upstream, sock: socket.socket) -> None:
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode() + body)

    return behaviour


def close_without_answer(_server: Upstream, _sock: socket.socket) -> None:
    """Return at once: the handler closes the connection (http.client: RemoteDisconnected)."""


def garbage_status_line(_server: Upstream, sock: socket.socket) -> None:
    sock.sendall(b"HELLO THERE\r\n\r\n")  # http.client: BadStatusLine


def truncated_body(_server: Upstream, sock: socket.socket) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n1.5\n")  # IncompleteRead


def reset_connection(_server: Upstream, sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # Closed here, before socketserver's orderly shutdown could send a FIN: the peer gets a RST.
    socket.socket(fileno=sock.detach()).close()


def hang(server: Upstream, _sock: socket.socket) -> None:
    server.release.wait(30)  # past the gateway's timeout; released when the test ends


BEHAVIOURS: dict[str, Callable[..., None]] = {
    "ok": answer(200, b"1.5\n"),
    "bad-request": answer(400, b'{"error": "expected 10 features, got 3"}', "application/json"),
    "close": close_without_answer,
    "garbage": garbage_status_line,
    "truncated": truncated_body,
    "reset": reset_connection,
    "hang": hang,
}


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    servers = {name: Upstream(behaviour) for name, behaviour in BEHAVIOURS.items()}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield servers
    finally:
        for server in servers.values():
            server.release.set()
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def gateway_url(upstreams: dict[str, Upstream]) -> Iterator[str]:
    endpoints = {name: server.url for name, server in upstreams.items()}
    endpoints["refused"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    # A host name no resolver takes: a UnicodeError, neither OSError nor HTTPException.
    endpoints["bad-host"] = f"http://{'a' * 64}.invalid:8080"
    app = gateway.create_gateway(endpoints, upstream_timeout_s=UPSTREAM_TIMEOUT_S)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def client(gateway_url: str) -> Any:
    return runtime_client(gateway_url)


def model_error(client: Any, endpoint: str) -> dict[str, Any]:
    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(EndpointName=endpoint, Body=b"1,2,3", ContentType="text/csv")
    response: dict[str, Any] = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    return response


# --- answers and container errors ---------------------------------------------------------------


def test_an_answer_passes_through_with_its_content_type(client, upstreams):
    response = client.invoke_endpoint(EndpointName="ok", Body=b"1,2,3", ContentType="text/csv")
    assert response["Body"].read() == b"1.5\n"
    assert response["ContentType"] == "text/csv"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert upstreams["ok"].bodies[-1] == b"1,2,3"


def test_a_container_4xx_is_a_client_model_error(client):
    error = model_error(client, "bad-request")
    assert error["OriginalStatusCode"] == 400
    assert error["OriginalMessage"] == "expected 10 features, got 3"
    assert "Received client error (400) from primary" in error["Error"]["Message"]


# --- no answer from the container: ModelError (424), status 0 ------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("close", "RemoteDisconnected"),
        ("garbage", "BadStatusLine"),
        ("truncated", "IncompleteRead"),
        ("reset", "ConnectionResetError"),
        ("refused", "ConnectionRefusedError"),
        ("bad-host", "UnicodeError"),
    ],
)
def test_no_valid_answer_is_a_server_model_error(client, endpoint, reason):
    error = model_error(client, endpoint)
    assert error["OriginalStatusCode"] == 0
    assert error["OriginalMessage"].startswith("No valid response from container primary")
    assert reason in error["OriginalMessage"]
    assert "Received server error (0) from primary" in error["Error"]["Message"]
    assert error["LogStreamArn"].endswith(f"/{endpoint}")


def test_a_hanging_container_times_out_as_sagemaker_words_it(client):
    started = time.monotonic()
    error = model_error(client, "hang")
    assert time.monotonic() - started < UPSTREAM_TIMEOUT_S + 2
    assert error["OriginalStatusCode"] == 0
    assert error["OriginalMessage"] == gateway.TIMEOUT_MESSAGE


def test_unknown_endpoint_is_a_validation_error(client):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.invoke_endpoint(EndpointName="nope", Body=b"1", ContentType="text/csv")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# --- the 6 MiB body limit -------------------------------------------------------------------------


def raw_post(url: str, head: dict[str, str], body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """POST the given headers (and body, possibly none of what they declare) on a raw socket."""
    port = int(url.rsplit(":", 1)[1])
    lines = ["POST /endpoints/ok/invocations HTTP/1.1", "Host: local"]
    lines += [f"{name}: {value}" for name, value in head.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.getheader("x-amzn-ErrorType") == "ValidationError"
        return response.status, json.loads(response.read())


def test_a_declared_length_over_6_mib_is_refused_before_the_body_is_read(gateway_url, upstreams):
    seen = len(upstreams["ok"].bodies)
    # No body follows: an answer proves the gateway did not wait to read it.
    status, error = raw_post(gateway_url, {"Content-Length": str(LIMIT + 1)})
    assert status == 400
    assert error["message"].startswith("Request ") and error["message"].endswith(
        " has oversize body."
    )
    assert len(upstreams["ok"].bodies) == seen


def test_a_chunked_body_over_6_mib_is_refused_after_reading_at_most_the_limit(
    gateway_url, upstreams
):
    seen = len(upstreams["ok"].bodies)
    chunk = b"0" * (1024 * 1024)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(7))
    # The closing empty chunk never comes: an answer proves the read stopped past the limit.
    status, error = raw_post(gateway_url, {"Transfer-Encoding": "chunked"}, chunks)
    assert status == 400
    assert error["message"].endswith(" has oversize body.")
    assert len(upstreams["ok"].bodies) == seen


def test_boto3_gets_a_validation_error_for_6_mib_and_one_byte(client):
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.invoke_endpoint(EndpointName="ok", Body=b"1" * (LIMIT + 1), ContentType="text/csv")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Message"].endswith(" has oversize body.")


def test_a_body_of_exactly_6_mib_is_forwarded_whole(client, upstreams):
    response = client.invoke_endpoint(EndpointName="ok", Body=b"1" * LIMIT, ContentType="text/csv")
    assert response["Body"].read() == b"1.5\n"
    assert len(upstreams["ok"].bodies[-1]) == LIMIT
