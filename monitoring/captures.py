"""Reading a Data Capture tree: the files of a time window, and their records decoded into the
request and response bodies (the layout and fields are container/capture.py's, which writes
them locally, and SageMaker's on AWS).

A tree is any folder whose files sit at .../yyyy/mm/dd/hh/<name>.jsonl: a whole capture root, one
endpoint's prefix, or one variant's. Files are chosen by their hour folder, records by their
inferenceTime; a line that cannot be read is counted and described, never fatal.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

#: yyyy/mm/dd/hh/<file>.jsonl at the end of a path, relative to the tree's root.
_HOUR_FILE: Final = re.compile(r"(?:^|.*/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+\.jsonl")
#: How many malformed lines are described in drift.json (all are counted).
MAX_EXAMPLES: Final = 20
_TEXT_ENCODINGS: Final = ("CSV", "JSON")


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, hours: float) -> Window:
        if hours <= 0:
            raise ValueError(f"the window must be longer than 0 hours, not {hours}")
        end = end.astimezone(UTC) if end.tzinfo else end.replace(tzinfo=UTC)
        return cls(start=end - timedelta(hours=hours), end=end)

    def holds_hour(self, hour: datetime) -> bool:
        """Whether [hour, hour + 1 h) overlaps the window."""
        return hour < self.end and hour + timedelta(hours=1) > self.start

    def holds(self, when: datetime) -> bool:
        return self.start <= when < self.end


@dataclass(frozen=True)
class Payload:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class CapturedRecord:
    """One captured invocation: its request and response bodies, and where it was read."""

    input: Payload
    output: Payload
    time: datetime
    event_id: str
    source: str


@dataclass
class Malformed:
    """Lines that could not be used: how many, and the first few with their reason."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, source: str, reason: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{source}: {reason}"[:300])


def capture_files(root: Path, window: Window) -> list[Path]:
    """The capture files under `root` whose hour folder overlaps the window, in path order."""
    found = []
    for path in sorted(root.rglob("*.jsonl")):
        match = _HOUR_FILE.fullmatch(path.relative_to(root).as_posix())
        if match is None:
            continue
        year, month, day, hour = (int(g) for g in match.groups())
        try:
            start = datetime(year, month, day, hour, tzinfo=UTC)
        except ValueError:
            continue  # not a date: not a capture folder
        if window.holds_hour(start):
            found.append(path)
    return found


def endpoint_of(root: Path, files: list[Path]) -> str | None:
    """The endpoint name in <endpoint>/<variant>/yyyy/mm/dd/hh/<file>, if the tree has it."""
    for path in files:
        parts = path.relative_to(root).parts
        if len(parts) >= 7:
            return parts[-7]
    return None


def read_records(
    files: list[Path], window: Window, malformed: Malformed
) -> Iterator[CapturedRecord]:
    """The records of `files` inside the window; unreadable lines go to `malformed`."""
    for path in files:
        try:
            lines = path.read_bytes().split(b"\n")
        except OSError as exc:
            malformed.add(str(path), f"unreadable file: {exc}")
            continue
        if lines and lines[-1] == b"":
            lines.pop()
        for number, line in enumerate(lines, start=1):
            source = f"{path.name}:{number}"
            try:
                record = parse_line(line, source)
            except ValueError as exc:
                malformed.add(source, str(exc))
                continue
            if window.holds(record.time):
                yield record


def parse_line(line: bytes, source: str = "") -> CapturedRecord:
    """One capture line; ValueError saying what is wrong with it."""
    try:
        data = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    capture = _member(data, "captureData", dict)
    metadata = _member(data, "eventMetadata", dict)
    return CapturedRecord(
        input=decode_payload(_member(capture, "endpointInput", dict), "INPUT"),
        output=decode_payload(_member(capture, "endpointOutput", dict), "OUTPUT"),
        time=parse_time(_member(metadata, "inferenceTime", str)),
        event_id=_member(metadata, "eventId", str),
        source=source,
    )


def decode_payload(side: dict[str, Any], mode: str) -> Payload:
    if side.get("mode") != mode:
        raise ValueError(f"mode {side.get('mode')!r} where {mode!r} belongs")
    data, encoding = _member(side, "data", str), _member(side, "encoding", str)
    content_type = _member(side, "observedContentType", str)
    if encoding in _TEXT_ENCODINGS:
        return Payload(data.encode("utf-8"), content_type)
    if encoding != "BASE64":
        raise ValueError(f"unknown encoding {encoding!r}")
    try:
        return Payload(base64.b64decode(data, validate=True), content_type)
    except binascii.Error as exc:
        raise ValueError(f"bad base64 data ({exc})") from None


def parse_time(text: str) -> datetime:
    """ISO 8601, with a Z or an offset (a time without one is taken as UTC)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"inferenceTime {text[:40]!r} is not ISO 8601") from None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _member(data: object, key: str, kind: type) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"expected an object holding {key!r}")
    value = data.get(key)
    if not isinstance(value, kind):
        raise ValueError(f"{key} is missing or not a {kind.__name__}")
    return value
