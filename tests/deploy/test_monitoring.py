"""The drift monitor stack (deploy/templates/monitoring.yaml) and deploy.monitoring, its CLI.

What moto 5.2.5 plays and what is checked otherwise:
- moto's CloudFormation creates the stack's IAM roles with their real, resolved policies; it skips
  AWS::Scheduler::Schedule, AWS::Logs::MetricFilter and AWS::CloudWatch::Alarm (unsupported, with
  a warning). The schedule's target input is therefore resolved by moto as a stack output of the
  same template, then validated against botocore's CreateProcessingJob model (types, required
  members, lengths, and each string's pattern) and sent to moto's SageMaker by `run-once`.
- The roles are evaluated with moto's own policy evaluator (moto.iam.access_control.IAMPolicy) for
  each call the job and the scheduler make, derived from that request. moto evaluates StringEquals
  conditions only, so the StringLike ones are matched here with fnmatch (IAM's * and ?).
- The metric filters' JSON patterns are not evaluated by moto's Logs (it matches any JSON pattern):
  their conditions are parsed and applied to the line monitoring.metrics prints.
- cfn-lint and checkov check the whole template (tests/deploy/test_static_checks.py).
"""

from __future__ import annotations

import ast
import fnmatch
import json
import re
from typing import Any

import pytest
import regex
from botocore.session import get_session
from botocore.validate import validate_parameters
from moto.iam.access_control import IAMPolicy, PermissionResult

from container import contract
from deploy import monitoring, stacks
from monitoring import metrics
from tests.deploy.conftest import ACCOUNT, REGION, add_package
from tests.deploy.test_stacks import FAST
from tests.deploy.test_templates import policy_statements, resources, template

BUCKET = "abalone-bootstrap-artifactbucket-1x2y3z"
ENDPOINT = "abalone-prod"
PARAMETERS = {
    "EndpointName": ENDPOINT,
    "ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/abalone-byom@sha256:{'ab' * 32}",
    "ModelBucket": BUCKET,
    "ModelKey": "abalone-pipeline/k2h3gd8xnj4b/train/model/model.tar.gz",
    "CaptureBucket": BUCKET,
    "CapturePrefix": "data-capture/abalone-prod",
    "OutputBucket": BUCKET,
}
#: What Scheduler puts in for the context attributes (the documented forms).
EXECUTION_ID = "d32c5kddcf5bb8c3"
SCHEDULED_TIME = "2026-11-30T00:15:00Z"
NAME = "monitoring.yaml"


def _with_input_output() -> str:
    """The template plus an output holding the schedule's target input, for moto to resolve."""
    body = template(NAME)
    target_input = body["Resources"]["Schedule"]["Properties"]["Target"]["Input"]
    body["Outputs"]["ScheduleInput"] = {"Value": target_input}
    return json.dumps(body)


