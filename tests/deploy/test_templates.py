"""What the templates, parameter files and workflows promise, read statically (cfn-lint and
actionlint check their syntax and types; this checks the project's own rules)."""

from __future__ import annotations

import fnmatch
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


def test_endpoint_rolls_back_on_5xx_and_latency_but_not_on_clients_4xx():
    endpoint = resources("endpoint.yaml", "AWS::SageMaker::Endpoint")["Endpoint"]["Properties"]
    alarms = resources("endpoint.yaml", "AWS::CloudWatch::Alarm")
    metrics = {name: alarm["Properties"]["MetricName"] for name, alarm in alarms.items()}
    assert sorted(metrics.values()) == [
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "ModelLatency",
    ]
    rollback = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    watched = {metrics[item["AlarmName"]["Ref"]] for item in rollback}
    assert watched == {"Invocation5XXErrors", "ModelLatency"}
    assert "BlueGreenUpdatePolicy" in endpoint["DeploymentConfig"]


def test_every_traffic_shift_bakes_under_the_alarms_for_at_least_300_s():
    body = template("endpoint.yaml")
    policy = body["Resources"]["Endpoint"]["Properties"]["DeploymentConfig"][
        "BlueGreenUpdatePolicy"
    ]
    _condition, canary, all_at_once = policy["TrafficRoutingConfiguration"]["Fn::If"]
    assert canary["Type"] == "CANARY" and all_at_once["Type"] == "ALL_AT_ONCE"
    for routing in (canary, all_at_once):
        assert routing["WaitIntervalInSeconds"] == {"Ref": "BakeTimeSeconds"}
    # TerminationWaitInSeconds is not watched by the alarms; the bake is WaitIntervalInSeconds.
    assert policy["TerminationWaitInSeconds"] == 0
    bake = body["Parameters"]["BakeTimeSeconds"]
    assert bake["MinValue"] >= 300 and bake["MaxValue"] <= 3600
    assert policy["MaximumExecutionTimeoutInSeconds"] >= 2 * bake["MaxValue"]
    for stage in ("staging", "prod"):
        params = json.loads((PARAMS / f"{stage}.json").read_text())["Parameters"]
        assert int(params["BakeTimeSeconds"]) >= 300, stage


def test_an_autoscaled_fleet_keeps_its_instance_count_across_deploys():
    endpoint = template("endpoint.yaml")["Resources"]["Endpoint"]["Properties"]
    assert endpoint["RetainAllVariantProperties"] == {"Fn::If": ["AutoScaling", True, False]}
    condition, excluded, _none = endpoint["ExcludeRetainedVariantProperties"]["Fn::If"]
    assert condition == "AutoScaling"
    kept = {"DesiredInstanceCount", "DesiredWeight", "DataCaptureConfig"} - {
        item["VariantPropertyType"] for item in excluded
    }
    assert kept == {"DesiredInstanceCount"}


def _role_statements(logical_id: str) -> dict[str, dict[str, Any]]:
    role = template("bootstrap.yaml")["Resources"][logical_id]["Properties"]
    (policy,) = role["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def _arn_tail(resource: Any) -> str:
    """The part of a `!Sub` ARN after its last colon (other resources as text)."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        return str(resource["Fn::Sub"]).rsplit(":", 1)[1]
    return str(resource)


def test_the_prod_cloudformation_role_has_what_autoscaling_asks_of_its_caller():
    statements = _role_statements("CloudFormationProdRole")
    allowed: dict[str, set[str]] = {}
    for statement in statements.values():
        for action in _as_list(statement["Action"]):
            allowed.setdefault(action, set()).update(
                _arn_tail(r) for r in _as_list(statement["Resource"])
            )
    endpoint = "endpoint/${ProjectName}-prod"
    tracking = "TargetTracking-endpoint/${ProjectName}-prod/variant/*"
    for action in ("sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"):
        assert endpoint in allowed[action], action
    for action in (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:DeleteAlarms",
    ):
        assert tracking in allowed[action], action
    # A condition on a key the request does not carry never matches: reads stand apart.
    writes = statements["AutoScalingHasNoResourceLevelPermissionsForNewTargets"]
    assert not [a for a in _as_list(writes["Action"]) if ":Describe" in a]
    reads = statements["AutoScalingReadsHasNoResourceLevelPermissions"]
    assert "Condition" not in reads
    assert {a.split(":")[1] for a in reads["Action"]} == {
        "DescribeScalableTargets",
        "DescribeScalingPolicies",
        "DescribeScalingActivities",
    }
    staging = _role_statements("CloudFormationStagingRole")
    assert not [s for s in staging.values() if "UpdateEndpointWeightsAndCapacities" in str(s)]


def test_the_execution_role_may_read_both_stages_rollback_alarms():
    statement = _role_statements("SageMakerExecutionRole")["DeploymentGuardrailsReadRollbackAlarms"]
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    tails = sorted(_arn_tail(r) for r in statement["Resource"])
    assert tails == ["${ProjectName}-prod-*", "${ProjectName}-staging-*"]
    endpoint = resources("endpoint.yaml", "AWS::SageMaker::Endpoint")["Endpoint"]["Properties"]
    rollback = endpoint["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    alarms = template("endpoint.yaml")["Resources"]
    for stage in ("staging", "prod"):
        granted = f"${{ProjectName}}-{stage}-*".replace("${ProjectName}", "abalone")
        for item in rollback:
            name = alarms[item["AlarmName"]["Ref"]]["Properties"]["AlarmName"]["Fn::Sub"]
            assert fnmatch.fnmatchcase(name.replace("${EndpointName}", f"abalone-{stage}"), granted)


JOB_ROLE = {
    ("build.yml", "build"): "GitHubBuildRole",
    ("deploy.yml", "staging"): "GitHubStagingRole",
}
JOB_ROLE[("deploy.yml", "prod")] = "GitHubProdRole"


@pytest.mark.parametrize(("workflow", "job"), sorted(JOB_ROLE), ids=lambda x: str(x))
def test_credentials_outlast_the_job_and_the_role_allows_them(workflow, job):
    from cfnlint.decode import cfn_yaml as loader

    jobs = loader.load(str(WORKFLOWS / workflow))["jobs"]
    steps = jobs[job]["steps"]
    (credentials,) = [s for s in steps if "configure-aws-credentials" in s.get("uses", "")]
    duration = int(credentials["with"]["role-duration-seconds"])
    assert duration >= jobs[job]["timeout-minutes"] * 60
    role = template("bootstrap.yaml")["Resources"][JOB_ROLE[(workflow, job)]]["Properties"]
    assert duration <= role["MaxSessionDuration"] <= 43200


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


def test_build_runs_only_after_ci_passed_on_main_and_uploads_the_data_first():
    import yaml

    build = yaml.safe_load((WORKFLOWS / "build.yml").read_text())
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    trigger = build[True]["workflow_run"]  # PyYAML reads the key `on` as True
    assert trigger == {"workflows": [ci["name"]], "types": ["completed"], "branches": ["main"]}
    assert "push" not in build[True]
    gate = build["jobs"]["changes"]["if"]
    assert "workflow_run.conclusion == 'success'" in gate and "event == 'push'" in gate
    job = build["jobs"]["build"]
    assert job["needs"] == "changes" and "needs.changes.outputs.build" in job["if"]
    runs = [step["run"] for step in job["steps"] if step.get("run", "").startswith("make ")]
    assert runs == ["make build", "make push-image", "make upload-data", "make run-pipeline"]
