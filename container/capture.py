"""SageMaker Data Capture for the local runtime gateway: sampled request/response pairs written as
JSON Lines in SageMaker's layout, off the request path.

What was checked, and where (2026-11, with the `search` tool over stored copies of AWS's pages
and public code; where no AWS page was at hand, that is said):
- The record's fields: AWS's "Capture data from real-time endpoint" page
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html)
  names the layout; its sample record was not in the stored copy, so the fields were checked
  against real captures quoted in public notebooks and books: {"captureData": {"endpointInput":
  {...}, "endpointOutput": {...}}, "eventMetadata": {"eventId", "inferenceTime"},
  "eventVersion": "0"}, each side with "observedContentType", "mode" ("INPUT" / "OUTPUT"),
  "data", "encoding". "inferenceId" joins eventMetadata when InvokeEndpoint got an InferenceId
  (what model-quality monitoring joins ground truth on; seen in public ground-truth merging code).
- Encoding: DataCaptureConfig.CaptureContentTypeHeader
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCaptureConfig.html: "If no
  headers are specified SageMaker AI will by default base64 encode"): types listed in
  CsvContentTypes are kept as text with "CSV", in JsonContentTypes with "JSON", others "BASE64".
  The lists are the endpoint template's (contract.CAPTURE_*_CONTENT_TYPES; a test compares them).
- Layout: s3://<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl (the page above),
  the hour of the inference in UTC; files named <minute>-<second>-<millisecond>-<uuid>.jsonl
  after the time they were opened, as real listings show (AllTraffic/2020/03/11/12/
  32-18-648-cee08c3a-02ce-4790-b8ba-3173cfc12813.jsonl).
- inferenceTime: real captures show both "2020-07-30T13:36:30Z" and "...T10:30:45.123Z"; we
  write milliseconds, and the monitor reads either.

Standard library only: the gateway imports it.
"""

from __future__ import annotations

import atexit
import base64
import json
import logging
import os
import queue
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from container import contract

log = logging.getLogger(__name__)

#: Where the gateway writes captures (empty or unset: capture is off).
DIR_VARIABLE: Final = "GATEWAY_CAPTURE_DIR"
#: Percentage of successful invocations captured, 0-100 (InitialSamplingPercentage's range).
PERCENT_VARIABLE: Final = "GATEWAY_CAPTURE_SAMPLING_PERCENTAGE"
DEFAULT_PERCENT: Final = 100
#: Invocations waiting for the writer; beyond this they are dropped (and counted), never waited
#: for: a slow or failing disk must not slow requests.
MAX_QUEUE: Final = 10_000
#: The bodies waiting for the writer, in bytes: without it 10,000 queued 6 MiB requests and their
#: answers could hold over 100 GiB; beyond it records are dropped (and counted) too.
MAX_QUEUE_BYTES: Final = 64 * contract.MIB
EVENT_VERSION: Final = "0"
#: How long a stopping gateway waits for queued records to reach the disk.
CLOSE_TIMEOUT_S: Final = 5.0
#: The tree is a development artefact written by the gateway's user (nobody in compose): the
#: host user who owns the bind mount must be able to read and delete it, so umask is overridden.
DIR_MODE: Final = 0o777
FILE_MODE: Final = 0o666


class CaptureSettingsError(ValueError):
    """A capture variable holds a value the gateway cannot use."""


@dataclass(frozen=True)
class CaptureSettings:
    """Data capture's settings, read once from the environment by the gateway's entry point."""

    #: The capture root; None: capture is off.
    root: Path | None = None
    #: Share of successful invocations captured, in percent.
    sampling_percentage: int = DEFAULT_PERCENT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CaptureSettings:
        root = environ.get(DIR_VARIABLE, "").strip()
        text = environ.get(PERCENT_VARIABLE, "").strip() or str(DEFAULT_PERCENT)
        try:
            percent = int(text)
        except ValueError:
            raise CaptureSettingsError(f"{PERCENT_VARIABLE}={text!r} is not an integer") from None
        if not 0 <= percent <= 100:
            raise CaptureSettingsError(f"{PERCENT_VARIABLE}={percent} is not within 0-100")
        return cls(root=Path(root) if root else None, sampling_percentage=percent)


