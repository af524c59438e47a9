"""deploy.data against moto_server: the checked data set lands where the pipeline reads it."""

from __future__ import annotations

import base64
import hashlib

import pytest
from botocore.stub import ANY, Stubber

from deploy import data
from training import schema

BUCKET = "abalone-artifacts"


@pytest.fixture()
def s3(boto):
    client = boto("s3")
    client.create_bucket(Bucket=BUCKET)
    # Versioned, as bootstrap.yaml makes it: a second upload would show as a second version.
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def test_upload_puts_the_checked_file_at_the_pipeline_key_once(s3, abalone_path, capsys):
    assert data.main(["--data", str(abalone_path), "--bucket", BUCKET]) == 0
    assert f"to s3://{BUCKET}/{data.DATA_KEY}" in capsys.readouterr().out
    stored = s3.get_object(Bucket=BUCKET, Key=data.DATA_KEY, ChecksumMode="ENABLED")
    body = stored["Body"].read()
    assert hashlib.sha256(body).hexdigest() == schema.ABALONE_SHA256
    assert stored["Metadata"] == {"sha256": schema.ABALONE_SHA256}
    assert data.main(["--data", str(abalone_path), "--bucket", BUCKET]) == 0
    assert "nothing to upload" in capsys.readouterr().out
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=data.DATA_KEY)["Versions"]
    assert len(versions) == 1


def test_s3_is_asked_to_check_the_upload_against_the_sha256(s3, abalone_path):
    """moto stores the object but neither checks nor reports ChecksumSHA256: the header on the
    wire is what AWS checks (botocore's PutObject model maps ChecksumSHA256 to it)."""
    sent = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(request))
    raw = abalone_path.read_bytes()
    data.upload(s3, raw, BUCKET)
    (request,) = sent
    member = s3.meta.service_model.operation_model("PutObject").input_shape.members
    header = member["ChecksumSHA256"].serialization["name"]
    assert header.lower() == "x-amz-checksum-sha256"
    expected = base64.b64encode(hashlib.sha256(raw).digest()).decode()
    value = request.headers[header]
    assert (value.decode() if isinstance(value, bytes) else value) == expected


def test_a_file_with_another_hash_is_refused_before_any_aws_call(s3, tmp_path, capsys):
    other = tmp_path / "abalone.data"
    other.write_text("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15,15\n")
    assert data.main(["--data", str(other), "--bucket", BUCKET]) == 1
    assert "sha256 mismatch" in capsys.readouterr().err
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_the_bucket_defaults_to_the_bootstrap_output(s3, abalone_path, monkeypatch):
    calls = []

    class Cfn:
        exceptions = s3.exceptions

        def describe_stacks(self, StackName):
            calls.append(StackName)
            outputs = [{"OutputKey": "ArtifactBucket", "OutputValue": BUCKET}]
            return {"Stacks": [{"Outputs": outputs}]}

    assert data.bucket_name("", Cfn, "abalone-bootstrap") == BUCKET
    assert calls == ["abalone-bootstrap"]
    with pytest.raises(data.DeployError, match="does not match"):
        data.bucket_name("Bad_Bucket;rm", Cfn, "abalone-bootstrap")


def test_a_key_the_caller_may_not_list_is_uploaded(s3, abalone_path):
    """The build role has no s3:ListBucket, so S3 answers its HEAD of the missing key with 403
    (moto answers 404 whatever the policy): a 403 must lead to the upload, not to an error.
    botocore's Stubber plays S3 here, checking each request against the service model."""
    raw = abalone_path.read_bytes()
    with Stubber(s3) as stubber:
        key = {"Bucket": BUCKET, "Key": data.DATA_KEY}
        stubber.add_client_error("head_object", "403", http_status_code=403, expected_params=key)
        put = dict.fromkeys(("Body", "ChecksumSHA256", "Metadata", "ContentType"), ANY)
        stubber.add_response("put_object", {}, {**key, **put})
        assert data.upload(s3, raw, BUCKET) == f"s3://{BUCKET}/{data.DATA_KEY}"
        stubber.assert_no_pending_responses()