@pytest.fixture()
def created(boto) -> dict[str, Any]:
    """The stack created in moto_server: its outputs and the roles' resolved policies."""
    spec = stacks.StackSpec(
        name=f"{ENDPOINT}-monitoring",
        template_body=_with_input_output(),
        parameters=PARAMETERS,
        capabilities=("CAPABILITY_IAM",),
    )
    outputs = stacks.deploy(boto("cloudformation"), spec, FAST)
    iam = boto("iam")
    policies = {}
    for key in ("MonitorJobRoleArn", "SchedulerRoleArn"):
        name = outputs[key].rsplit("/", 1)[1]
        (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        # moto_server hands back the document as Python's repr of the template's dict.
        policies[key] = document if isinstance(document, dict) else ast.literal_eval(document)
    return {"outputs": outputs, "policies": policies}


def request_of(created: dict[str, Any]) -> dict[str, Any]:
    return monitoring.scheduled_request(
        created["outputs"]["ScheduleInput"],
        execution_id=EXECUTION_ID,
        scheduled_time=SCHEDULED_TIME,
    )


def _patterns_hold(value: Any, shape: Any, where: str = "request") -> list[str]:
    """Strings of `value` that do not fully match their botocore shape's pattern (the validator
    checks types, required members and lengths, not patterns)."""
    if shape.type_name == "structure":
        return [
            problem
            for key, item in value.items()
            for problem in _patterns_hold(item, shape.members[key], f"{where}.{key}")
        ]
    if shape.type_name == "list":
        return [p for i, v in enumerate(value) for p in _patterns_hold(v, shape.member, where)]
    pattern = shape.metadata.get("pattern")
    # `regex` (pinned in requirements/dev.txt for cfn-lint) knows the \p{L} classes AWS uses.
    if shape.type_name == "string" and pattern and not regex.fullmatch(pattern, value):
        return [f"{where}={value!r} !~ {pattern}"]
    return []


def test_the_scheduled_request_is_a_valid_create_processing_job(created):
    request = request_of(created)
    operation = get_session().get_service_model("sagemaker").operation_model("CreateProcessingJob")
    report = validate_parameters(request, operation.input_shape)  # raises on a bad request
    assert report is None
    assert _patterns_hold(request, operation.input_shape) == []
    assert request["ProcessingJobName"] == f"{ENDPOINT}-drift-{EXECUTION_ID}"
    assert request["RoleArn"] == created["outputs"]["MonitorJobRoleArn"]


def test_the_longest_endpoint_name_still_makes_a_valid_job_name():
    allowed = template(NAME)["Parameters"]["EndpointName"]["AllowedPattern"]
    longest = "a" * 40
    assert re.fullmatch(allowed, longest) and not re.fullmatch(allowed, longest + "b")
    name = f"{longest}-drift-{'z9' * 8}"  # execution ids are 16 characters
    assert len(name) == 63
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)


def test_the_job_reads_and_writes_where_the_image_expects(created):
    request = request_of(created)
    arguments = request["AppSpecification"]["ContainerArguments"]
    options = dict(zip(arguments[2::2], arguments[3::2], strict=True))
    assert arguments[:2] == ["process", contract.MONITOR]
    assert options == {
        "--captures": str(contract.CAPTURES_INPUT),
        "--baseline": str(contract.MODEL_INPUT),
        "--output": str(contract.MONITOR_OUTPUT),
        "--endpoint-name": ENDPOINT,
        "--window-end": SCHEDULED_TIME,
        "--window-hours": "24",
    }
    inputs = {item["InputName"]: item["S3Input"] for item in request["ProcessingInputs"]}
    # Only this endpoint's captures, as <captures>/<endpoint>/<variant>/yyyy/mm/dd/hh/ locally.
    assert inputs["captures"]["S3Uri"] == f"s3://{BUCKET}/data-capture/abalone-prod/{ENDPOINT}/"
    assert inputs["captures"]["LocalPath"] == f"{contract.CAPTURES_INPUT}/{ENDPOINT}"
    assert inputs["model"]["S3Uri"] == f"s3://{BUCKET}/{PARAMETERS['ModelKey']}"
    assert inputs["model"]["LocalPath"] == str(contract.MODEL_INPUT)
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["LocalPath"] == str(contract.MONITOR_OUTPUT)
    assert output["S3Output"]["S3Uri"] == f"{created['outputs']['ReportsS3Uri']}{SCHEDULED_TIME}"


def test_the_monitor_job_parses_the_scheduled_arguments(created):
    """The image's own `process monitor` parser, and its time parser on Scheduler's time."""
    from monitoring import captures, job

    arguments = request_of(created)["AppSpecification"]["ContainerArguments"]
    parsed = job._parser().parse_args(arguments[2:])
    assert parsed.endpoint_name == ENDPOINT and parsed.window_hours == 24
    assert captures.parse_time(parsed.window_end).isoformat() == "2026-11-30T00:15:00+00:00"


