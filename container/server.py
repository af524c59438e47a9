"""Run the Flask app under gunicorn, configured from ServingSettings in this one place.

The model is loaded in the master before any worker forks, so a bad model fails the container
at once and every worker shares the booster's pages copy-on-write.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from container.accesslog import AccessLog
from container.app import ModelState
from container.settings import GRACEFUL_TIMEOUT_S, ServingSettings

log = logging.getLogger(__name__)


def gunicorn_options(settings: ServingSettings) -> dict[str, Any]:
    return {
        "bind": f"0.0.0.0:{settings.port}",
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        # The worker timeout must exceed the longest request SageMaker lets run.
        "timeout": settings.timeout_s + 5,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "keepalive": settings.keepalive_s,
        "backlog": 2048,
        # Oversized or too many headers: gunicorn answers 431 before the app sees the request.
        "limit_request_field_size": settings.max_header_bytes,
        "limit_request_fields": settings.max_headers,
        "limit_request_line": 4094,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level,
        "worker_tmp_dir": "/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
        "control_socket_disable": True,
    }


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """gunicorn running an already-built WSGI app with the given options and server hooks."""

    def __init__(self, app: Flask, options: dict[str, Any]):
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self._app


def _worker_hooks(state: ModelState, access_log: AccessLog | None) -> dict[str, Any]:
    def post_worker_init(_worker: Any) -> None:
        if access_log is not None:
            access_log.start()
        state.warm_up()

    def worker_exit(_arbiter: Any, _worker: Any) -> None:
        if access_log is not None:
            access_log.flush_now()  # no request line is lost on a graceful exit

    return {"post_worker_init": post_worker_init, "worker_exit": worker_exit}


def run(
    settings: ServingSettings, app: Flask, state: ModelState, access_log: AccessLog | None
) -> None:
    """Serve until SIGTERM (graceful: in-flight requests finish) or SIGINT."""
    log.info(
        "serving %s on port %d: %d workers x %d threads, timeout %ds, body limit %d MiB, %d rows%s",
        settings.model_dir,
        settings.port,
        settings.workers,
        settings.threads,
        settings.timeout_s,
        settings.max_payload_mb,
        settings.max_rows,
        " (batch)" if settings.batch else "",
    )
    GunicornServer(app, {**gunicorn_options(settings), **_worker_hooks(state, access_log)}).run()
