"""Large CSV bodies a chunk of rows at a time (codecs.decode_csv_chunks, invocations'
_predict_chunks) and large bodies read from gunicorn's own body reader (body._read_large):
the same answers and the same refusals as the whole-body path, rows numbered from the body's
first line, every limit checked before the work it bounds."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
import xgboost as xgb
from gunicorn.http.body import Body, LengthReader
from gunicorn.http.unreader import SocketUnreader

from container import codecs
from container.body import _read_body
from container.contract import CSV, JSON, JSONLINES
from container.errors import InvalidPayload, TooManyLines, TooManyRows, TooManyValues
from container.invocations import predict_payload
from container.model import Predictor, load_model
from training.artifact import write_model_dir

RAW = "M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15"
ENCODED = "-0.57,-0.43,-1.06,-0.64,-0.61,-0.73,-0.64,0,0,1"
SMALL_CHUNK = 2_000  # bytes: a body of a few hundred rows spans many chunks


def _rows(line: str, count: int) -> list[str]:
    """`count` rows like `line`, its numbers jittered (a raw row keeps its sex code)."""
    rng = np.random.default_rng(count)
    cells = line.split(",")
    raw = cells[0].isalpha()
    numbers = np.array(cells[raw:], dtype=float) + rng.normal(0, 0.05, (count, len(cells) - raw))
    return [",".join(cells[:raw] + [f"{v:.6g}" for v in row]) for row in numbers]


def _whole_and_chunked(body: bytes, limits: codecs.Limits) -> tuple[codecs.Rows, list]:
    return codecs.decode(body, CSV, limits), list(
        codecs.decode_csv_chunks(body, limits, chunk_bytes=SMALL_CHUNK)
    )


@pytest.mark.parametrize("line", [RAW, ENCODED], ids=["raw", "encoded"])
def test_chunks_decode_to_exactly_the_whole_bodys_rows(line: str) -> None:
    body = ("\n".join(_rows(line, 400)) + "\n").encode()
    whole, chunks = _whole_and_chunked(body, codecs.Limits())
    assert len(chunks) > 5
    assert np.array_equal(np.vstack([c.values for c in chunks]), whole.values)
    assert [c.first_row for c in chunks] == list(np.cumsum([0] + [len(c) for c in chunks])[:-1] + 1)
    if whole.categories is not None:
        assert [code for c in chunks for code in c.categories or []] == whole.categories


@pytest.mark.parametrize("accept", [CSV, JSONLINES, JSON])
@pytest.mark.parametrize("line", [RAW, ENCODED], ids=["raw", "encoded"])
def test_a_large_body_gets_byte_for_byte_the_answer_of_the_whole_body_path(
    predictor, line: str, accept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = ("\n".join(_rows(line, 3_000)) + "\n").encode()
    limits = codecs.Limits(max_columns=predictor.max_fields)
    monkeypatch.setattr(codecs, "CHUNK_BYTES", SMALL_CHUNK)  # dozens of chunks
    chunked = predict_payload(body, CSV, accept, predictor, CSV, limits)
    monkeypatch.setattr(codecs, "CHUNK_BYTES", len(body) + 1)  # the whole-body path
    whole = predict_payload(body, CSV, accept, predictor, CSV, limits)
    assert chunked == whole
    assert chunked.rows == 3_000


@pytest.fixture(scope="module")
def deep_predictor(predictor, tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    """Full-depth trees (depth 8, 256 leaves: beyond the table walker) on random data, with the
    abalone preprocessing, served from a model directory as the image serves one."""
    rng = np.random.default_rng(3)
    features = np.hstack([rng.standard_normal((4_000, 7)), np.eye(3)[rng.integers(0, 3, 4_000)]])
    labels = rng.uniform(1, 30, 4_000)
    params = {"max_depth": 8, "eta": 0.3, "tree_method": "hist", "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=40)
    model_dir = tmp_path_factory.mktemp("deep") / "model"
    write_model_dir(model_dir, booster, predictor.transform)
    deep = load_model(model_dir)
    assert deep.walker is None  # XGBoost predicts every batch of this model
    return deep


@pytest.mark.parametrize("model", ["predictor", "deep_predictor"])
@pytest.mark.parametrize("line", [RAW, ENCODED], ids=["raw", "encoded"])
def test_a_chunked_answer_is_xgboosts_own_prediction_of_every_row(
    model: str, line: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parity with XGBoost itself: every row of a many-chunk body, through the server's path,
    against inplace_predict on the features the training code's transform makes of it."""
    served: Predictor = request.getfixturevalue(model)
    lines = _rows(line, 2_000)
    monkeypatch.setattr(codecs, "CHUNK_BYTES", SMALL_CHUNK)
    limits = codecs.Limits(max_columns=served.max_fields)
    answer = predict_payload(("\n".join(lines)).encode(), CSV, CSV, served, CSV, limits)
    cells = [row.split(",") for row in lines]
    if line == RAW:
        numeric = np.array([row[1:] for row in cells], dtype=np.float64)
        features = served.transform.encode([row[0] for row in cells], numeric)
    else:
        features = np.array(cells, dtype=np.float64).astype(np.float32)
    expected = served.booster.inplace_predict(features, validate_features=False)
    got = np.array(answer.body.decode().split(), dtype=np.float64)
    assert np.array_equal(got, expected.astype(np.float64))  # exact: the same float32 values


