"""What the templates, parameter files and workflows promise, read statically (cfn-lint and
actionlint check their syntax and types; this checks the project's own rules)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.deploy.conftest import REPO

TEMPLATES = REPO / "deploy" / "templates"
PARAMS = REPO / "deploy" / "params"
WORKFLOWS = REPO / ".github" / "workflows"


def template(name: str) -> dict[str, Any]:
    return dict(cfn_yaml.load(str(TEMPLATES / name)))


def resources(name: str, kind: str) -> dict[str, Any]:
    found = template(name)["Resources"]
    return {key: value for key, value in found.items() if value["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_statements(name: str) -> list[dict[str, Any]]:
    statements = []
    for role in resources(name, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            statements += policy["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("name", ["bootstrap.yaml", "auto-deploy.yaml"])
def test_no_wildcard_actions_and_no_wildcard_action_on_wildcard_resource(name):
    for statement in policy_statements(name):
        actions = _as_list(statement["Action"])
        assert all(action != "*" and not action.endswith(":*") for action in actions), statement
        if "*" in _as_list(statement["Resource"]):
            # Only actions that have no resource-level permissions, each named and justified.
            assert statement.get("Sid", "").endswith(
                (
                    "HasNoResourceLevelPermissions",
                    "HasNoResourceLevelPermissionsForNewTargets",
                    "OnlyInSageMakerNamespaces",
                )
            ), statement


def test_ecr_repository_scans_on_push_is_immutable_and_expires_images():
    (repository,) = resources("bootstrap.yaml", "AWS::ECR::Repository").values()
    properties = repository["Properties"]
    assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert properties["ImageTagMutability"] == "IMMUTABLE"
    lifecycle = properties["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    rules = json.loads(lifecycle.replace("${ImagesToKeep}", "100"))["rules"]
    assert {rule["action"]["type"] for rule in rules} == {"expire"}


def test_artifact_bucket_is_encrypted_private_and_tls_only():
    (bucket,) = resources("bootstrap.yaml", "AWS::S3::Bucket").values()
    properties = bucket["Properties"]
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert all(properties["PublicAccessBlockConfiguration"].values())
    (policy,) = resources("bootstrap.yaml", "AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s["Sid"] == "DenyInsecureTransport"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_endpoint_rolls_back_on_its_alarms():
    endpoint = resources("endpoint.yaml", "AWS::SageMaker::Endpoint")["Endpoint"]["Properties"]
    alarms = resources("endpoint.yaml", "AWS::CloudWatch::Alarm")
    rollback = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert sorted(item["AlarmName"]["Ref"] for item in rollback) == sorted(alarms)
    metrics = {alarm["Properties"]["MetricName"] for alarm in alarms.values()}
    assert metrics == {"Invocation5XXErrors", "Invocation4XXErrors", "ModelLatency"}
    assert "BlueGreenUpdatePolicy" in endpoint["DeploymentConfig"]


def test_endpoint_model_comes_from_the_package_and_scaling_tracks_invocations():
    body = template("endpoint.yaml")
    model = body["Resources"]["Model"]["Properties"]
    assert model["PrimaryContainer"] == {"ModelPackageName": {"Ref": "ModelPackageArn"}}
    policy = body["Resources"]["ScalingPolicy"]
    assert policy["Condition"] == body["Resources"]["ScalableTarget"]["Condition"] == "AutoScaling"
    tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    spec = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert spec == "SageMakerVariantInvocationsPerInstance"
    capture = body["Resources"]["EndpointConfig"]["Properties"]["DataCaptureConfig"]
    assert capture["Fn::If"][0] == "DataCapture"
    assert {"EndpointName", "EndpointArn"} <= set(body["Outputs"])


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_parameter_files_match_the_endpoint_template(stage):
    declared = template("endpoint.yaml")["Parameters"]
    params = json.loads((PARAMS / f"{stage}.json").read_text())
    given = params["Parameters"]
    assert set(given) <= set(declared), set(given) - set(declared)
    required = {name for name, spec in declared.items() if "Default" not in spec}
    assert required <= set(given), required - set(given)
    assert given["Stage"] == stage
    assert given["EndpointName"] == f"abalone-{stage}"
    assert all(isinstance(value, str) for value in given.values())


def test_prod_autoscales_and_captures_data_staging_does_not():
    prod = json.loads((PARAMS / "prod.json").read_text())["Parameters"]
    staging = json.loads((PARAMS / "staging.json").read_text())["Parameters"]
    assert (prod["EnableAutoScaling"], staging["EnableAutoScaling"]) == ("true", "false")
    assert prod["DataCaptureS3Uri"].startswith("s3://") and staging["DataCaptureS3Uri"] == ""


def workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)


@pytest.mark.parametrize("path", workflows(), ids=lambda path: path.name)
def test_actions_are_pinned_by_sha_with_a_version_comment(path):
    for action, rest in USES.findall(path.read_text()):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.search(r"# v\d+\.\d+\.\d+", rest), f"{action}: add a # vX.Y.Z comment"
        if "/upload-artifact@" in action or "/download-artifact@" in action:
            assert re.search(r"# v[4-9]", rest), f"{action}: v1-v3 are retired"


@pytest.mark.parametrize("path", workflows(), ids=lambda path: path.name)
def test_workflows_grant_nothing_by_default_and_use_oidc_only(path):
    text = path.read_text()
    assert re.search(r"^permissions: \{\}$", text, re.MULTILINE)
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    if "configure-aws-credentials" in text:
        assert "role-to-assume:" in text and "id-token: write" in text


def test_each_deploy_stage_has_its_own_concurrency_group_and_prod_needs_staging():
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "group: deploy-staging" in text and "group: deploy-prod" in text
    assert "cancel-in-progress: false" in text
    assert "needs: staging" in text and "environment: prod" in text
    assert "MODEL_PACKAGE_ARN: ${{ needs.staging.outputs.model_package_arn }}" in text
