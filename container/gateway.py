"""A local stand-in for the SageMaker runtime API (InvokeEndpoint) in front of real containers.

`aws sagemaker-runtime invoke-endpoint --endpoint-url http://127.0.0.1:PORT` and unchanged boto3
code (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) reach the endpoint container through it, and get
InvokeEndpoint's wire format back: the model output with its headers, ModelError (424) for a
container error or any failure to get an answer from the container (timeout, dropped connection,
malformed HTTP), ValidationError (400) for an unknown endpoint or a body over InvokeEndpoint's
6 MiB. Signatures are not checked.

Endpoints come from GATEWAY_ENDPOINTS="name=http://host:port,other=http://host:port". With
GATEWAY_CAPTURE_DIR set, successful invocations are captured in SageMaker's Data Capture format
(container/capture.py), GATEWAY_CAPTURE_SAMPLING_PERCENTAGE of them (default 100).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import urllib.parse
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Flask, Response, request

from container import contract
from container.body import BodyDeadlines, read_body
from container.capture import CaptureSettings, CaptureWriter, Exchange, writer_from_settings
from container.errors import PayloadTooLarge, ServingError

ACCOUNT = "000000000000"
REGION = "us-east-1"
UPSTREAM_TIMEOUT_S = 60
#: InvokeEndpoint's Body limit for real-time endpoints (BodyBlob "max" in botocore's model).
MAX_BODY_BYTES = contract.REALTIME_MAX_PAYLOAD_MB * contract.MIB
#: How long a client may take to send its body (a trickling client holds a thread no longer).
BODY_TIMEOUT_S = 60
#: What SageMaker answers when the container does not respond within its 60 s (seen in
#: aws/amazon-sagemaker-examples#799 and #1407: "Received server error (0) ...").
TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container primary. Review the "
    "latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again."
)
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints"

log = logging.getLogger(__name__)


def parse_endpoints(spec: str) -> dict[str, str]:
    """'a=http://x:8080,b=http://y:8080' -> {'a': 'http://x:8080', 'b': ...}."""
    endpoints = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not url.startswith("http://"):
            raise ValueError(f"GATEWAY_ENDPOINTS entry {item!r} is not name=http://host:port")
        endpoints[name.strip()] = url.strip().rstrip("/")
    return endpoints


def _aws_error(status: int, error_type: str, body: dict[str, object]) -> Response:
    response = Response(json.dumps(body), status=status, mimetype=contract.JSON)
    response.headers["x-amzn-ErrorType"] = error_type
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def _validation_error(message: str) -> Response:
    return _aws_error(400, "ValidationError", {"message": message})


def _oversize() -> Response:
    """SageMaker's words for a body over the limit (aws/sagemaker-python-sdk#4271)."""
    request_id = str(uuid.uuid4())
    response = _validation_error(f"Request {request_id} has oversize body.")
    response.headers["x-amzn-RequestId"] = request_id
    return response


def _model_error(name: str, status: int, message: str) -> Response:
    """ModelError as SageMaker words it; status 0 means no HTTP answer came from the container."""
    kind = "client" if 400 <= status < 500 else "server"
    return _aws_error(
        424,
        "ModelError",
        {
            "message": f'Received {kind} error ({status}) from primary with message "{message}". '
            f"See the endpoint container's logs for {name}.",
            "OriginalStatusCode": status,
            "OriginalMessage": message,
            "LogStreamArn": f"{LOG_GROUP_ARN}/{name}",
        },
    )


def _forward(
    url: str, body: bytes, headers: Mapping[str, str], timeout_s: float
) -> tuple[int, bytes, Mapping[str, str]]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=timeout_s)
    try:
        connection.request("POST", contract.INVOCATIONS, body=body, headers=dict(headers))
        upstream = connection.getresponse()
        return upstream.status, upstream.read(), dict(upstream.getheaders())
    finally:
        connection.close()


def _no_answer(exc: Exception) -> str:
    """The OriginalMessage for a request the container never answered in well-formed HTTP."""
    if isinstance(exc, TimeoutError):
        return TIMEOUT_MESSAGE
    if isinstance(exc, http.client.HTTPException | OSError):
        detail = str(exc) or "no detail"
        return f"No valid response from container primary ({type(exc).__name__}: {detail})."
    log.error("unexpected error while forwarding to the container", exc_info=exc)
    return f"No valid response from container primary ({type(exc).__name__})."


def _container_error(name: str, status: int, body: bytes) -> Response:
    try:
        message = json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        message = body.decode("utf-8", "replace")
    return _model_error(name, status, str(message) or f"HTTP {status}")


def _model_output(body: bytes, headers: Mapping[str, str]) -> Response:
    response = Response(body, status=200)
    response.headers["Content-Type"] = headers.get("Content-Type", "application/octet-stream")
    response.headers["x-Amzn-Invoked-Production-Variant"] = contract.PRODUCTION_VARIANT
    attributes = headers.get(contract.CUSTOM_ATTRIBUTES)
    if attributes is not None:
        response.headers[contract.CUSTOM_ATTRIBUTES] = attributes
    return response


def create_gateway(
    endpoints: Mapping[str, str],
    *,
    upstream_timeout_s: float = UPSTREAM_TIMEOUT_S,
    max_body_bytes: int = MAX_BODY_BYTES,
    capture: CaptureWriter | None = None,
) -> Flask:
    """The gateway app; with `capture`, successful invocations are offered to it after the
    answer is ready (a queue put: capturing never delays nor fails the request)."""
    app = Flask(__name__)
    deadlines = BodyDeadlines()

    @app.route(contract.PING, methods=["GET"])
    def ping() -> Response:
        return Response(status=200)

    @app.route("/endpoints/<path:name>/invocations", methods=["POST"])
    def invoke_endpoint(name: str) -> Response:
        if name not in endpoints:
            return _validation_error(f"Endpoint {name} of account {ACCOUNT} not found.")
        try:
            # A declared length over the limit is refused before any byte is read; without
            # one, at most max_body_bytes + 1 bytes are read.
            body = read_body(request.environ, max_body_bytes, BODY_TIMEOUT_S, deadlines)
        except PayloadTooLarge:
            return _oversize()
        except ServingError as exc:
            return _validation_error(exc.message)
        forwarded = contract.INVOKE_ENDPOINT_HEADERS
        headers = {h: request.headers[h] for h in forwarded if h in request.headers}
        try:
            status, output, upstream = _forward(endpoints[name], body, headers, upstream_timeout_s)
        except Exception as exc:  # any failure to get an answer is the container's: never a 500
            return _model_error(name, 0, _no_answer(exc))
        if status >= 400:
            return _container_error(name, status, output)
        response = _model_output(output, upstream)
        if capture is not None:
            capture.offer(_exchange(name, body, headers, output, response))
        return response

    return app


def _exchange(
    name: str, body: bytes, headers: Mapping[str, str], output: bytes, response: Response
) -> Exchange:
    return Exchange(
        endpoint=name,
        body=body,
        content_type=headers.get("Content-Type", "application/octet-stream"),
        output=output,
        output_content_type=response.headers["Content-Type"],
        time=datetime.now(UTC),
        inference_id=headers.get(contract.INFERENCE_ID),
    )


def app_from_env() -> Flask:
    """WSGI entry for gunicorn: `gunicorn 'container.gateway:app_from_env()'`."""
    capture = writer_from_settings(CaptureSettings.from_env(os.environ))
    return create_gateway(parse_endpoints(os.environ.get("GATEWAY_ENDPOINTS", "")), capture=capture)