def _chunked_error(body: bytes) -> str:
    with pytest.raises(InvalidPayload) as raised:
        list(codecs.decode_csv_chunks(body, codecs.Limits(), chunk_bytes=SMALL_CHUNK))
    return raised.value.message


@pytest.mark.parametrize("line", [RAW, ENCODED], ids=["raw", "encoded"])
def test_a_bad_cell_in_a_later_chunk_is_named_by_its_row_in_the_body(line: str) -> None:
    lines = _rows(line, 400)
    lines[333] = lines[333].replace(",", ",x", 1)
    body = ("\n".join(lines) + "\n").encode()
    assert _chunked_error(body).startswith("row 334, column 2:")
    with pytest.raises(InvalidPayload) as whole:
        codecs.decode(body, CSV)
    assert whole.value.message == _chunked_error(body)


def test_a_later_chunk_of_another_width_or_kind_is_refused_by_row(predictor) -> None:
    lines = _rows(ENCODED, 400)
    lines[300] += ",1"
    assert _chunked_error(("\n".join(lines)).encode()).startswith("row 301: has 11 values")
    mixed = _rows(RAW, 3_000)
    mixed[2_500:] = _rows(ENCODED.rsplit(",", 2)[0], 500)  # 8 numbers: the width of a raw row
    limits = codecs.Limits(max_columns=predictor.max_fields)
    with pytest.raises(InvalidPayload, match=r"^row 2501, column 1: unknown sex '-0\."):
        predict_payload(("\n".join(mixed)).encode(), CSV, CSV, predictor, CSV, limits)


def test_an_unknown_sex_code_in_a_later_chunk_is_named_by_its_row(predictor) -> None:
    lines = _rows(RAW, 3_000)
    lines[2_500] = "Q" + lines[2_500][1:]
    body = ("\n".join(lines)).encode()
    limits = codecs.Limits(max_columns=predictor.max_fields)
    with pytest.raises(InvalidPayload, match=r"^row 2501, column 1: unknown sex 'Q'"):
        predict_payload(body, CSV, CSV, predictor, CSV, limits)


def test_a_byte_order_mark_opens_only_the_first_chunk() -> None:
    lines = _rows(ENCODED, 400)
    lines[300] = "\ufeff" + lines[300]
    with pytest.raises(InvalidPayload):
        codecs.decode(("\n".join(lines)).encode(), CSV)
    message = _chunked_error(("\n".join(lines)).encode())
    assert message.startswith("row 301, column 1:")
    assert list(codecs.decode_csv_chunks(("\ufeff" + "\n".join(lines[:300])).encode()))


def test_line_breaks_rows_and_cells_are_counted_over_the_whole_body() -> None:
    body = ("\n".join(_rows(ENCODED, 400)) + "\n").encode()
    with pytest.raises(TooManyLines):  # before any chunk is decoded
        next(codecs.decode_csv_chunks(b"\n" * 500 + body, codecs.Limits(max_rows=450)))
    with pytest.raises(TooManyRows):
        list(codecs.decode_csv_chunks(body[:-1], codecs.Limits(max_rows=399), SMALL_CHUNK))
    with pytest.raises(TooManyValues):  # 400 rows x 10 values, refused chunk by chunk
        list(codecs.decode_csv_chunks(body, codecs.Limits(max_cells=3_000), SMALL_CHUNK))


def test_invalid_utf8_in_a_later_chunk_names_its_offset_in_the_body() -> None:
    body = ("\n".join(_rows(ENCODED, 400)) + "\n").encode()
    broken = body[:5_000] + b"\xff" + body[5_001:]
    assert _chunked_error(broken) == "body is not UTF-8 text (invalid byte at offset 5000)"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (("\n".join(_rows(RAW, 500))).encode(), CSV),
        (('{"instances": [[' + ENCODED + "]]}").encode(), JSON),
        (("\n".join(_rows(ENCODED, 50))).encode(), CSV),
    ],
    ids=["csv chunks", "json", "csv"],
)
def test_a_body_read_into_a_bytearray_gets_the_answer_of_bytes(
    predictor, body: bytes, content_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codecs, "CHUNK_BYTES", SMALL_CHUNK)
    limits = codecs.Limits(max_columns=predictor.max_fields)
    expected = predict_payload(body, content_type, CSV, predictor, CSV, limits)
    assert predict_payload(bytearray(body), content_type, CSV, predictor, CSV, limits) == expected


@pytest.mark.parametrize("size", [70_000, 3_000_000])
def test_a_large_body_is_read_whole_from_gunicorns_own_reader(size: int) -> None:
    """gunicorn's real body objects over a real socket pair: wsgi.input is gunicorn's Body."""
    payload = bytes(range(256)) * (size // 256)
    server, client = socket.socketpair()
    sender = threading.Thread(target=client.sendall, args=(payload,))
    sender.start()
    try:
        stream = Body(LengthReader(SocketUnreader(server), len(payload)))
        environ = {"CONTENT_LENGTH": str(len(payload)), "wsgi.input": stream}
        assert _read_body(environ, 6 * 1024 * 1024) == payload
    finally:
        sender.join()
        server.close()
        client.close()
