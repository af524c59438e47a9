"""Put the checked abalone data set where the SageMaker pipeline reads it.

python -m deploy.data --data ../shared/data/abalone.data            # bucket: the bootstrap output
python -m deploy.data --data https://archive.ics.uci.edu/static/public/1/abalone.zip --bucket NAME

The file (a path, an http(s) URL or UCI's zip) must have training.schema.ABALONE_SHA256, the hash
the pipeline's preprocess step checks again. It lands at s3://<bucket>/DATA_KEY, InputDataUri's
default; S3 checks the upload against the same sha256 (ChecksumSHA256). An object already there
with that sha256 is left alone, so running it again is free.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
from collections.abc import Sequence
from typing import Any, Final

from container import contract
from deploy.cli import DeployError, checked, client, run
from deploy.configs import DEFAULT_BOOTSTRAP_STACK
from deploy.stacks import stack_outputs

#: s3://<bucket>/<this> is InputDataUri's default in pipelines/abalone.py (the walk-through test
#: compares them): <pipeline prefix>/data/abalone.data.
DATA_KEY: Final = "abalone-pipeline/data/abalone.data"
#: S3's bucket naming rules, in short (3-63 characters, lower case, digits, dots, hyphens).
BUCKET_PATTERN: Final = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
SHA256_METADATA: Final = "sha256"


def checked_data(source: str) -> bytes:
    """The data set's bytes, when they are the UCI file the pipeline expects."""
    from training import schema
    from training.data import read_source, verify_sha256
    from training.errors import DataError

    try:
        raw = read_source(source)
        verify_sha256(raw, schema.ABALONE_SHA256, source)
    except (DataError, OSError) as exc:
        raise DeployError(f"data {source}: {exc}") from exc
    return raw


def stored_sha256(s3: Any, bucket: str, key: str) -> str | None:
    """The sha256 recorded on the object, or None when there is no object or S3 will not say.

    S3 answers HEAD of a missing key with 403, not 404, to a caller without s3:ListBucket on
    the bucket, and the build role has none (it may read and write this one key): so 403 means
    "not known to be there", and the upload goes ahead (PutObject is what must be allowed)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden"):
            return None
        raise
    return head.get("Metadata", {}).get(SHA256_METADATA)


def upload(s3: Any, raw: bytes, bucket: str, key: str = DATA_KEY) -> str:
    """Upload unless the same bytes are there; return the object's s3:// URI."""
    uri = f"s3://{bucket}/{key}"
    digest = hashlib.sha256(raw)
    if stored_sha256(s3, bucket, key) == digest.hexdigest():
        print(f"{uri} already holds sha256 {digest.hexdigest()}: nothing to upload")
        return uri
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=raw,
        ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
        Metadata={SHA256_METADATA: digest.hexdigest()},
        ContentType=contract.CSV,
    )
    print(f"uploaded {len(raw)} bytes to {uri} (sha256 {digest.hexdigest()})")
    return uri


def bucket_name(given: str, cfn_factory: Any, bootstrap_stack: str) -> str:
    """--bucket (or ARTIFACT_BUCKET), else the bootstrap stack's ArtifactBucket output."""
    if not given:
        outputs = stack_outputs(cfn_factory(), bootstrap_stack)
        given = outputs.get("ArtifactBucket", "")
        if not given:
            raise DeployError(f"stack {bootstrap_stack} has no ArtifactBucket output")
    return checked(given, BUCKET_PATTERN, "bucket")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="path, http(s) URL or UCI zip")
    parser.add_argument(
        "--bucket",
        default=os.environ.get("ARTIFACT_BUCKET", ""),
        help="default: ARTIFACT_BUCKET, else the bootstrap stack's ArtifactBucket output",
    )
    parser.add_argument("--bootstrap-stack", default=DEFAULT_BOOTSTRAP_STACK)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def command() -> int:
        raw = checked_data(args.data)  # before any AWS call
        bucket = bucket_name(args.bucket, lambda: client("cloudformation"), args.bootstrap_stack)
        upload(client("s3"), raw, bucket)
        return 0

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
