"""Request decoders and response encoders, as registries keyed by media type.

Decoders turn a body into `Rows` (a float matrix, plus the first field of each row when it is a
category, as in raw abalone rows); encoders turn predictions into a body. Lookups that miss
become 415 and 406. One module per input format (csv_rows, json_rows, libsvm_rows), what they
share in cells, negotiation and encoders beside them; named JSON records are mapped onto a
model's row by the reader the caller passes (container/inputs.py), not here.

Every decoder is linear in the body and bounded in memory, with the cheap checks first: line
breaks and rows are counted, and the width of a row is checked against `Limits.max_columns`
(the model's width in the server), before anything is split into cells; rows x width is checked
against `Limits.max_cells` before a number is parsed or a matrix allocated. Numbers are checked
for syntax and length (MAX_NUMBER_CHARS) before float(), by JSON's grammar, numpy's strict
parser or one regular expression that cannot backtrack; no client's digits ever reach int()
unbounded (JSON integers and libsvm indices are length-checked first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from container.codecs.cells import (
    DEFAULT_LIMITS,
    MAX_NUMBER_CHARS,
    Limits,
    RecordReader,
    Rows,
    rows_from_cells,
)
from container.codecs.csv_rows import CHUNK_BYTES, decode_csv, decode_csv_chunks
from container.codecs.encoders import ENCODERS, encode, encode_csv, encode_json, encode_jsonlines
from container.codecs.json_rows import decode_json, decode_jsonlines
from container.codecs.libsvm_rows import decode_libsvm
from container.codecs.negotiation import choose_accept, normalize_media_type
from container.contract import CSV, JSON, JSONLINES, LIBSVM
from container.errors import UnsupportedMediaType

__all__ = [
    "CHUNK_BYTES",
    "CSV",
    "DECODERS",
    "DEFAULT_LIMITS",
    "ENCODERS",
    "JSON",
    "JSONLINES",
    "LIBSVM",
    "MAX_NUMBER_CHARS",
    "Limits",
    "RecordReader",
    "Rows",
    "choose_accept",
    "decode",
    "decode_csv",
    "decode_csv_chunks",
    "decode_json",
    "decode_jsonlines",
    "decode_libsvm",
    "encode",
    "encode_csv",
    "encode_json",
    "encode_jsonlines",
    "normalize_media_type",
    "rows_from_cells",
]

Decoder = Callable[[bytes, Limits, RecordReader | None], Rows]


def _ignoring_records(decoder: Callable[[bytes, Limits], Rows]) -> Decoder:
    return lambda body, limits, _records: decoder(body, limits)


DECODERS: Final[dict[str, Decoder]] = {
    CSV: _ignoring_records(decode_csv),
    JSON: decode_json,
    JSONLINES: decode_jsonlines,
    LIBSVM: _ignoring_records(decode_libsvm),
}


def decode(
    body: bytes | bytearray,
    content_type: str | None,
    limits: Limits = DEFAULT_LIMITS,
    records: RecordReader | None = None,
) -> Rows:
    """`records` maps named JSON records onto the model's row; without it they are refused."""
    decoder = DECODERS.get(normalize_media_type(content_type or ""))
    if decoder is None:
        raise UnsupportedMediaType(content_type, list(DECODERS))
    return decoder(body, limits, records)
