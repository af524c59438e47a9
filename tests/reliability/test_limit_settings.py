"""The request limits without Docker: settings, gunicorn options, and the row, line, width and
value checks in each decoder."""

from __future__ import annotations

import pytest

from container import codecs
from container.errors import TooManyRows
from container.server import gunicorn_options
from container.settings import BATCH_MAX_ROWS, REALTIME_MAX_ROWS, ServingSettings, SettingsError
from deploy.invoke import ENCODED_ROW


def test_limit_defaults_and_batch_rows():
    settings = ServingSettings.from_env({})
    assert (settings.max_rows, settings.max_cells) == (REALTIME_MAX_ROWS, 3 * 1024 * 1024)
    assert (settings.max_header_bytes, settings.max_headers, settings.body_timeout_s) == (
        8190,
        100,
        10,
    )
    batch = ServingSettings.from_env(
        {
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": "100",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1",
        }
    )
    assert batch.max_rows == BATCH_MAX_ROWS
    assert ServingSettings() == ServingSettings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SERVE_MAX_ROWS", "0"),
        ("SERVE_MAX_HEADER_BYTES", "8191"),
        ("SERVE_MAX_HEADERS", "many"),
        ("SERVE_BODY_TIMEOUT", "0"),
    ],
)
def test_invalid_limits_name_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        ServingSettings.from_env({name: value})


def test_header_limits_reach_gunicorn():
    settings = ServingSettings.from_env(
        {"SERVE_MAX_HEADER_BYTES": "2048", "SERVE_MAX_HEADERS": "30"}
    )
    options = gunicorn_options(settings)
    assert options["limit_request_field_size"] == 2048
    assert options["limit_request_fields"] == 30
    assert options["limit_request_line"] == 4094


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/csv", "\n".join([ENCODED_ROW] * 4)),
        ("application/json", "[" + ",".join([f"[{ENCODED_ROW}]"] * 4) + "]"),
        ("application/jsonlines", "\n".join([f"[{ENCODED_ROW}]"] * 4)),
        ("text/libsvm", "\n".join(["1:0.5 2:0.1"] * 4)),
    ],
)
def test_every_decoder_counts_rows(content_type, body):
    limits = codecs.Limits(max_rows=3)
    with pytest.raises(TooManyRows, match="request has 4 rows; at most 3") as caught:
        codecs.decode(body.encode(), content_type, limits)
    assert caught.value.status_code == 413
    assert len(codecs.decode(body.encode(), content_type, codecs.Limits(max_rows=4))) == 4
