"""Request decoders, Accept negotiation and response encoders (no model, no HTTP)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from container import codecs, contract
from container.errors import InvalidPayload, NotAcceptable, UnsupportedMediaType
from container.inputs import record_cells
from training import schema

RAW_ROW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
RAW_VALUES = [0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]
FEATURES = [0.1, -0.2, 0.3, 1.5, -1.0, 0.0, 2.0, 0.0, 0.0, 1.0]
FEATURE_CSV = ",".join(str(v) for v in FEATURES)


def decode_json(body: bytes) -> codecs.Rows:
    """As the server decodes: named records mapped by the abalone model's input adapter."""
    return codecs.decode_json(body, records=record_cells)


def decode_jsonlines(body: bytes) -> codecs.Rows:
    return codecs.decode_jsonlines(body, records=record_cells)


def nan_equal(actual: np.ndarray, expected) -> bool:
    return np.array_equal(actual, np.asarray(expected, dtype=np.float64), equal_nan=True)


# --- media types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text/csv", "text/csv"),
        ("TEXT/CSV", "text/csv"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("  Application/JSON ;charset=UTF-8", "application/json"),
        ("application/jsonlines", "application/jsonlines"),
        ("application/x-jsonlines", "application/jsonlines"),
        ("application/jsonl", "application/jsonlines"),
        ("application/x-ndjson; charset=utf-8", "application/jsonlines"),
        ("text/libsvm", "text/libsvm"),
        ("text/x-libsvm", "text/libsvm"),
        ("", ""),
    ],
)
def test_normalize_media_type_drops_parameters_case_and_aliases(value: str, expected: str):
    assert codecs.normalize_media_type(value) == expected


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/xml", "text/csvx"])
def test_decode_unknown_content_type_is_unsupported(content_type):
    with pytest.raises(UnsupportedMediaType):
        codecs.decode(FEATURE_CSV.encode(), content_type)


@pytest.mark.parametrize(
    "content_type", ["text/csv", "Text/CSV; charset=utf-8", "text/csv;header=absent"]
)
def test_decode_dispatches_on_normalized_content_type(content_type: str):
    rows = codecs.decode(FEATURE_CSV.encode(), content_type)
    assert nan_equal(rows.values, [FEATURES])


# --- CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"1,2,3\n4,5,6\n", [[1, 2, 3], [4, 5, 6]]),
        (b"1,2,3\r\n4,5,6\r\n", [[1, 2, 3], [4, 5, 6]]),
        (b"\n\n1,2,3\n\n4,5,6\n\n\n", [[1, 2, 3], [4, 5, 6]]),
        (b"  \r\n1,2,3", [[1, 2, 3]]),
        (b"1e-3,-2.5E2,+3\n", [[0.001, -250.0, 3.0]]),
        (b" 1 , 2 ,3 \n", [[1, 2, 3]]),
        (b"1,,3\n", [[1, math.nan, 3]]),
        (b",2,\n", [[math.nan, 2, math.nan]]),
        (b"1,nan,3\n", [[1, math.nan, 3]]),
        ("\ufeff1,2,3\n".encode(), [[1, 2, 3]]),
    ],
    ids=[
        "lf",
        "crlf",
        "blank-lines",
        "blank-leading-no-trailing-newline",
        "scientific",
        "spaces",
        "empty-field",
        "empty-edges",
        "nan-literal",
        "utf8-bom",
    ],
)
def test_decode_csv_numbers(body: bytes, expected):
    rows = codecs.decode_csv(body)
    assert rows.categories is None
    assert not rows.sparse
    assert nan_equal(rows.values, expected)
    assert len(rows) == len(expected)


@pytest.mark.parametrize(
    ("body", "sex"),
    [
        (f"{RAW_ROW}\n".encode(), ["M"]),
        (f"{RAW_ROW}\r\nF{RAW_ROW[1:]}\r\n i {RAW_ROW[1:]}".encode(), ["M", "F", "i"]),
    ],
)
def test_decode_csv_detects_raw_abalone_rows(body: bytes, sex):
    rows = codecs.decode_csv(body)
    assert rows.categories == sex
    assert nan_equal(rows.values, [RAW_VALUES] * len(sex))


