"""Hostile bodies against the decoders in-process: every cheap check comes before the work it
bounds, every answer is a ServingError with a message (never ValueError, OverflowError or
MemoryError), and each decoder's time grows linearly with the body."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable

import numpy as np
import pytest

from container import codecs
from container.errors import InvalidPayload, ServingError, TooManyLines, TooManyValues
from container.inputs import record_cells

#: What the server passes for the abalone model: 10 features, 6 MiB bodies.
SERVER = codecs.Limits(max_rows=6 * 1024 * 1024 // 20, max_columns=10, max_cells=3 * 1024 * 1024)
ROW = "0.5,0.25,0.1,0.3,0.2,0.1,0.15,1,0,0"


def refusal(body: bytes, content_type: str, limits: codecs.Limits = SERVER) -> ServingError:
    with pytest.raises(ServingError) as caught:
        codecs.decode(body, content_type, limits)
    return caught.value


# --- the bodies that stalled or bloated workers, one by one -----------------------------------


def test_escaped_quotes_in_json_are_refused_by_the_parser_alone():
    error = refusal(b'["' + b'\\"' * 60_000 + b"]", "application/json")
    assert "Unterminated string" in error.message


def test_libsvm_index_beyond_the_model_is_refused_at_the_token():
    error = refusal(b"10000:1\n" + b"0\n" * 60_000, "text/libsvm")
    assert (error.status_code, "row 1") == (400, "row 1")
    assert "1 <= index <= 10" in error.message


def test_a_row_of_commas_is_refused_by_its_width_before_any_cell_exists():
    error = refusal(b"," * 6_000_000, "text/csv")
    assert "row 1: has 6000001 values; the model takes at most 10" in error.message


@pytest.mark.parametrize(
    "body",
    [b"[[1" + b"0" * 400 + b",1,1,1,1,1,1,0,0,1]]", b"[[" + b"7" * 5_000 + b"]]"],
    ids=["400-zeros", "5000-digits"],
)
def test_long_json_integers_are_400_not_overflow(body: bytes):
    error = refusal(body, "application/json")
    assert error.status_code == 400
    assert "characters" in error.message and "at most 100" in error.message


def test_a_libsvm_index_of_5000_digits_never_reaches_int():
    error = refusal(b"1" * 5_000 + b":1\n", "text/libsvm")
    assert error.status_code == 400 and "index is out of range" in error.message


# --- the other families ---------------------------------------------------------------------


def test_json_integers_of_up_to_18_digits_are_exact_and_longer_ones_are_floats():
    rows = codecs.decode(b"[[123456789012345678, 1234567890123456789]]", "application/json")
    assert rows.values[0].tolist() == [123456789012345678.0, 1234567890123456789.0]


def test_deep_nesting_is_400_from_the_parser_guard():
    for opener in (b"[", b'{"a":'):
        assert "nested too deeply" in refusal(opener * 1_000_000, "application/json").message


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", b"\n" * 400_000 + ROW.encode()),
        ("text/csv", b"\r" * 400_000 + ROW.encode()),
        ("text/libsvm", b"\r\n" * 400_000 + b"1:1"),
        ("application/jsonlines", b"\n" * 400_000 + b"[1]"),
    ],
    ids=["lf", "cr", "crlf", "jsonlines"],
)
def test_blank_lines_are_counted_before_the_split(content_type: str, body: bytes):
    error = refusal(body, content_type)
    assert isinstance(error, TooManyLines) and error.status_code == 413


def test_values_are_capped_whatever_the_shape():
    limits = codecs.Limits(max_rows=1_000, max_columns=10_000, max_cells=1_000)
    wide = refusal(b"10000:1\n" + b"1:1\n", "text/libsvm", limits)
    assert isinstance(wide, TooManyValues) and "2 rows of 10000 values" in wide.message
    csv = refusal(("\n".join([",".join(["1"] * 100)] * 11)).encode(), "text/csv", limits)
    assert isinstance(csv, TooManyValues) and csv.status_code == 413


def test_width_is_checked_before_the_cells_are_read():
    # The bad cell would be named if any cell were parsed: the width error comes first.
    error = refusal(b"x," * 20 + b"1\n", "text/csv")
    assert "has 21 values" in error.message


@pytest.mark.parametrize(
    "cell",
    ["\u0661", "\uff11", "1_000", "0x10", "1\x00", "1e", ".", "--1", "1.2.3", "\u00b2"],
    ids=[
        "arabic-indic",
        "fullwidth",
        "underscore",
        "hex",
        "nul",
        "e",
        "dot",
        "minus2",
        "dots",
        "sup",
    ],
)
@pytest.mark.parametrize("rows", [1, 20], ids=["one-row", "batch"])
def test_numbers_are_ascii_decimals_in_every_path(cell: str, rows: int):
    # Column 2: a first cell that is no number is taken for a sex code (a raw abalone row).
    body = "\n".join([ROW] * (rows - 1) + [f"0.5,{cell},0.1,0.3,0.2,0.1,0.15,1,0,0"])
    error = refusal(body.encode(), "text/csv")
    assert f"row {rows}, column 2" in error.message
    json_error = refusal(f"[[1, {json.dumps(cell)}]]".encode(), "application/json")
    assert "row 1, column 2" in json_error.message
    libsvm = refusal(f"1:{cell}\n".encode(), "text/libsvm")
    assert "row 1, column 1" in libsvm.message


@pytest.mark.parametrize("rows", [1, 20], ids=["one-row", "batch"])
def test_a_number_has_at_most_100_characters(rows: int):
    longest = "0." + "1" * 98
    body = "\n".join([f"{longest},{ROW[4:]}"] * rows)
    assert codecs.decode(body.encode(), "text/csv", SERVER).values.shape == (rows, 10)
    error = refusal(("\n".join([f"{longest}1,{ROW[4:]}"] * rows)).encode(), "text/csv")
    assert "101 characters; a number has at most 100" in error.message
    assert "at most 100" in refusal(f"[[{longest}1]]".encode(), "application/json").message
    assert "at most 100" in refusal(f'[["{longest}1"]]'.encode(), "application/json").message
    assert "at most 100" in refusal(f"1:{longest}1\n".encode(), "text/libsvm").message


@pytest.mark.parametrize(
    ("text", "finite"),
    [
        ("1e-999999", True),
        ("-1e-400", True),
        ("1e308", True),
        ("1e309", False),
        ("1e999999", False),
        ("-1E99999", False),
        ("inf", False),
        ("-Infinity", False),
        ("INF", False),
    ],
)
def test_huge_exponents_and_infinities_are_400_tiny_ones_are_zero(text: str, finite: bool):
    for rows in (1, 20):
        body = "\n".join([f"{text},{ROW[4:]}"] * rows).encode()
        if finite:
            value = codecs.decode(body, "text/csv", SERVER).values[0, 0]
            assert value == float(text)
        else:
            assert "not finite" in refusal(body, "text/csv").message


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan", "+NAN", ""])
def test_nan_spellings_and_empty_cells_are_missing_values(text: str):
    for rows in (1, 20):
        body = "\n".join([f"{text},{ROW[4:]}"] * rows).encode()
        values = codecs.decode(body, "text/csv", SERVER).values
        assert values.shape == (rows, 10) and np.isnan(values[:, 0]).all()


def test_batches_with_empty_cells_match_the_cell_by_cell_parse():
    lines = [",0.25,,0.3,0.2,0.1,0.15,1,0,", "0.5,,0.1,0.3,0.2,0.1,0.15,,,0"] * 10
    fast = codecs.decode("\n".join(lines).encode(), "text/csv", SERVER).values
    checked = codecs.decode(
        ("\n".join(lines) + "\n" + lines[0] + " ").encode(), "text/csv", SERVER
    ).values  # a trailing space is not loadtxt's: the whole body goes cell by cell
    assert np.array_equal(fast, checked[:-1], equal_nan=True)


def test_a_record_with_thousands_of_keys_is_refused_by_its_size():
    record = "{" + ",".join(f'"k{i}": 1' for i in range(50_000)) + "}"
    with pytest.raises(ServingError) as caught:
        codecs.decode(f"[{record}]".encode(), "application/json", SERVER, record_cells)
    assert "got 50000 fields" in caught.value.message


def test_libsvm_lines_with_more_pairs_than_features_are_refused_before_the_split():
    error = refusal(b"7 " + b"1:1 " * 500_000, "text/libsvm")
    assert "more than 10 index:value pairs" in error.message


def test_raw_rows_take_the_vectorised_path_with_the_same_answer():
    raw = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
    many = codecs.decode(("\n".join([raw] * 20)).encode(), "text/csv", SERVER)
    one = codecs.decode(raw.encode(), "text/csv", SERVER)
    assert many.categories == ["M"] * 20 and one.categories == ["M"]
    assert np.array_equal(many.values, np.repeat(one.values, 20, axis=0))


# --- linear time ------------------------------------------------------------------------------

Family = Callable[[int], tuple[str, bytes]]
LIMITS = codecs.Limits(max_rows=10**7, max_columns=10, max_cells=10**8)


def _json_escapes(n: int) -> tuple[str, bytes]:
    return "application/json", b'["' + b'\\"' * n + b'"]'


def _json_unterminated(n: int) -> tuple[str, bytes]:
    return "application/json", b'["' + b'\\"' * n + b"]"


def _csv_rows_bad_last(n: int) -> tuple[str, bytes]:
    return "text/csv", ((ROW + "\n") * (n // 40) + ROW[:-1] + "x\n").encode()


def _csv_empty_cells(n: int) -> tuple[str, bytes]:
    return "text/csv", (",0.25,,0.3,0.2,0.1,0.15,1,0,\n" * (n // 30)).encode()


def _csv_raw_rows(n: int) -> tuple[str, bytes]:
    return "text/csv", (("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n") * (n // 45)).encode()


def _csv_one_cell(n: int) -> tuple[str, bytes]:
    return "text/csv", b"1" * n


def _json_rows_of_strings(n: int) -> tuple[str, bytes]:
    row = '["0.5","0.25","0.1","0.3","0.2","0.1","0.15","1","0","0"]'
    return "application/json", ("[" + ",".join([row] * (n // 60)) + "]").encode()


def _json_long_numbers(n: int) -> tuple[str, bytes]:
    return "application/json", ("[" + ",".join(["1" * 99] * (n // 100)) + "]").encode()


def _jsonlines_records(n: int) -> tuple[str, bytes]:
    line = '{"sex": "M", "length": 0.455, "diameter": 0.365, "height": 0.095, "whole_weight": 0.5,'
    line += ' "shucked_weight": 0.2, "viscera_weight": 0.1, "shell_weight": 0.15}\n'
    return "application/jsonlines", (line * (n // len(line))).encode()


def _libsvm_rows(n: int) -> tuple[str, bytes]:
    return "text/libsvm", (b"1:0.5 2:0.25 3:0.1 4:0.3 5:0.2 10:1\n" * (n // 36))


def _libsvm_labels(n: int) -> tuple[str, bytes]:
    return "text/libsvm", b"1" * n + b" 1:1\n"


FAMILIES: dict[str, Family] = {
    "json-escapes": _json_escapes,
    "json-unterminated-escapes": _json_unterminated,
    "csv-bad-last-cell": _csv_rows_bad_last,
    "csv-empty-cells": _csv_empty_cells,
    "csv-raw-rows": _csv_raw_rows,
    "csv-one-long-cell": _csv_one_cell,
    "json-string-cells": _json_rows_of_strings,
    "json-long-numbers": _json_long_numbers,
    "jsonlines-records": _jsonlines_records,
    "libsvm-rows": _libsvm_rows,
    "libsvm-long-label": _libsvm_labels,
}


def _decode_seconds(family: Family, size: int) -> float:
    content_type, body = family(size)
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        with contextlib.suppress(ServingError):
            codecs.decode(body, content_type, LIMITS)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("name", list(FAMILIES))
def test_decoding_time_grows_linearly(name: str):
    """16 times the body may take at most 48 times as long (a quadratic decoder takes 256 times):
    the small size is large enough (25 KB) that timer noise cannot decide the ratio."""
    small = _decode_seconds(FAMILIES[name], 25_000)
    large = _decode_seconds(FAMILIES[name], 400_000)
    assert large < 48 * max(small, 2e-4), f"{name}: {small * 1e3:.2f} ms -> {large * 1e3:.2f} ms"


def test_every_family_is_answered_as_rows_or_a_serving_error():
    for family in FAMILIES.values():
        content_type, body = family(25_000)
        try:
            rows = codecs.decode(body, content_type, LIMITS)
        except ServingError as error:
            assert error.message and 400 <= error.status_code < 500
        else:
            assert rows.values.dtype == np.float64


def test_invalid_payload_is_the_only_error_a_bad_number_raises():
    for text in ["1" * 5000, "1e" + "9" * 5000, "9" * 400 + ".5", "-" * 50]:
        for content_type, body in [
            ("text/csv", text.encode()),
            ("application/json", f"[{text}]".encode()),
            ("text/libsvm", f"1:{text}".encode()),
        ]:
            with contextlib.suppress(InvalidPayload):  # anything else fails the test
                codecs.decode(body, content_type, SERVER)


@pytest.mark.parametrize("label", ["\x00" * 1000, "x", "1" * 101], ids=["nul", "word", "long"])
def test_a_libsvm_label_is_ignored_only_when_it_is_a_number(label: str):
    assert np.isnan(codecs.decode(b"7.5\n", "text/libsvm", SERVER).values).all()
    error = refusal(f"{label} 1:1\n".encode(), "text/libsvm")
    assert "row 1: the label" in error.message and "is not a number" in error.message


@pytest.mark.parametrize("rows", [3, 30], ids=["few-rows", "batch"])
@pytest.mark.parametrize("first", ["0.5", "M"], ids=["encoded", "raw"])
def test_rows_of_other_widths_are_refused_even_when_the_commas_add_up(rows: int, first: str):
    """Rows of 2 and 4 values hold as many commas as two rows of 3: the total is no proof."""
    wide, short = f"{first},1,2,3", f"{first},1"
    lines = [f"{first},1,2"] * (rows - 2) + [wide, short]
    error = refusal("\n".join(lines).encode(), "text/csv")
    assert f"row {rows - 1}: has 4 values but row 1 has 3" in error.message
    single = [f"{first},1,2"] * (rows - 2) + [f"{first},1,2,3,4", first]  # a row of one value
    error = refusal("\n".join(single).encode(), "text/csv")
    assert f"row {rows - 1}: has 5 values" in error.message