@dataclass(frozen=True)
class Exchange:
    """One successful invocation as the gateway saw it."""

    endpoint: str
    body: bytes
    content_type: str
    output: bytes
    output_content_type: str
    time: datetime
    inference_id: str | None = None
    variant: str = contract.PRODUCTION_VARIANT


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def encode_payload(data: bytes, content_type: str, mode: str) -> dict[str, str]:
    """One side of captureData: text for the CSV and JSON types, base64 otherwise (and for text
    that is not UTF-8, which JSON Lines cannot hold as it is)."""
    media_type = _media_type(content_type)
    encoding = "BASE64"
    if media_type in contract.CAPTURE_CSV_CONTENT_TYPES:
        encoding = "CSV"
    elif media_type in contract.CAPTURE_JSON_CONTENT_TYPES:
        encoding = "JSON"
    if encoding != "BASE64":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if encoding == "BASE64":
        text = base64.b64encode(data).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def format_time(when: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as SageMaker's capture times end."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def capture_record(exchange: Exchange, event_id: str) -> dict[str, Any]:
    """The JSON object of one captured invocation (one line of a capture file)."""
    metadata = {"eventId": event_id, "inferenceTime": format_time(exchange.time)}
    if exchange.inference_id:
        metadata["inferenceId"] = exchange.inference_id
    return {
        "captureData": {
            "endpointInput": encode_payload(exchange.body, exchange.content_type, "INPUT"),
            "endpointOutput": encode_payload(
                exchange.output, exchange.output_content_type, "OUTPUT"
            ),
        },
        "eventMetadata": metadata,
        "eventVersion": EVENT_VERSION,
    }


def hour_dir(root: Path, endpoint: str, variant: str, when: datetime) -> Path:
    """<root>/<endpoint>/<variant>/yyyy/mm/dd/hh, the hour in UTC."""
    return root / endpoint / variant / when.astimezone(UTC).strftime("%Y/%m/%d/%H")


def file_name(opened: datetime, file_id: str) -> str:
    """<minute>-<second>-<millisecond>-<uuid>.jsonl, after the time the file was opened."""
    opened = opened.astimezone(UTC)
    return f"{opened:%M-%S}-{opened.microsecond // 1000:03d}-{file_id}.jsonl"


class CaptureWriter:
    """Samples invocations and appends them to capture files from one background thread.

    `offer` costs a random draw and a non-blocking put; a full queue (MAX_QUEUE records or
    MAX_QUEUE_BYTES of bodies) drops the record (counted in `dropped`), a write that fails is
    logged and counted in `failed`, and the request never sees either. Counters are read by
    tests and logged by `close` (at the gateway's exit).
    """

    def __init__(
        self,
        root: Path,
        sampling_percentage: int,
        *,
        max_queue: int = MAX_QUEUE,
        max_queue_bytes: int = MAX_QUEUE_BYTES,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.root = root
        self.sampling_percentage = sampling_percentage
        self.captured = self.dropped = self.failed = 0
        self._lock = threading.Lock()  # offer runs on every request thread
        self._max_queue_bytes = max_queue_bytes
        self._queued_bytes = 0
        self._draw = draw
        self._queue: queue.Queue[Exchange] = queue.Queue(maxsize=max_queue)
        #: (endpoint, variant) -> the hour directory and the file this writer appends to there.
        self._files: dict[tuple[str, str], tuple[Path, Path]] = {}
        self._thread = threading.Thread(target=self._run, name="data-capture", daemon=True)
        self._thread.start()

    def offer(self, exchange: Exchange) -> None:
        """Queue the exchange if it is sampled; never blocks, never raises."""
        if self._draw() * 100 >= self.sampling_percentage:
            return
        size = _size(exchange)
        with self._lock:
            if self._queued_bytes + size <= self._max_queue_bytes:
                try:
                    self._queue.put_nowait(exchange)
                    self._queued_bytes += size
                    return
                except queue.Full:
                    pass
            self.dropped += 1

    def wait_until_written(self) -> None:
        """Block until every queued exchange is written or counted as failed (tests, shutdown)."""
        self._queue.join()

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Give queued records up to timeout_s to be written, then log the counters."""
        waiter = threading.Thread(target=self._queue.join, daemon=True)
        waiter.start()
        waiter.join(timeout_s)
        lost = self.dropped + self.failed + self._queue.unfinished_tasks
        # WARNING when anything was lost: the gateway configures no logging, and Python's
        # last-resort handler prints only warnings and errors.
        log.log(
            logging.WARNING if lost else logging.INFO,
            "data capture: %d written, %d dropped (queue full), %d failed, %d still queued",
            self.captured,
            self.dropped,
            self.failed,
            self._queue.unfinished_tasks,
        )

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            finally:
                with self._lock:
                    self._queued_bytes -= sum(map(_size, batch))
                for _ in batch:
                    self._queue.task_done()

    def _write(self, batch: list[Exchange]) -> None:
        lines: dict[tuple[str, str, Path], list[str]] = {}
        for exchange in batch:
            directory = hour_dir(self.root, exchange.endpoint, exchange.variant, exchange.time)
            record = json.dumps(capture_record(exchange, str(uuid.uuid4())), separators=(",", ":"))
            lines.setdefault((exchange.endpoint, exchange.variant, directory), []).append(record)
        for (endpoint, variant, directory), records in lines.items():
            try:
                path = self._file_for((endpoint, variant), directory)
                _append(path, "".join(f"{record}\n" for record in records))
                self.captured += len(records)
            except OSError as exc:
                self.failed += len(records)
                log.warning("data capture: %d records not written: %s", len(records), exc)

    def _file_for(self, key: tuple[str, str], directory: Path) -> Path:
        """The file of this writer in `directory`; a new hour starts a new file."""
        current = self._files.get(key)
        if current is not None and current[0] == directory:
            return current[1]
        _make_dirs(directory, self.root)
        path = directory / file_name(datetime.now(UTC), str(uuid.uuid4()))
        self._files[key] = (directory, path)
        return path


def _size(exchange: Exchange) -> int:
    return len(exchange.body) + len(exchange.output)


def _make_dirs(directory: Path, root: Path) -> None:
    missing = []
    for parent in (directory, *directory.parents):
        if parent == root or parent.exists():
            break
        missing.append(parent)
    directory.mkdir(parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, DIR_MODE)


def _append(path: Path, text: str) -> None:
    """One write(2) per batch of whole lines, so a reader never sees half a line mid-file."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def writer_from_settings(settings: CaptureSettings) -> CaptureWriter | None:
    if settings.root is None or settings.sampling_percentage == 0:
        return None
    log.info("data capture: %d%% of invocations to %s", settings.sampling_percentage, settings.root)
    writer = CaptureWriter(settings.root, settings.sampling_percentage)
    atexit.register(writer.close)  # a stopping gateway still writes what it has queued
    return writer