def test_decode_csv_raw_row_with_missing_measurement_is_nan():
    rows = codecs.decode_csv(b"F,0.5,,0.1,0.2,0.1,0.05,0.06\n")
    assert rows.categories == ["F"]
    assert math.isnan(rows.values[0, 1])


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b"1,2,3\n4,5\n", ["row 2", "2 values", "row 1 has 3"]),
        (b"1,2\n3,4\n5,6,7\n", ["row 3", "3 values"]),
        (b"1,2,3\n4,abc,6\n", ["row 2", "column 2", "'abc'", "not a number"]),
        (b"1,2,3\n4,5,6\n7,8,x9\n", ["row 3", "column 3", "'x9'"]),
        (f"{RAW_ROW}\nM,0.1,oops,0.1,0.1,0.1,0.1,0.1\n".encode(), ["row 2", "column 3", "oops"]),
        (b"1,inf,3\n", ["row 1", "column 2", "not finite"]),
        (b"1,2,3\n4,5,-Infinity\n", ["row 2", "column 3", "not finite"]),
        (b"1,2,1e999\n", ["row 1", "column 3", "not finite"]),
        (b"", ["empty body"]),
        (b"\n \r\n\n", ["empty body"]),
        (b"1,2,\xff\n", ["not UTF-8", "offset 4"]),
        ("1,2,3\n".encode("utf-16"), ["not UTF-8"]),
    ],
    ids=[
        "short-row",
        "long-row",
        "word",
        "word-last-column",
        "raw-row-word",
        "inf",
        "minus-infinity",
        "overflow",
        "empty",
        "only-blank-lines",
        "latin1-byte",
        "utf16",
    ],
)
def test_decode_csv_rejects_bad_bodies_naming_the_place(body: bytes, fragments):
    with pytest.raises(InvalidPayload) as caught:
        codecs.decode_csv(body)
    for fragment in fragments:
        assert fragment in caught.value.message


# --- JSON -----------------------------------------------------------------------------------


RAW_RECORD = {
    "Sex": "M",
    "Length": 0.455,
    "Diameter": 0.365,
    "Height": 0.095,
    "Whole weight": 0.514,
    "Shucked weight": 0.2245,
    "Viscera weight": 0.101,
    "Shell weight": 0.15,
}


@pytest.mark.parametrize(
    ("document", "values", "sex"),
    [
        ({"instances": [FEATURES, FEATURES]}, [FEATURES, FEATURES], None),
        ([FEATURES], [FEATURES], None),
        ([FEATURES, FEATURES, FEATURES], [FEATURES] * 3, None),
        (FEATURES, [FEATURES], None),
        ({"instances": [{"features": FEATURES}]}, [FEATURES], None),
        ([{"features": FEATURES}, {"features": FEATURES}], [FEATURES, FEATURES], None),
        ([["M", *RAW_VALUES]], [RAW_VALUES], ["M"]),
        (["F", *RAW_VALUES], [RAW_VALUES], ["F"]),
        ({"instances": [RAW_RECORD]}, [RAW_VALUES], ["M"]),
        ([RAW_RECORD, {**RAW_RECORD, "Sex": "I"}], [RAW_VALUES] * 2, ["M", "I"]),
        ([dict(zip(schema.RAW_COLUMNS, ["F", *RAW_VALUES], strict=True))], [RAW_VALUES], ["F"]),
        (
            [{"whole-weight" if k == "Whole weight" else k: v for k, v in RAW_RECORD.items()}],
            [RAW_VALUES],
            ["M"],
        ),
        ([[1, None, "3", 4.5]], [[1, math.nan, 3, 4.5]], None),
        ([[1, "", 3]], [[1, math.nan, 3]], None),
    ],
    ids=[
        "instances",
        "list-of-one-row",
        "list-of-rows",
        "one-flat-row",
        "instances-features",
        "list-of-features-records",
        "raw-row",
        "raw-flat-row",
        "raw-record-uci-names",
        "raw-records",
        "raw-record-schema-names",
        "raw-record-dash-name",
        "null-and-numeric-string",
        "empty-string",
    ],
)
def test_decode_json_shapes(document, values, sex):
    rows = decode_json(json.dumps(document).encode())
    assert nan_equal(rows.values, values)
    assert rows.categories == sex