def _calls(request: dict[str, Any]) -> dict[str, list[tuple[str, str, dict[str, str]]]]:
    """Each (action, resource, condition keys) the job's role and the scheduler's role need."""
    s3 = "arn:aws:s3:::"
    job: list[tuple[str, str, dict[str, str]]] = []
    for item in request["ProcessingInputs"]:
        bucket, _, key = item["S3Input"]["S3Uri"].removeprefix("s3://").partition("/")
        job.append(("s3:ListBucket", f"{s3}{bucket}", {"s3:prefix": key}))
        sample = f"{key}AllTraffic/2026/11/29/23/x.jsonl" if key.endswith("/") else key
        job.append(("s3:GetObject", f"{s3}{bucket}/{sample}", {}))
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    report = output["S3Output"]["S3Uri"].removeprefix("s3://") + "/report.html"
    job += [("s3:PutObject", f"{s3}{report}", {}), ("s3:AbortMultipartUpload", f"{s3}{report}", {})]
    repository = request["AppSpecification"]["ImageUri"].split("/")[1].split("@")[0]
    ecr = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repository}"
    job += [(action, ecr, {}) for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")]
    job.append(("ecr:GetAuthorizationToken", "*", {}))
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{monitoring.PROCESSING_LOG_GROUP}"
    stream = f"{group}:log-stream:{request['ProcessingJobName']}/algo-1-1764461700"
    job += [("logs:CreateLogStream", stream, {}), ("logs:PutLogEvents", stream, {})]
    namespace = {"cloudwatch:namespace": "/aws/sagemaker/ProcessingJobs"}
    job.append(("cloudwatch:PutMetricData", "*", namespace))
    job_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{request['ProcessingJobName']}"
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    scheduler = [
        ("sagemaker:CreateProcessingJob", job_arn, {}),
        ("sagemaker:AddTags", job_arn, {}),
        ("iam:PassRole", request["RoleArn"], passed),
    ]
    return {"MonitorJobRoleArn": job, "SchedulerRoleArn": scheduler}


def allowed(document: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> bool:
    """Whether one Allow statement grants the call: moto's verdict on the statement (action,
    resource, StringEquals), and the StringLike conditions moto skips matched here. Statement by
    statement, because moto answers DENIED, not "no match", for an Allow whose condition fails.
    moto also passes a condition whose key the request lacks; IAM does not. No Deny here."""
    assert all(statement["Effect"] == "Allow" for statement in document["Statement"])
    for statement in document["Statement"]:
        single = IAMPolicy(json.dumps({"Statement": [statement]}))
        verdict = single.is_action_permitted(action, resource, None, context)
        conditions = statement.get("Condition", {})
        keys = {key for condition in conditions.values() for key in condition}
        like = conditions.get("StringLike", {})
        if (
            verdict == PermissionResult.PERMITTED
            and keys <= set(context)
            and all(
                any(fnmatch.fnmatchcase(context.get(key, ""), p) for p in _list(patterns))
                for key, patterns in like.items()
            )
        ):
            return True
    return False


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_no_wildcard_action_and_star_resources_only_where_iam_has_no_resource_level():
    for statement in policy_statements(NAME):
        assert all(a != "*" and not a.endswith(":*") for a in _list(statement["Action"]))
        if "*" in _list(statement["Resource"]):
            justified = ("HasNoResourceLevelPermissions", "OnlyInSageMakerNamespaces")
            assert statement["Sid"].endswith(justified), statement


def test_each_call_of_the_job_and_the_scheduler_is_allowed_by_its_role(created):
    for role, calls in _calls(request_of(created)).items():
        document = created["policies"][role]
        refused = [call for call in calls if not allowed(document, *call)]
        assert refused == [], role


@pytest.mark.parametrize(
    ("role", "action", "resource", "context"),
    [
        ("MonitorJobRoleArn", "s3:GetObject", f"{BUCKET}/data-capture/abalone-staging/x", {}),
        ("MonitorJobRoleArn", "s3:GetObject", f"{BUCKET}/data-capture/abalone-prod/other/x", {}),
        ("MonitorJobRoleArn", "s3:GetObject", f"{BUCKET}/abalone-pipeline/data/abalone.data", {}),
        ("MonitorJobRoleArn", "s3:PutObject", f"{BUCKET}/monitoring/abalone-staging/x", {}),
        ("MonitorJobRoleArn", "s3:PutObject", f"{BUCKET}/abalone-pipeline/a/b/c/model.tar.gz", {}),
        ("MonitorJobRoleArn", "s3:ListBucket", BUCKET, {"s3:prefix": "data-capture/"}),
        ("MonitorJobRoleArn", "s3:ListBucket", BUCKET, {}),
    ],
)
def test_the_job_role_reaches_no_other_endpoints_data(created, role, action, resource, context):
    assert not allowed(created["policies"][role], action, f"arn:aws:s3:::{resource}", context)


def test_the_scheduler_role_starts_only_this_endpoints_jobs_and_passes_only_to_sagemaker(created):
    document = created["policies"]["SchedulerRoleArn"]
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/abalone-staging-drift-x"
    assert not allowed(document, "sagemaker:CreateProcessingJob", other, {})
    role = created["outputs"]["MonitorJobRoleArn"]
    assert not allowed(document, "iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"})
    pipeline_role = f"arn:aws:iam::{ACCOUNT}:role/abalone-sagemaker-execution"
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    assert not allowed(document, "iam:PassRole", pipeline_role, passed)


def _conditions(pattern: str) -> list[tuple[str, str]]:
    """The ($.field = "value") and ($.field = *) terms of a JSON filter pattern joined by &&."""
    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}") and "||" not in body, pattern
    terms = re.findall(r'\(\$\.(\w+) = ("[^"]*"|\*)\)', body)
    assert len(terms) == body.count("&&") + 1, pattern
    return terms


