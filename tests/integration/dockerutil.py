"""Helpers for tests that run the image: start containers on free 127.0.0.1 ports and poll."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker
import requests
from docker.models.containers import Container


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Call check() until it returns True; return the seconds it took, fail after timeout_s."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if check():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@dataclass
class Served:
    container: Container
    url: str

    def ping_status(self) -> int | None:
        try:
            return requests.get(f"{self.url}/ping", timeout=2).status_code
        except requests.RequestException:
            return None

    def wait_ready(self, timeout_s: float = 60) -> float:
        def ready() -> bool:
            self.container.reload()
            if self.container.status == "exited":
                raise AssertionError(f"container exited:\n{self.logs()}")
            return self.ping_status() == 200

        return poll(ready, timeout_s, f"{self.url}/ping to answer 200")

    def invoke(
        self, body: bytes | str, content_type: str | None = "text/csv", **headers: str
    ) -> Any:
        sent = dict(headers)
        if content_type is not None:
            sent["Content-Type"] = content_type
        return requests.post(f"{self.url}/invocations", data=body, headers=sent, timeout=60)

    def logs(self) -> str:
        return str(self.container.logs().decode(errors="replace"))


def run_image(
    client: docker.DockerClient, image: str, *args: str, port: int = 8080, **options: Any
) -> Served:
    host_port = free_port()
    ports = options.pop("ports", {f"{port}/tcp": ("127.0.0.1", host_port)})
    container = client.containers.run(image, list(args), detach=True, ports=ports, **options)
    return Served(container=container, url=f"http://127.0.0.1:{host_port}")