def test_decode_json_records_named_by_feature_names():
    # The error message for unknown fields tells callers to use exactly these names.
    record = dict(zip(schema.FEATURE_NAMES, FEATURES, strict=True))
    rows = decode_json(json.dumps({"instances": [record]}).encode())
    assert rows.categories is None
    assert nan_equal(rows.values, [FEATURES])


def test_decode_json_refuses_booleans_whatever_the_other_cells():
    # _parse_cell refuses booleans; the result must not depend on whether a neighbour is bad.
    with pytest.raises(InvalidPayload, match="row 1, column 1"):
        decode_json(json.dumps([[True, *FEATURES[1:]]]).encode())


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b"{not json", ["invalid JSON", "line 1"]),
        (b'{"instances": [1, 2,]}', ["invalid JSON"]),
        (b"[" * 100_000, ["invalid JSON", "nested too deeply"]),
        (b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
        (b'{"a":' * 100_000, ["invalid JSON"]),
        (b"[]", ["no rows"]),
        (b'{"instances": []}', ["no rows"]),
        (b"", ["no rows"]),
        (b"null", ["no rows"]),
        (b"42", ["no rows"]),
        (b'"text"', ["no rows"]),
        (b'{"rows": [[1, 2]]}', ["instances"]),
        (b"[[1, 2], [3]]", ["row 2", "1 values", "row 1 has 2"]),
        (b"[[1, 2], 3]", ["row 2", "expected a list of values"]),
        (b"[[1, [2]]]", ["row 1", "expected a list of values"]),
        (b'[[1, {"a": 2}]]', ["row 1"]),
        (b'[[1, "x"]]', ["row 1", "column 2", "'x'", "not a number"]),
        (b'[{"sex": "M", "length": 1, "colour": "red"}]', ["row 1", "named fields", "colour"]),
        (b'[{"features": [1, 2]}, {"weight": 3}]', ["row 2", "named fields", "weight"]),
        (b'[{"features": [[1, 2]]}]', ["row 1", "expected a list of values"]),
        (b"[[1, 1e999]]", ["row 1", "column 2", "not finite"]),
        (b"[[1, Infinity]]", ["row 1", "column 2", "not finite"]),
        (b"[1, 2, \xff]", ["not UTF-8"]),
    ],
    ids=[
        "invalid",
        "trailing-comma",
        "deep-unclosed",
        "deep-closed",
        "deep-objects",
        "empty-list",
        "empty-instances",
        "empty-body",
        "null",
        "scalar",
        "string",
        "object-without-instances",
        "ragged",
        "scalar-row",
        "nested-cell",
        "object-cell",
        "word",
        "unknown-field",
        "unknown-field-row-2",
        "nested-features",
        "overflow",
        "infinity",
        "not-utf8",
    ],
)
def test_decode_json_rejects_bad_documents(body: bytes, fragments):
    with pytest.raises(InvalidPayload) as caught:
        decode_json(body)
    for fragment in fragments:
        assert fragment in caught.value.message


# --- JSON lines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "values", "sex"),
    [
        (f"{json.dumps(FEATURES)}\n{json.dumps(FEATURES)}\n", [FEATURES, FEATURES], None),
        (f"\n{json.dumps({'features': FEATURES})}\r\n\n", [FEATURES], None),
        (f"{json.dumps(['M', *RAW_VALUES])}\n", [RAW_VALUES], ["M"]),
        (f"{json.dumps(RAW_RECORD)}\n{json.dumps(RAW_RECORD)}", [RAW_VALUES] * 2, ["M", "M"]),
    ],
    ids=["lists", "features-record", "raw-list", "raw-records"],
)
def test_decode_jsonlines(body: str, values, sex):
    rows = decode_jsonlines(body.encode())
    assert nan_equal(rows.values, values)
    assert rows.categories == sex


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b"[1, 2]\n[1, 2\n", ["invalid JSON"]),
        (b"[1, 2]\n[1]\n", ["row 2", "1 values"]),
        (b"[1, 2]\n3\n", ["row 2", "expected a list"]),
        (b'[1, 2]\n{"unknown": 1}\n', ["row 2", "named fields"]),
        (b'[1, "a"]\n', ["row 1", "column 2", "'a'"]),
        (b"\n\n", ["empty body"]),
    ],
)
def test_decode_jsonlines_rejects_bad_lines(body: bytes, fragments):
    with pytest.raises(InvalidPayload) as caught:
        decode_jsonlines(body)
    for fragment in fragments:
        assert fragment in caught.value.message


