"""The Flask app through its test client: /ping, /invocations, /execution-parameters, errors."""

from __future__ import annotations

import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flask import request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from container.accesslog import AccessLog
from container.app import ModelState, create_app
from container.contract import CUSTOM_ATTRIBUTES, INFERENCE_ID
from container.model import Predictor
from container.settings import MIB, ServingSettings
from training import schema

N_ROWS = 5


@pytest.fixture(scope="module", params=[True, False], ids=["fast-path", "via-flask"])
def settings(settings: ServingSettings, request: pytest.FixtureRequest) -> ServingSettings:
    """Every test here runs both ways /invocations can be served: the same answers either way."""
    return replace(settings, fast_path=request.param)


class ExplodingPredictor(Predictor):
    """Validates rows like the real predictor but fails if asked to predict."""

    def predict(self, _features: np.ndarray) -> np.ndarray:
        raise RuntimeError("SECRET-DETAIL: predict was called")


class FailingWarmUpPredictor(Predictor):
    def warm_up(self) -> None:
        raise RuntimeError("booster exploded")


def clone(predictor: Predictor, cls: type[Predictor]) -> Predictor:
    return cls(
        booster=predictor.booster, n_features=predictor.n_features, transform=predictor.transform
    )


def client_for(settings: ServingSettings, state: ModelState):
    return create_app(settings, state).test_client()


def raw_lines(frame: pd.DataFrame) -> list[str]:
    return [
        ",".join([row[schema.SEX], *(repr(float(row[c])) for c in schema.NUMERIC_COLUMNS)])
        for _, row in frame.iterrows()
    ]


