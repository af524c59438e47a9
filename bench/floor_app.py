"""The framework floor: Flask under gunicorn with the real server's options, no model.

`/invocations` reads the body the way the real server does and returns a constant, so its
latency and throughput are what Flask + gunicorn + the network path cost on their own. It takes
its gunicorn options from `container.server.gunicorn_options(ServingSettings.from_env())`, the
same call the real server makes, and the benchmark runs it in the same image (entrypoint
override, this package mounted read-only) and on the host the same way as the real server.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask, Response, request

from container import contract
from container.server import GunicornServer, gunicorn_options
from container.settings import ServingSettings

CONSTANT = b"9.25\n"


def create_app(limit: int) -> Flask:
    app = Flask(__name__)

    @app.route("/ping", methods=["GET", "POST"])
    def ping() -> Response:
        return Response(status=200)

    @app.route("/invocations", methods=["POST"])
    def invocations() -> Response:
        request.stream.read(limit + 1)
        return Response(CONSTANT, content_type=contract.CSV)

    return app


def main() -> int:
    settings = ServingSettings.from_env()
    logging.basicConfig(stream=sys.stdout, level=settings.log_level.upper())
    logging.getLogger(__name__).info(
        "framework floor on port %d: %d workers x %d threads",
        settings.port,
        settings.workers,
        settings.threads,
    )
    GunicornServer(create_app(settings.max_body_bytes), gunicorn_options(settings)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