# --- libsvm ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"1:0.5 2:1.5 3:2\n", [[0.5, 1.5, 2.0]]),
        (b"1:0.5 3:2\n", [[0.5, math.nan, 2.0]]),
        (b"7 1:0.5 2:1\n", [[0.5, 1.0]]),
        (b"7.5 2:1\n", [[math.nan, 1.0]]),
        (b"3:1 1:2\n", [[2.0, math.nan, 1.0]]),
        (b"1:1\n2:2\r\n\n", [[1.0, math.nan], [math.nan, 2.0]]),
        (b"1:1e-3\n", [[0.001]]),
        (b"0.0\n1:4\n", [[math.nan], [4.0]]),
    ],
    ids=[
        "dense",
        "gap-is-nan",
        "leading-label",
        "float-label",
        "unordered",
        "ragged-rows",
        "scientific",
        "label-only-row",
    ],
)
def test_decode_libsvm_shifts_indexes_to_zero_based(body: bytes, expected):
    rows = codecs.decode_libsvm(body)
    assert rows.sparse
    assert rows.categories is None
    assert nan_equal(rows.values, expected)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b"0:1 1:2\n", ["row 1", "'0:1'", "1 <= index"]),
        (b"1:1\n1:1 -2:3\n", ["row 2", "'-2:3'"]),
        (b"1:1 a:3\n", ["row 1", "'a:3'"]),
        (b"1:1 2:x\n", ["row 1", "column 2", "'x'", "not a number"]),
        (b"1:inf\n", ["not finite"]),
        (b"", ["empty body"]),
    ],
    ids=["index-zero", "negative-index", "word-index", "word-value", "inf", "empty"],
)
def test_decode_libsvm_rejects_bad_tokens(body: bytes, fragments):
    with pytest.raises(InvalidPayload) as caught:
        codecs.decode_libsvm(body)
    for fragment in fragments:
        assert fragment in caught.value.message


@pytest.mark.parametrize(
    "body",
    ["1:1 \u00b2:3\n".encode(), b"1:1 1000000000000000:1\n"],
    ids=["superscript-digit-index", "huge-index"],
)
def test_decode_libsvm_rejects_unusable_indexes_as_invalid_payload(body: bytes):
    # Anything a client sends must end as InvalidPayload (400), never ValueError or MemoryError
    # (500): the decoder must not allocate a row as wide as any index a client names.
    with pytest.raises(InvalidPayload):
        codecs.decode_libsvm(body)


@pytest.mark.parametrize("token", ["2", "2:"])
def test_decode_libsvm_refuses_tokens_without_a_value(token: str):
    # Its own message says tokens are index:value; a bare index must not become a missing value.
    with pytest.raises(InvalidPayload, match="row 1"):
        codecs.decode_libsvm(f"1:1 {token}\n".encode())