def assert_json_error(response, status: int, *fragments: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    message = body["error"]
    assert isinstance(message, str)
    assert message
    assert "Traceback" not in message
    assert 'File "' not in response.get_data(as_text=True)
    for fragment in fragments:
        assert fragment in message, message
    return message


def scores(response) -> list[float]:
    text = response.get_data(as_text=True)
    if response.mimetype == "text/csv":
        return [float(line) for line in text.splitlines()]
    if response.mimetype == "application/json":
        return [item["score"] for item in json.loads(text)["predictions"]]
    if response.mimetype == "application/jsonlines":
        return [json.loads(line)["score"] for line in text.splitlines()]
    raise AssertionError(f"unexpected media type {response.mimetype}")


@pytest.fixture(scope="module")
def rows(small_frame: pd.DataFrame) -> pd.DataFrame:
    return small_frame.head(N_ROWS)


@pytest.fixture(scope="module")
def encoded(predictor: Predictor, rows: pd.DataFrame) -> np.ndarray:
    return predictor.transform.transform(rows)


@pytest.fixture(scope="module")
def expected(predictor: Predictor, encoded: np.ndarray) -> np.ndarray:
    return np.asarray(predictor.booster.inplace_predict(encoded), dtype=np.float64)


@pytest.fixture(scope="module")
def raw_csv(rows: pd.DataFrame) -> bytes:
    return ("\n".join(raw_lines(rows)) + "\n").encode()


# --- /ping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_ping_ready(client, method: str):
    response = client.open("/ping", method=method)
    assert response.status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_ping_not_ready_while_loading(settings, predictor, method: str):
    response = client_for(settings, ModelState(predictor=predictor)).open("/ping", method=method)
    assert response.status_code == 503


def test_ping_not_ready_without_predictor(settings):
    state = ModelState()
    state.warm_up()
    assert not state.ready
    assert client_for(settings, state).get("/ping").status_code == 503


def test_warm_up_makes_state_ready(settings, predictor):
    state = ModelState(predictor=predictor)
    state.warm_up()
    assert state.ready
    assert state.error is None
    assert client_for(settings, state).get("/ping").status_code == 200


def test_failed_warm_up_leaves_ping_and_invocations_unavailable(settings, predictor, raw_csv):
    state = ModelState(predictor=clone(predictor, FailingWarmUpPredictor))
    state.warm_up()
    assert not state.ready
    assert state.error is not None
    assert "booster exploded" in state.error
    client = client_for(settings, state)
    assert client.get("/ping").status_code == 503
    response = client.post("/invocations", data=raw_csv, content_type="text/csv")
    assert_json_error(response, 503, "warm-up failed", "booster exploded")


def test_invocations_not_ready_is_503(settings, predictor, raw_csv):
    client = client_for(settings, ModelState(predictor=predictor, ready=False))
    response = client.post("/invocations", data=raw_csv, content_type="text/csv")
    assert_json_error(response, 503, "still loading")


def test_invocations_without_predictor_is_503(settings, raw_csv):
    client = client_for(settings, ModelState(predictor=None, ready=True))
    response = client.post("/invocations", data=raw_csv, content_type="text/csv")
    assert_json_error(response, 503)


# --- /invocations: content types and Accept -------------------------------------------------


def _bodies(rows: pd.DataFrame, encoded: np.ndarray) -> dict[str, tuple[str, bytes]]:
    raw = [
        [row[schema.SEX], *(float(row[c]) for c in schema.NUMERIC_COLUMNS)]
        for _, row in rows.iterrows()
    ]
    features = encoded.astype(np.float64).tolist()
    uci_names = [
        "Sex",
        "Length",
        "Diameter",
        "Height",
        "Whole weight",
        "Shucked weight",
        "Viscera weight",
        "Shell weight",
    ]
    libsvm = "\n".join(
        "0 " + " ".join(f"{j + 1}:{v!r}" for j, v in enumerate(row)) for row in features
    )
    return {
        "csv-raw": ("text/csv", ("\n".join(raw_lines(rows)) + "\n").encode()),
        "csv-raw-crlf-charset": (
            "text/csv; charset=utf-8",
            ("\r\n".join(raw_lines(rows)) + "\r\n").encode(),
        ),
        "csv-encoded": (
            "text/csv",
            "\n".join(",".join(repr(v) for v in row) for row in features).encode(),
        ),
        "json-instances-raw": ("application/json", json.dumps({"instances": raw}).encode()),
        "json-records-raw": (
            "application/json",
            json.dumps([dict(zip(uci_names, row, strict=True)) for row in raw]).encode(),
        ),
        "json-encoded": ("application/json", json.dumps(features).encode()),
        "json-features": (
            "application/json",
            json.dumps({"instances": [{"features": row} for row in features]}).encode(),
        ),
        "jsonlines-raw": (
            "application/jsonlines",
            "".join(json.dumps(row) + "\n" for row in raw).encode(),
        ),
        "jsonlines-encoded": (
            "application/jsonlines",
            "".join(json.dumps({"features": row}) + "\n" for row in features).encode(),
        ),
        "libsvm": ("text/libsvm", libsvm.encode()),
        "x-libsvm": ("text/x-libsvm", libsvm.encode()),
    }


BODY_KINDS = [
    "csv-raw",
    "csv-raw-crlf-charset",
    "csv-encoded",
    "json-instances-raw",
    "json-records-raw",
    "json-encoded",
    "json-features",
    "jsonlines-raw",
    "jsonlines-encoded",
    "libsvm",
    "x-libsvm",
]


@pytest.mark.parametrize("kind", BODY_KINDS)
def test_invocations_each_content_type_predicts_the_same(client, rows, encoded, expected, kind):
    content_type, body = _bodies(rows, encoded)[kind]
    response = client.post("/invocations", data=body, content_type=content_type)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert scores(response) == pytest.approx(expected.tolist(), abs=1e-5)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, "text/csv"),
        ("*/*", "text/csv"),
        ("text/csv", "text/csv"),
        ("application/json", "application/json"),
        ("application/json; charset=utf-8", "application/json"),
        ("application/jsonlines", "application/jsonlines"),
        ("text/html;q=0.9, application/jsonlines;q=0.5", "application/jsonlines"),
        ("text/csv;q=0.1, application/json", "application/json"),
        ("application/*", "application/json"),
        ("text/*", "text/csv"),
    ],
)
def test_invocations_honours_accept(client, raw_csv, expected, accept, media_type):
    headers = {"Accept": accept} if accept else {}
    response = client.post("/invocations", data=raw_csv, content_type="text/csv", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == media_type
    assert scores(response) == pytest.approx(expected.tolist(), abs=1e-5)


@pytest.mark.parametrize("accept", [None, "*/*"])
def test_invocations_default_accept_setting(settings, predictor, raw_csv, accept):
    settings = replace(settings, default_accept="application/json")
    client = client_for(settings, ModelState(predictor=predictor, ready=True))
    headers = {"Accept": accept} if accept else {}
    response = client.post("/invocations", data=raw_csv, content_type="text/csv", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert len(response.get_json()["predictions"]) == N_ROWS


def test_invocations_csv_output_has_one_line_per_row(client, raw_csv):
    response = client.post("/invocations", data=raw_csv, content_type="text/csv")
    text = response.get_data(as_text=True)
    assert text.endswith("\n")
    assert text.count("\n") == N_ROWS


# --- /invocations: errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "fragments"),
    [
        ("text/csv", b"1,2,3,4,5,6,7,8,9\n", ["expected 10 features, got 9"]),
        ("text/csv", b"1,2,3,4,5,6,7,8,9,10,11\n", ["row 1", "has 11 values", "at most 10"]),
        ("application/json", b"[[1, 2, 3]]", ["expected 10 features, got 3"]),
        ("text/libsvm", b"12:1\n", ["row 1", "'12:1'", "1 <= index <= 10"]),
        ("text/csv", b"1,2,3,4,5,6,7,8,9,10\n1,2,x,4,5,6,7,8,9,10\n", ["row 2", "column 3"]),
        ("text/csv", b"1,2,3,4,5,6,7,8,9,10\n1,2,3\n", ["row 2", "3 values"]),
        ("text/csv", b"1,2,3,4,5,6,7,8,9,inf\n", ["row 1", "column 10", "not finite"]),
        ("text/csv", b"M,0.1,0.2\n", ["expected 8 raw fields", "got 3"]),
        ("text/csv", b"X,0.5,0.4,0.1,0.5,0.2,0.1,0.15\n", ["row 1, column 1", "unknown sex 'X'"]),
        ("text/csv", b"", ["empty body"]),
        ("text/csv", b"\xff\xfe\n", ["not UTF-8"]),
        ("application/json", b"{oops", ["invalid JSON"]),
        ("application/json", b"[" * 100_000, ["nested too deeply"]),
        ("application/json", b"[]", ["no rows"]),
        ("text/libsvm", b"0:1\n", ["1 <= index"]),
    ],
)
def test_invocations_bad_payload_is_400(client, content_type: str, body: bytes, fragments):
    response = client.post("/invocations", data=body, content_type=content_type)
    assert_json_error(response, 400, *fragments)


def test_invocations_libsvm_huge_index_is_400(client):
    response = client.post(
        "/invocations", data=b"1:1 1000000000000000:1\n", content_type="text/libsvm"
    )
    assert_json_error(response, 400)


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml, text/plain;q=0.5", "text/csv;q=0"]
)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n"),
        ("text/csv", b"not,a,valid,row\n"),
        ("text/plain", b"anything"),
    ],
    ids=["valid", "invalid-body", "unsupported-type"],
)
def test_invocations_not_acceptable_before_any_work(
    settings, predictor, accept: str, content_type: str, body: bytes
):
    client = client_for(
        settings, ModelState(predictor=clone(predictor, ExplodingPredictor), ready=True)
    )
    response = client.post(
        "/invocations", data=body, content_type=content_type, headers={"Accept": accept}
    )
    assert_json_error(response, 406, "text/csv", "application/json")


