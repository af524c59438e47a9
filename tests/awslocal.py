"""moto's standalone server as a real HTTP stand-in for AWS, for tests and local runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

LAUNCHER = Path(__file__).with_name("moto_launcher.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def aws_environment(url: str) -> dict[str, str]:
    """Variables that send boto3 and the aws CLI to `url` with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def reset_moto(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


class MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT` in a subprocess, up until the context exits."""

    def __init__(self, startup_timeout_s: float = 30):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._timeout = startup_timeout_s
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        # moto_server, with the one CloudFormation fix described in moto_launcher.py.
        self._process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"moto_server did not answer on {self.url} within {self._timeout} s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
