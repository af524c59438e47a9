"""Load the abalone data from a local path, an http(s) URL (raw file or UCI zip) or an s3:// URI."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from training import schema
from training.errors import DataError

_ZIP_MEMBER = "abalone.data"
_HTTP_TIMEOUT_S = 60
#: Measurements (mm / 200, g / 200) and ring counts are small and never negative; anything
#: beyond this is a corrupt file, and would overflow the scaling.
MAX_VALUE = 1e6


def read_source(source: str) -> bytes:
    """Return the bytes behind a path, http(s) URL or s3:// URI, unzipping a UCI zip archive."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=_HTTP_TIMEOUT_S) as response:
            raw = response.read()
    elif source.startswith("s3://"):
        raw = _read_s3(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"no such file: {source}")
        raw = path.read_bytes()
    return _unzip_if_archive(raw, source)


def _read_s3(uri: str) -> bytes:
    try:
        import boto3  # only the host-side tools need S3; the image reads local files
    except ImportError as exc:
        raise DataError("reading s3:// URIs needs boto3 (pip install boto3)") from exc
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    return bytes(body.read())


def _unzip_if_archive(raw: bytes, source: str) -> bytes:
    if not raw.startswith(b"PK\x03\x04"):
        return raw
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == _ZIP_MEMBER]
            if not names:
                raise DataError(f"zip archive has no {_ZIP_MEMBER}", source=source)
            return archive.read(names[0])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"starts like a zip archive but is not one: {exc}", source=source) from None


def verify_sha256(raw: bytes, expected: str, source: str) -> None:
    """Raise DataError unless the bytes have the expected sha256."""
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise DataError(
            f"sha256 mismatch: expected {expected}, got {actual} "
            "(not the UCI abalone.data file; pass --no-verify for other data)",
            source=source,
        )


def load_abalone(
    source: str, *, expected_sha256: str | None = schema.ABALONE_SHA256
) -> pd.DataFrame:
    """Load and validate abalone rows (no header) into a frame with schema.FILE_COLUMNS."""
    raw = read_source(source)
    if expected_sha256:
        verify_sha256(raw, expected_sha256, source)
    return parse_rows(raw, source, columns=schema.FILE_COLUMNS)


def parse_rows(raw: bytes, source: str, *, columns: tuple[str, ...]) -> pd.DataFrame:
    """Parse headerless CSV whose first column is sex and the rest numbers; errors name the line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", source=source) from exc
    sexes: list[str] = []
    numbers: list[list[float]] = []
    for line_no, fields in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(columns):
            raise DataError(
                f"expected {len(columns)} fields ({', '.join(columns)}), got {len(fields)}",
                source=source,
                line=line_no,
            )
        sexes.append(_parse_sex(fields[0], source, line_no))
        numbers.append(
            [
                _parse_number(field, column, source, line_no)
                for field, column in zip(fields[1:], columns[1:], strict=True)
            ]
        )
    if not sexes:
        raise DataError("no data rows", source=source)
    frame = pd.DataFrame(np.asarray(numbers, dtype=np.float64), columns=list(columns[1:]))
    frame.insert(0, columns[0], sexes)
    return frame


def _parse_sex(field: str, source: str, line_no: int) -> str:
    code = field.strip().upper()
    if code not in schema.SEX_CATEGORIES:
        raise DataError(
            f"unknown sex code {field.strip()!r} "
            f"(expected one of {', '.join(schema.SEX_CATEGORIES)})",
            source=source,
            line=line_no,
        )
    return code


def _parse_number(field: str, column: str, source: str, line_no: int) -> float:
    try:
        value = float(field)
    except ValueError:
        raise DataError(
            f"column {column}: {field.strip()!r} is not a number", source=source, line=line_no
        ) from None
    if not math.isfinite(value):
        raise DataError(
            f"column {column}: {field.strip()!r} is not finite", source=source, line=line_no
        )
    if not 0 <= value <= MAX_VALUE:
        raise DataError(
            f"column {column}: {field.strip()!r} is out of range (0..{MAX_VALUE:g})",
            source=source,
            line=line_no,
        )
    return value