# --- Accept negotiation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "default", "expected"),
    [
        (None, "text/csv", "text/csv"),
        ("", "application/json", "application/json"),
        ("   ", "text/csv", "text/csv"),
        ("*/*", "text/csv", "text/csv"),
        ("*/*", "application/jsonlines", "application/jsonlines"),
        ("application/json", "text/csv", "application/json"),
        ("APPLICATION/JSON; charset=utf-8", "text/csv", "application/json"),
        ("application/jsonlines", "text/csv", "application/jsonlines"),
        ("application/x-ndjson", "text/csv", "application/jsonlines"),
        ("text/csv", "application/json", "text/csv"),
        ("text/html, application/json", "text/csv", "application/json"),
        ("text/csv;q=0.5, application/json", "text/csv", "application/json"),
        ("application/json;q=0.2, text/csv;q=0.9", "application/json", "text/csv"),
        ("application/json;q=0, text/csv", "application/json", "text/csv"),
        ("text/html;q=1, application/jsonlines;q=0.1", "text/csv", "application/jsonlines"),
        ("application/json, text/csv", "text/csv", "application/json"),
        ("*/*;q=0.1, application/json", "text/csv", "application/json"),
        ("text/*", "text/csv", "text/csv"),
        ("text/*", "application/json", "text/csv"),
        ("application/*", "text/csv", "application/json"),
        ("application/*", "application/jsonlines", "application/jsonlines"),
        ("text/html, */*;q=0.8", "application/json", "application/json"),
    ],
)
def test_choose_accept(accept, default: str, expected: str):
    assert codecs.choose_accept(accept, default) == expected


@pytest.mark.parametrize(
    "accept",
    [
        "text/html",
        "application/xml, text/html;q=0.9",
        "text/csv;q=0",
        "application/json;q=0, */*;q=0",
        "text/csv;q=abc",
        "image/*",
        "text/libsvm",
    ],
)
def test_choose_accept_unsupported_is_not_acceptable(accept: str):
    with pytest.raises(NotAcceptable) as caught:
        codecs.choose_accept(accept, "text/csv")
    assert caught.value.status_code == 406
    for media_type in codecs.ENCODERS:
        assert media_type in caught.value.message


# --- encoders -------------------------------------------------------------------------------

PREDICTIONS = np.array([9.5, 10.25, 7.0], dtype=np.float32)


@pytest.mark.parametrize("n", [1, 3, 100])
def test_encode_csv_one_newline_terminated_value_per_row(n: int):
    predictions = np.linspace(1, 20, n).astype(np.float32)
    body = codecs.encode(predictions, codecs.CSV).decode()
    assert body.endswith("\n")
    lines = body.splitlines()
    assert len(lines) == n == body.count("\n")
    assert [float(line) for line in lines] == pytest.approx(predictions.tolist())


def test_encode_json_predictions_with_scores():
    document = json.loads(codecs.encode(PREDICTIONS, codecs.JSON))
    assert document == {"predictions": [{"score": 9.5}, {"score": 10.25}, {"score": 7.0}]}


def test_encode_jsonlines_one_object_per_line():
    body = codecs.encode(PREDICTIONS, codecs.JSONLINES).decode()
    assert body.endswith("\n")
    assert [json.loads(line) for line in body.splitlines()] == [
        {"score": 9.5},
        {"score": 10.25},
        {"score": 7.0},
    ]


def test_encoders_cover_the_decoders_text_types():
    assert tuple(codecs.ENCODERS) == contract.RESPONSE_TYPES  # what the pipeline registers
    assert tuple(codecs.DECODERS) == contract.REQUEST_TYPES


@pytest.mark.parametrize("media_type", [codecs.CSV, codecs.JSON, codecs.JSONLINES])
def test_encoded_predictions_round_trip_full_precision(media_type: str):
    predictions = np.array([1 / 3, 12.000001], dtype=np.float64)
    body = codecs.encode(predictions, media_type).decode()
    if media_type == codecs.CSV:
        scores = [float(line) for line in body.splitlines()]
    elif media_type == codecs.JSON:
        scores = [p["score"] for p in json.loads(body)["predictions"]]
    else:
        scores = [json.loads(line)["score"] for line in body.splitlines()]
    assert scores == predictions.tolist()


def test_named_records_need_a_reader_the_features_record_does_not():
    # The wire format knows no field names: the model's input adapter maps them (inputs.py).
    with pytest.raises(InvalidPayload, match=r'row 1: expected a list of values or \{"features"'):
        codecs.decode_json(json.dumps([RAW_RECORD]).encode())
    rows = codecs.decode_json(json.dumps([{"features": FEATURES}]).encode())
    assert nan_equal(rows.values, [FEATURES])