def _matches(pattern: str, line: str) -> bool:
    event = json.loads(line)
    return all(
        field in event and (value == "*" or event[field] == value.strip('"'))
        for field, value in _conditions(pattern)
    )


def test_the_metric_filters_publish_each_metric_from_this_endpoints_line():
    summary = {"records": 9, "malformed": 1, "max_psi": 0.3, "features_in_violation": 2}
    line = metrics.metric_line(summary, ENDPOINT)
    other = metrics.metric_line(summary, "abalone-staging")
    published = {}
    for item in resources(NAME, "AWS::Logs::MetricFilter").values():
        properties = item["Properties"]
        assert properties["LogGroupName"] == monitoring.PROCESSING_LOG_GROUP
        pattern = properties["FilterPattern"]["Fn::Sub"].replace("${EndpointName}", ENDPOINT)
        assert _matches(pattern, line) and not _matches(pattern, other)
        (transformation,) = properties["MetricTransformations"]
        assert transformation["MetricNamespace"] == metrics.NAMESPACE
        assert transformation["Dimensions"] == [
            {"Key": metrics.DIMENSION, "Value": "$.endpoint_name"}
        ]
        key = transformation["MetricValue"].removeprefix("$.")
        assert (key, "*") in _conditions(pattern)  # a $.field value must be in the pattern
        published[key] = (transformation["MetricName"], transformation["Unit"])
    assert published == dict(metrics.METRICS)


