"""The loader reads the abalone file from a path, an http(s) URL (raw or the UCI zip) and an
s3:// URI, checking its sha256 each time; the servers here are real ones on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from training import schema
from training.data import load_abalone
from training.errors import DataError


@pytest.fixture(scope="module")
def http_root(tmp_path_factory: pytest.TempPathFactory, abalone_path: Path) -> Iterator[str]:
    root = tmp_path_factory.mktemp("www")
    raw = abalone_path.read_bytes()
    (root / "abalone.data").write_bytes(raw)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("abalone.names", "names")
        archive.writestr("abalone.data", raw)
    (root / "abalone.zip").write_bytes(buffer.getvalue())
    (root / "other.data").write_bytes(raw.replace(b"M,", b"F,", 1))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *_args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("name", ["abalone.data", "abalone.zip"])
def test_loads_from_http_raw_file_and_uci_zip(http_root, name):
    frame = load_abalone(f"{http_root}/{name}")
    assert len(frame) == 4177
    assert list(frame.columns) == list(schema.FILE_COLUMNS)


def test_http_file_with_other_bytes_fails_the_checksum(http_root):
    with pytest.raises(DataError, match="sha256 mismatch"):
        load_abalone(f"{http_root}/other.data")
    assert len(load_abalone(f"{http_root}/other.data", expected_sha256=None)) == 4177


def test_loads_from_s3_on_moto_server(moto_endpoint, abalone_path):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="abalone/abalone.data", Body=abalone_path.read_bytes())
    frame = load_abalone("s3://data/abalone/abalone.data")
    assert len(frame) == 4177


def test_missing_local_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_abalone(str(tmp_path / "nope.data"))
