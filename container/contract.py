"""The SageMaker container contract, declared once: routes, headers, media types, the job
layout (/opt/ml paths, step output and channel names), the model artifact's file names, and
the serving environment variables (name, documented default, range, one-line doc).

A leaf module (standard library only, no numpy): the image, the pipeline, deploy, bench and the
tests import their SageMaker names from here. container/settings.py reads the variables through
these specs; the README's environment table is tested against them (tests/unit/test_readme.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Final

# --- routes (the hosting and batch transform contract) ----------------------------------------
PING: Final = "/ping"
INVOCATIONS: Final = "/invocations"
EXECUTION_PARAMETERS: Final = "/execution-parameters"

# --- headers ---------------------------------------------------------------------------------
CUSTOM_ATTRIBUTES: Final = "X-Amzn-SageMaker-Custom-Attributes"
INFERENCE_ID: Final = "X-Amzn-SageMaker-Inference-Id"
TARGET_MODEL: Final = "X-Amzn-SageMaker-Target-Model"
TARGET_VARIANT: Final = "X-Amzn-SageMaker-Target-Variant"
ENABLE_EXPLANATIONS: Final = "X-Amzn-SageMaker-Enable-Explanations"
SESSION_ID: Final = "X-Amzn-SageMaker-Session-Id"
#: What InvokeEndpoint passes from the caller to the container.
INVOKE_ENDPOINT_HEADERS: Final = (
    "Content-Type",
    "Accept",
    CUSTOM_ATTRIBUTES,
    TARGET_MODEL,
    TARGET_VARIANT,
    INFERENCE_ID,
    ENABLE_EXPLANATIONS,
    SESSION_ID,
)

# --- media types -----------------------------------------------------------------------------
CSV: Final = "text/csv"
JSON: Final = "application/json"
JSONLINES: Final = "application/jsonlines"
LIBSVM: Final = "text/libsvm"
#: Other spellings clients send, and the type each means.
MEDIA_TYPE_ALIASES: Final = {
    "text/x-libsvm": LIBSVM,
    "application/x-jsonlines": JSONLINES,
    "application/jsonl": JSONLINES,
    "application/x-ndjson": JSONLINES,
}

#: What the server decodes and what it answers in (container/codecs registers exactly these).
REQUEST_TYPES: Final = (CSV, JSON, JSONLINES, LIBSVM)
RESPONSE_TYPES: Final = (CSV, JSON, JSONLINES)

# --- job layout: Processing and Training jobs -------------------------------------------------
#: Output names of the pipeline's steps, each also the folder it is written to and read from.
TRAIN_SPLIT: Final = "train"
VALIDATION_SPLIT: Final = "validation"
TEST_SPLIT: Final = "test"
PREPROCESSING: Final = "preprocessing"
MODEL: Final = "model"
EVALUATION: Final = "evaluation"
#: The model in production, which Evaluate also scores (the champion/challenger gate).
INCUMBENT: Final = "incumbent"

PROCESSING: Final = PurePosixPath("/opt/ml/processing")
#: Processing inputs (where the pipeline's ProcessingInputs are mounted).
RAW_DATA_INPUT: Final = PROCESSING / "input" / "data"
TRAIN_INPUT: Final = PROCESSING / "input" / TRAIN_SPLIT
VALIDATION_INPUT: Final = PROCESSING / "input" / VALIDATION_SPLIT
TEST_INPUT: Final = PROCESSING / "input" / TEST_SPLIT
PREPROCESSING_INPUT: Final = PROCESSING / "input" / PREPROCESSING
MODEL_INPUT: Final = PROCESSING / "input" / MODEL
INCUMBENT_INPUT: Final = PROCESSING / "input" / INCUMBENT
#: Processing outputs (uploaded as they are: real files, no symlinks).
SPLITS_OUTPUT: Final = PROCESSING / "output"
TRAIN_OUTPUT: Final = SPLITS_OUTPUT / TRAIN_SPLIT
VALIDATION_OUTPUT: Final = SPLITS_OUTPUT / VALIDATION_SPLIT
TEST_OUTPUT: Final = SPLITS_OUTPUT / TEST_SPLIT
PREPROCESSING_OUTPUT: Final = SPLITS_OUTPUT / PREPROCESSING
MODEL_OUTPUT: Final = SPLITS_OUTPUT / MODEL
EVALUATION_OUTPUT: Final = SPLITS_OUTPUT / EVALUATION
#: The drift monitor job (`process monitor`): a Data Capture tree in, the model it is checked
#: against (its baseline) in MODEL_INPUT, the drift report out.
MONITOR: Final = "monitor"
CAPTURES_INPUT: Final = PROCESSING / "input" / "captures"
MONITOR_OUTPUT: Final = SPLITS_OUTPUT / MONITOR
#: Processing job config and failure message; the cluster (hosts, this host) of a Processing job.
PROCESSING_JOB_CONFIG: Final = PurePosixPath("/opt/ml/config/processingjobconfig.json")
PROCESSING_RESOURCE_CONFIG: Final = PurePosixPath("/opt/ml/config/resourceconfig.json")
PROCESSING_MESSAGE: Final = PurePosixPath("/opt/ml/output/message")

#: Training job layout; the channels are named like the outputs that feed them.
TRAINING_INPUT: Final = PurePosixPath("/opt/ml/input")
HYPERPARAMETERS: Final = TRAINING_INPUT / "config" / "hyperparameters.json"
INPUT_DATA_CONFIG: Final = TRAINING_INPUT / "config" / "inputdataconfig.json"
RESOURCE_CONFIG: Final = TRAINING_INPUT / "config" / "resourceconfig.json"
CHANNELS: Final = TRAINING_INPUT / "data"
TRAINING_MODEL_DIR: Final = PurePosixPath("/opt/ml/model")
TRAINING_FAILURE: Final = PurePosixPath("/opt/ml/output/failure")
TRAINING_OUTPUT_DATA: Final = PurePosixPath("/opt/ml/output/data")
TRAIN_CHANNEL: Final = TRAIN_SPLIT
VALIDATION_CHANNEL: Final = VALIDATION_SPLIT
PREPROCESSING_CHANNEL: Final = PREPROCESSING
#: How SageMaker spreads an S3 input over the instances of a job (S3DataDistributionType).
FULLY_REPLICATED: Final = "FullyReplicated"
SHARDED_BY_S3_KEY: Final = "ShardedByS3Key"
#: Several instances train one model through XGBoost's tracker on the first host, on this port
#: (the official SageMaker XGBoost image's choice).
TRACKER_PORT: Final = 9099

# --- the model artifact ----------------------------------------------------------------------
#: The booster keeps the official XGBoost image's file name so artifacts move between images
#: both ways; everything else is a hidden file, which that image skips.
MODEL_FILENAME: Final = "xgboost-model"
PREPROCESSING_FILENAME: Final = ".preprocessing.json"
MANIFEST_FILENAME: Final = ".manifest.json"
#: The training split's feature distributions (and the model's predictions on it): what the drift
#: monitor compares captured traffic with. Ships in the model artifact, listed in the manifest.
BASELINE_FILENAME: Final = ".baseline.json"
#: What SageMaker unpacks into the model directory (and a Training job's output is packed as).
MODEL_ARCHIVE_FILENAME: Final = "model.tar.gz"

# --- data capture ----------------------------------------------------------------------------
#: The one production variant of every endpoint here (InvokedProductionVariant, the capture path).
PRODUCTION_VARIANT: Final = "AllTraffic"
#: DataCaptureConfig.CaptureContentTypeHeader of deploy/templates/endpoint.yaml: bodies of these
#: types are captured as text with encoding "CSV" or "JSON"; any other type as "BASE64".
CAPTURE_CSV_CONTENT_TYPES: Final = (CSV,)
CAPTURE_JSON_CONTENT_TYPES: Final = (JSON, JSONLINES)

# --- body limits -----------------------------------------------------------------------------
MIB: Final = 1024 * 1024
#: InvokeEndpoint's body limit for real-time endpoints (6 MiB).
REALTIME_MAX_PAYLOAD_MB: Final = 6
#: Batch transform: MaxPayloadInMB may not exceed 100, nor may MaxPayloadInMB x concurrency.
BATCH_PAYLOAD_BUDGET_MB: Final = 100


# --- the serving environment ------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """One environment variable the server honours: `default` as documented (for a computed one,
    what it is computed from), the accepted range or options, and a one-line description."""

    name: str
    default: str
    doc: str
    low: int | None = None
    high: int | None = None
    options: tuple[str, ...] = ()


BIND_TO_PORT: Final = Variable(
    "SAGEMAKER_BIND_TO_PORT",
    "8080",
    "port the server listens on (inference pipelines set it)",
    1,
    65535,
)
WORKERS: Final = Variable(
    "SAGEMAKER_MODEL_SERVER_WORKERS", "usable CPUs", "gunicorn worker processes", 1, 256
)
TIMEOUT: Final = Variable(
    "SAGEMAKER_MODEL_SERVER_TIMEOUT", "60 (600 in batch)", "seconds a request may take", 1, 3600
)
DEFAULT_ACCEPT: Final = Variable(
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", CSV, "output type for */* or no Accept"
)
BATCH: Final = Variable("SAGEMAKER_BATCH", "false", "set to true by batch transform")
MAX_PAYLOAD_IN_MB: Final = Variable(
    "SAGEMAKER_MAX_PAYLOAD_IN_MB", "6", "batch only: body limit in MiB (at most 100)", 1, 100
)
BATCH_STRATEGY: Final = Variable(
    "SAGEMAKER_BATCH_STRATEGY",
    "MULTI_RECORD",
    f"batch only: reported by {EXECUTION_PARAMETERS}",
    options=("MULTI_RECORD", "SINGLE_RECORD"),
)
MAX_CONCURRENT_TRANSFORMS: Final = Variable(
    "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS", "workers", "batch only: caps workers", 1, 256
)
MODEL_DIR: Final = Variable(
    "SM_MODEL_DIR", str(TRAINING_MODEL_DIR), "model directory (SageMaker unpacks model.tar.gz here)"
)
THREADS: Final = Variable("SERVE_THREADS", "4", "threads per gunicorn worker (gthread)", 1, 64)
KEEPALIVE: Final = Variable(
    "SERVE_KEEPALIVE", "75", "seconds an idle keep-alive connection stays open", 0, 3600
)
ACCESS_LOG: Final = Variable(
    "SERVE_ACCESS_LOG", "true", "one log line per request with status and latency"
)
LOG_LEVEL: Final = Variable(
    "SERVE_LOG_LEVEL",
    "info",
    "log level: debug, info, warning, error",
    options=("debug", "info", "warning", "error"),
)
FAST_PATH: Final = Variable(
    "SERVE_FAST_PATH", "true", "POST /invocations bypasses Flask's dispatch (false: via Flask)"
)
MAX_ROWS: Final = Variable(
    "SERVE_MAX_ROWS",
    "body limit / 20 bytes",
    "rows one request may hold (413 above)",
    1,
    10_000_000,
)
#: gunicorn's own ceiling for one header line is 8190 bytes.
MAX_HEADER_BYTES: Final = Variable(
    "SERVE_MAX_HEADER_BYTES", "8190", "bytes in one request header line (431 above)", 1024, 8190
)
MAX_HEADERS: Final = Variable(
    "SERVE_MAX_HEADERS", "100", "request header fields (431 above)", 10, 32768
)
BODY_TIMEOUT: Final = Variable(
    "SERVE_BODY_TIMEOUT", "10", "seconds a client may take to send its body (408 after)", 1, 3600
)

#: Every variable the server reads, in the README table's order.
SERVING_ENVIRONMENT: Final = (
    BIND_TO_PORT,
    WORKERS,
    TIMEOUT,
    DEFAULT_ACCEPT,
    BATCH,
    MAX_PAYLOAD_IN_MB,
    BATCH_STRATEGY,
    MAX_CONCURRENT_TRANSFORMS,
    MODEL_DIR,
    THREADS,
    KEEPALIVE,
    ACCESS_LOG,
    LOG_LEVEL,
    FAST_PATH,
    MAX_ROWS,
    MAX_HEADER_BYTES,
    MAX_HEADERS,
    BODY_TIMEOUT,
)

# --- the training environment ------------------------------------------------------------------
#: Read by the Training and Processing training modes (several instances only).
CLUSTER_TIMEOUT: Final = Variable(
    "TRAINING_CLUSTER_TIMEOUT",
    "300",
    "seconds a training host waits for every host to join XGBoost's tracker (then fails)",
    1,
    3600,
)