def test_the_alarm_watches_the_metric_the_job_publishes_for_this_endpoint():
    (alarm,) = resources(NAME, "AWS::CloudWatch::Alarm").values()
    properties = alarm["Properties"]
    assert properties["Namespace"] == metrics.NAMESPACE
    assert properties["MetricName"] == metrics.METRICS["features_in_violation"][0]
    assert properties["Dimensions"] == [
        {"Name": metrics.DIMENSION, "Value": {"Ref": "EndpointName"}}
    ]
    assert properties["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    # Between daily runs there is no data: the state must stay what the last run found.
    assert properties["TreatMissingData"] == "ignore"


# --- deploy.monitoring: the stage config in, the stack out; one job started by hand ------------


def _stage_config(tmp_path, package_arn: str, capture_uri: str) -> str:
    config = {
        "Stage": "prod",
        "StackName": "abalone-endpoint-prod",
        "ModelPackageArn": package_arn,
        "Parameters": {"EndpointName": ENDPOINT, "DataCaptureS3Uri": capture_uri},
        "Tags": {"project": "abalone-byom", "stage": "prod"},
    }
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.fixture()
def bootstrap(boto) -> None:
    """A stand-in bootstrap stack: only its ArtifactBucket output is read."""
    body = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"ArtifactBucket": {"Value": BUCKET}},
    }
    boto("cloudformation").create_stack(
        StackName="abalone-bootstrap", TemplateBody=json.dumps(body)
    )


def test_deploy_makes_the_stack_from_the_served_package_and_the_capture_prefix(
    boto, bootstrap, tmp_path, capsys
):
    package = add_package(boto("sagemaker"), status="Approved")
    config = _stage_config(tmp_path, package, f"s3://{BUCKET}/data-capture/abalone-prod")
    assert monitoring.main(["deploy", "--config", config, "--poll-seconds", "0.05"]) == 0
    assert f"created log group {monitoring.PROCESSING_LOG_GROUP}" in capsys.readouterr().out
    (stack,) = boto("cloudformation").describe_stacks(StackName=f"{ENDPOINT}-monitoring")["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    described = boto("sagemaker").describe_model_package(ModelPackageName=package)
    (container,) = described["InferenceSpecification"]["Containers"]
    assert parameters["ImageUri"] == container["Image"]
    assert f"s3://{parameters['ModelBucket']}/{parameters['ModelKey']}" == container["ModelDataUrl"]
    assert (parameters["CaptureBucket"], parameters["CapturePrefix"]) == (
        BUCKET,
        "data-capture/abalone-prod",
    )
    assert parameters["OutputBucket"] == BUCKET
    groups = boto("logs").describe_log_groups()["logGroups"]
    assert [group["logGroupName"] for group in groups] == [monitoring.PROCESSING_LOG_GROUP]
    # Again: the log group is there, the stack unchanged.
    assert monitoring.main(["deploy", "--config", config, "--poll-seconds", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "created log group" not in out and "no changes" in out


def test_deploy_refuses_an_endpoint_that_captures_nothing(boto, bootstrap, tmp_path, capsys):
    package = add_package(boto("sagemaker"), status="Approved")
    config = _stage_config(tmp_path, package, "")
    assert monitoring.main(["deploy", "--config", config]) == 1
    assert "endpoint abalone-prod captures no traffic" in capsys.readouterr().err
    assert boto("cloudformation").describe_stacks()["Stacks"][0]["StackName"] == "abalone-bootstrap"


def test_run_once_starts_the_job_the_schedule_would(boto, created, capsys):
    """The schedule as Scheduler holds it (moto's CloudFormation cannot create it), then
    `run-once`: moto's SageMaker gets a job with this endpoint's inputs."""
    boto("scheduler").create_schedule(
        Name=f"{ENDPOINT}-drift-monitor",
        ScheduleExpression="cron(15 0 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob",
            "RoleArn": created["outputs"]["SchedulerRoleArn"],
            "Input": created["outputs"]["ScheduleInput"],
        },
    )
    assert monitoring.main(["run-once", "--endpoint-name", ENDPOINT]) == 0
    name = capsys.readouterr().out.split()[-1]
    assert re.fullmatch(rf"{ENDPOINT}-drift-[0-9a-f]{{16}}", name)
    job = boto("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["RoleArn"] == created["outputs"]["MonitorJobRoleArn"]
    uris = [item["S3Input"]["S3Uri"] for item in job["ProcessingInputs"]]
    assert uris[0] == f"s3://{BUCKET}/data-capture/abalone-prod/{ENDPOINT}/"