def test_exploding_predictor_does_explode_when_accept_is_fine(settings, predictor, raw_csv):
    # The control for the 406 test: the same predictor answers 500 once it is asked to predict.
    client = client_for(
        settings, ModelState(predictor=clone(predictor, ExplodingPredictor), ready=True)
    )
    response = client.post("/invocations", data=raw_csv, content_type="text/csv")
    assert response.status_code == 500


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml", "image/png"])
def test_invocations_unsupported_media_type_is_415(client, raw_csv, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/invocations", data=raw_csv, headers=headers)
    message = assert_json_error(response, 415, "text/csv", "application/json")
    if content_type is None:
        assert "no Content-Type" in message
    else:
        assert content_type in message


@pytest.fixture(scope="module")
def small_limit_client(settings, predictor):
    settings = replace(settings, max_payload_mb=1)
    assert settings.max_body_bytes == MIB
    return client_for(settings, ModelState(predictor=predictor, ready=True))


@pytest.fixture(scope="module")
def one_mib_csv(raw_csv: bytes) -> bytes:
    line = raw_csv.splitlines(keepends=True)[0]
    body = line * (MIB // len(line))
    body += b"\n" * (MIB - len(body))
    assert len(body) == MIB
    return body


def test_invocations_body_at_the_limit_is_accepted(small_limit_client, one_mib_csv: bytes):
    response = small_limit_client.post("/invocations", data=one_mib_csv, content_type="text/csv")
    assert response.status_code == 200
    rows = len([line for line in one_mib_csv.splitlines() if line.strip()])
    assert response.get_data(as_text=True).count("\n") == rows


def test_invocations_body_over_the_limit_is_413(small_limit_client, one_mib_csv: bytes):
    response = small_limit_client.post(
        "/invocations", data=one_mib_csv + b"\n", content_type="text/csv"
    )
    assert_json_error(response, 413, str(MIB), "1 MiB")


@pytest.mark.parametrize(("extra", "status"), [(b"", "200"), (b"1", "413")])
def test_invocations_streamed_body_limit(settings, predictor, one_mib_csv, extra, status):
    # No Content-Length (a chunked body): the limit is enforced while reading.
    app = create_app(
        replace(settings, max_payload_mb=1), ModelState(predictor=predictor, ready=True)
    )
    environ = EnvironBuilder(
        path="/invocations", method="POST", data=one_mib_csv + extra, content_type="text/csv"
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    app_iter, response_status, headers = run_wsgi_app(app, environ, buffered=True)
    body = b"".join(app_iter)
    assert response_status.startswith(status)
    if status == "413":
        assert headers["Content-Type"] == "application/json"
        assert str(MIB) in json.loads(body)["error"]


def test_invocations_default_limit_is_six_mib(client, raw_csv: bytes):
    response = client.post("/invocations", data=b"\n" * (6 * MIB + 1), content_type="text/csv")
    assert_json_error(response, 413, "6 MiB")


def test_unexpected_error_is_a_generic_500(settings, predictor, raw_csv):
    client = client_for(
        settings, ModelState(predictor=clone(predictor, ExplodingPredictor), ready=True)
    )
    response = client.post("/invocations", data=raw_csv, content_type="text/csv")
    message = assert_json_error(response, 500, "internal error")
    assert "SECRET-DETAIL" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert "predict was called" not in message


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope", 404),
        ("POST", "/invocations/extra", 404),
        ("GET", "/invocations", 405),
        ("PUT", "/ping", 405),
        ("POST", "/execution-parameters", 405),
    ],
)
def test_routing_errors_are_json(client, method: str, path: str, status: int):
    assert_json_error(client.open(path, method=method), status)


# --- headers, /execution-parameters, access log ---------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [("text/csv", None, 200), ("text/csv", b"1,2\n", 400), ("text/plain", b"x", 415)],
)
def test_custom_attributes_are_echoed(client, raw_csv, content_type, body, status):
    attributes = "trace-id=abc123, tenant=7"
    response = client.post(
        "/invocations",
        data=raw_csv if body is None else body,
        content_type=content_type,
        headers={CUSTOM_ATTRIBUTES: attributes},
    )
    assert response.status_code == status
    assert response.headers[CUSTOM_ATTRIBUTES] == attributes


