"""moto's standalone server as a real HTTP stand-in for AWS, for tests and local runs."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType

from deploy.invoke import wait_until_ready
from devtools.ports import free_port

LAUNCHER = Path(__file__).with_name("moto_launcher.py")


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
        self.port = free_port()
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
        try:
            wait_until_ready(f"{self.url}/moto-api/", self._timeout, interval_s=0.1)
        except TimeoutError:
            self.__exit__(None, None, None)
            raise RuntimeError(
                f"moto_server did not answer on {self.url} within {self._timeout} s"
            ) from None
        return self

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
