"""A local stand-in for the SageMaker runtime API (InvokeEndpoint) in front of real containers.

`aws sagemaker-runtime invoke-endpoint --endpoint-url http://127.0.0.1:PORT` and unchanged boto3
code (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) reach the endpoint container through it, and get
InvokeEndpoint's wire format back: the model output with its headers, ModelError (424) for a
container error, ValidationError (400) for an unknown endpoint. Signatures are not checked.

Endpoints come from GATEWAY_ENDPOINTS="name=http://host:port,other=http://host:port".
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from collections.abc import Mapping

from flask import Flask, Response, request

ACCOUNT = "000000000000"
REGION = "us-east-1"
FORWARDED_HEADERS = (
    "Content-Type",
    "Accept",
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-SageMaker-Target-Model",
    "X-Amzn-SageMaker-Target-Variant",
    "X-Amzn-SageMaker-Inference-Id",
    "X-Amzn-SageMaker-Enable-Explanations",
    "X-Amzn-SageMaker-Session-Id",
)
UPSTREAM_TIMEOUT_S = 60
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints"


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
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["x-amzn-ErrorType"] = error_type
    return response


def _model_error(name: str, status: int, message: str) -> Response:
    kind = "client" if status < 500 else "server"
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


def _forward(url: str, body: bytes) -> tuple[int, bytes, Mapping[str, str]]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=UPSTREAM_TIMEOUT_S)
    try:
        headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
        connection.request("POST", "/invocations", body=body, headers=headers)
        upstream = connection.getresponse()
        return upstream.status, upstream.read(), dict(upstream.getheaders())
    finally:
        connection.close()


def create_gateway(endpoints: Mapping[str, str]) -> Flask:
    app = Flask(__name__)

    @app.route("/ping", methods=["GET"])
    def ping() -> Response:
        return Response(status=200)

    @app.route("/endpoints/<path:name>/invocations", methods=["POST"])
    def invoke_endpoint(name: str) -> Response:
        if name not in endpoints:
            return _aws_error(
                400,
                "ValidationError",
                {"message": f"Endpoint {name} of account {ACCOUNT} not found."},
            )
        try:
            status, body, headers = _forward(endpoints[name], request.get_data())
        except OSError as exc:
            return _aws_error(
                503, "ServiceUnavailable", {"message": f"endpoint {name} is not reachable: {exc}"}
            )
        if status >= 400:
            try:
                message = json.loads(body).get("error", "")
            except (ValueError, AttributeError):
                message = body.decode("utf-8", "replace")
            return _model_error(name, status, str(message) or f"HTTP {status}")
        response = Response(body, status=200)
        response.headers["Content-Type"] = headers.get("Content-Type", "application/octet-stream")
        response.headers["x-Amzn-Invoked-Production-Variant"] = "AllTraffic"
        attributes = headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if attributes is not None:
            response.headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
        return response

    return app


def app_from_env() -> Flask:
    """WSGI entry for gunicorn: `gunicorn 'container.gateway:app_from_env()'`."""
    return create_gateway(parse_endpoints(os.environ.get("GATEWAY_ENDPOINTS", "")))