def test_custom_attributes_absent_unless_sent(client, raw_csv):
    response = client.post("/invocations", data=raw_csv, content_type="text/csv")
    assert CUSTOM_ATTRIBUTES not in response.headers


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}),
        (
            {
                "batch": True,
                "max_payload_mb": 20,
                "max_concurrent_transforms": 5,
                "batch_strategy": "SINGLE_RECORD",
            },
            {"MaxConcurrentTransforms": 5, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 20},
        ),
    ],
)
def test_execution_parameters(settings, predictor, overrides, expected):
    client = client_for(replace(settings, **overrides), ModelState(predictor=predictor, ready=True))
    response = client.get("/execution-parameters")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == expected


def test_execution_parameters_answer_while_not_ready(settings):
    response = client_for(settings, ModelState()).get("/execution-parameters")
    assert response.status_code == 200


def _logged_app(settings: ServingSettings, predictor: Predictor) -> tuple[Any, io.StringIO]:
    stream = io.StringIO()
    app = create_app(settings, ModelState(predictor=predictor, ready=True), AccessLog(stream))
    return app.test_client(), stream


ACCESS_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \[\d+\] container\.access: "
    r"(?P<method>\S+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>[\d.]+)ms "
    r"rows=(?P<rows>\S+) inference_id=(?P<id>\S+)$"
)


def test_access_log_line_per_invocation(settings, predictor, raw_csv):
    client, stream = _logged_app(settings, predictor)
    client.post(
        "/invocations", data=raw_csv, content_type="text/csv", headers={INFERENCE_ID: "inf-42"}
    )
    client.get("/ping")
    client.post("/invocations", data="a,b", content_type="text/csv")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines  # /ping is not logged
    first, second = (ACCESS_LINE.match(line) for line in lines)
    assert first and second, lines
    assert (first["method"], first["path"], first["status"]) == ("POST", "/invocations", "200")
    assert (first["rows"], first["id"]) == (str(N_ROWS), "inf-42")
    assert float(first["ms"]) > 0
    assert (second["status"], second["rows"], second["id"]) == ("400", "-", "-")


def test_access_log_keeps_every_line_from_concurrent_requests(settings, predictor, raw_csv):
    client, stream = _logged_app(settings, predictor)
    app = client.application

    def post(number: int) -> None:
        app.test_client().post(
            "/invocations",
            data=raw_csv,
            content_type="text/csv",
            headers={INFERENCE_ID: f"id-{number}"},
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(post, range(200)))
    ids = sorted(m["id"] for m in map(ACCESS_LINE.match, stream.getvalue().splitlines()) if m)
    assert ids == sorted(f"id-{n}" for n in range(200))


@pytest.mark.parametrize(
    ("access_log", "level", "expected"),
    [(True, "info", True), (True, "debug", True), (True, "warning", False), (False, "info", False)],
)
def test_requests_are_logged_only_when_on_and_the_level_shows_info(access_log, level, expected):
    settings = ServingSettings(access_log=access_log, log_level=level)
    assert settings.logs_requests is expected


def test_fast_path_and_flask_give_the_same_answers(settings, predictor, raw_csv):
    def answers(fast_path: bool, state: ModelState) -> list[tuple[int, str, str, bytes]]:
        client = client_for(replace(settings, fast_path=fast_path), state)
        requests = [
            ("POST", raw_csv, "text/csv", "text/csv"),
            ("POST", raw_csv, "text/csv", "application/json"),
            ("POST", b"1,2", "text/csv", "text/csv"),  # 400
            ("POST", raw_csv, "text/plain", "text/csv"),  # 415
            ("POST", raw_csv, "text/csv", "image/png"),  # 406
            ("POST", b"1," * MIB * 7, "text/csv", "text/csv"),  # 413
            ("GET", b"", "text/csv", "text/csv"),  # 405: not POST, so Flask either way
        ]
        out = []
        for method, body, content_type, accept in requests:
            response = client.open(
                "/invocations",
                method=method,
                data=body,
                headers={"Content-Type": content_type, "Accept": accept},
            )
            out.append(
                (
                    response.status_code,
                    response.headers["Content-Type"],
                    response.headers.get("Content-Length", ""),
                    response.data,
                )
            )
        return out

    for state in (
        ModelState(predictor=predictor, ready=True),
        ModelState(predictor=clone(predictor, ExplodingPredictor), ready=True),  # 500
        ModelState(),  # 503
    ):
        assert answers(True, state) == answers(False, state)


def test_the_fast_path_skips_flask_hooks_for_invocations_only(settings, predictor, raw_csv):
    app = create_app(settings, ModelState(predictor=predictor, ready=True))
    seen: list[str] = []
    app.before_request(lambda: seen.append(request.path))
    client = app.test_client()
    assert client.post("/invocations", data=raw_csv, content_type="text/csv").status_code == 200
    assert client.get("/ping").status_code == 200
    expected = ["/ping"] if settings.fast_path else ["/invocations", "/ping"]
    assert seen == expected


def test_access_log_lines_cannot_be_forged_by_the_client(settings, predictor, raw_csv):
    client, stream = _logged_app(settings, predictor)
    client.post(
        "/invocations%0A2026-01-01 00:00:00,000 INFO [1] container.access: POST /x 200",
        data=raw_csv,
        content_type="text/csv",
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "\\n" in lines[0]  # the newline is shown escaped, inside the one line
