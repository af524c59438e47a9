"""The drift monitor stack (deploy/templates/monitoring.yaml) and deploy.monitoring, its CLI.

What moto 5.2.5 plays and what is checked otherwise:
- The bootstrap stack (bootstrap.yaml) is created in moto_server: it holds the monitor's roles
  (job and scheduler, per stage) with their real, resolved policies, and the stage roles that
  deploy the monitor stack. moto's CloudFormation then creates the monitor stack but skips
  AWS::Scheduler::Schedule, AWS::Logs::MetricFilter and AWS::CloudWatch::Alarm (unsupported, with
  a warning). The schedule's target input is therefore resolved by moto as a stack output of the
  same template, then validated against botocore's CreateProcessingJob model (types, required
  members, lengths, and each string's pattern) and sent to moto's SageMaker by `run-once`.
- The roles are evaluated with moto's own policy evaluator (moto.iam.access_control.IAMPolicy) for
  each call the job, the scheduler and the deploy make, derived from that request where there is
  one. moto evaluates StringEquals conditions only, so the StringLike ones are matched here with
  fnmatch (IAM's * and ?).
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
from tests.deploy.conftest import ACCOUNT, REGION, REPO, add_package
from tests.deploy.test_injection import HOSTILE, assert_no_pwned, make
from tests.deploy.test_stacks import BOOTSTRAP, FAST
from tests.deploy.test_templates import resources, template

ENDPOINT = "abalone-prod"
MODEL_KEY = "abalone-pipeline/k2h3gd8xnj4b/train/model/model.tar.gz"
#: What Scheduler puts in for the context attributes (the documented forms).
EXECUTION_ID = "d32c5kddcf5bb8c3"
SCHEDULED_TIME = "2026-11-30T00:15:00Z"
NAME = "monitoring.yaml"
#: The bootstrap roles whose policies the tests read, by output name.
ROLES = (
    "MonitorJobProdRoleArn",
    "MonitorSchedulerProdRoleArn",
    "CloudFormationProdRoleArn",
    "GitHubProdRoleArn",
    "GitHubStagingRoleArn",
)


def _with_input_output() -> str:
    """The template plus an output holding the schedule's target input, for moto to resolve."""
    body = template(NAME)
    target_input = body["Resources"]["Schedule"]["Properties"]["Target"]["Input"]
    body["Outputs"]["ScheduleInput"] = {"Value": target_input}
    return json.dumps(body)


def _policy(iam: Any, role_arn: str) -> dict[str, Any]:
    name = role_arn.rsplit("/", 1)[1]
    (policy_name,) = iam.list_role_policies(RoleName=name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    # moto_server hands back the document as Python's repr of the template's dict.
    return document if isinstance(document, dict) else ast.literal_eval(document)


@pytest.fixture()
def created(boto) -> dict[str, Any]:
    """The bootstrap and prod's monitor stack in moto_server: outputs, parameters, policies."""
    cfn = boto("cloudformation")
    bootstrap = stacks.deploy(cfn, BOOTSTRAP, FAST)
    bucket = bootstrap["ArtifactBucket"]
    parameters = {
        "EndpointName": ENDPOINT,
        "MonitorJobRoleArn": bootstrap["MonitorJobProdRoleArn"],
        "SchedulerRoleArn": bootstrap["MonitorSchedulerProdRoleArn"],
        "ImageUri": f"{bootstrap['ImageRepositoryUri']}@sha256:{'ab' * 32}",
        "ModelBucket": bucket,
        "ModelKey": MODEL_KEY,
        "CaptureBucket": bucket,
        "CapturePrefix": f"data-capture/{ENDPOINT}",
        "OutputBucket": bucket,
    }
    spec = stacks.StackSpec(
        name=f"{ENDPOINT}-monitoring",
        template_body=_with_input_output(),
        parameters=parameters,
        role_arn=bootstrap["CloudFormationProdRoleArn"],
    )
    outputs = stacks.deploy(cfn, spec, FAST)
    policies = {key: _policy(boto("iam"), bootstrap[key]) for key in ROLES}
    return {"outputs": outputs, "bootstrap": bootstrap, "bucket": bucket, "policies": policies}


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
    assert request["RoleArn"] == created["bootstrap"]["MonitorJobProdRoleArn"]


def test_the_schedule_is_a_valid_create_schedule(created):
    """The Schedule resource's properties, resolved, as Scheduler's CreateSchedule request."""
    properties = template(NAME)["Resources"]["Schedule"]["Properties"]
    defaults = {k: v.get("Default") for k, v in template(NAME)["Parameters"].items()}
    request = {
        "Name": properties["Name"]["Fn::Sub"].replace("${EndpointName}", ENDPOINT),
        "Description": properties["Description"]["Fn::Sub"].replace("${EndpointName}", ENDPOINT),
        "ScheduleExpression": defaults["ScheduleExpression"],
        "ScheduleExpressionTimezone": properties["ScheduleExpressionTimezone"],
        "FlexibleTimeWindow": properties["FlexibleTimeWindow"],
        "State": defaults["ScheduleState"],
        "Target": {
            **properties["Target"],
            "RoleArn": created["bootstrap"]["MonitorSchedulerProdRoleArn"],
            "Input": created["outputs"]["ScheduleInput"],
        },
    }
    operation = get_session().get_service_model("scheduler").operation_model("CreateSchedule")
    assert validate_parameters(request, operation.input_shape) is None
    assert _patterns_hold(request, operation.input_shape) == []
    assert request["Name"] == f"{ENDPOINT}{monitoring.SCHEDULE_SUFFIX}"


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
    bucket = created["bucket"]
    assert inputs["captures"]["S3Uri"] == f"s3://{bucket}/data-capture/{ENDPOINT}/{ENDPOINT}/"
    assert inputs["captures"]["LocalPath"] == f"{contract.CAPTURES_INPUT}/{ENDPOINT}"
    assert inputs["model"]["S3Uri"] == f"s3://{bucket}/{MODEL_KEY}"
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
    return {"MonitorJobProdRoleArn": job, "MonitorSchedulerProdRoleArn": scheduler}


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


def test_the_monitor_stack_makes_no_iam():
    """So the stage's CloudFormation role, which may not create roles, can deploy it."""
    kinds = {item["Type"] for item in template(NAME)["Resources"].values()}
    assert not {kind for kind in kinds if kind.startswith("AWS::IAM::")}


def test_each_call_of_the_job_and_the_scheduler_is_allowed_by_its_role(created):
    for role, calls in _calls(request_of(created)).items():
        document = created["policies"][role]
        refused = [call for call in calls if not allowed(document, *call)]
        assert refused == [], role


@pytest.mark.parametrize(
    ("action", "key", "context"),
    [
        ("s3:GetObject", "data-capture/abalone-staging/abalone-staging/AllTraffic/x", {}),
        ("s3:GetObject", "abalone-pipeline/data/abalone.data", {}),
        ("s3:GetObject", "abalone-pipeline/k2h3gd8xnj4b/evaluate/evaluation/evaluation.json", {}),
        ("s3:PutObject", "monitoring/abalone-staging/x", {}),
        ("s3:PutObject", "data-capture/abalone-prod/abalone-prod/AllTraffic/x", {}),
        ("s3:PutObject", MODEL_KEY, {}),
        ("s3:DeleteObject", "monitoring/abalone-prod/x", {}),
        ("s3:ListBucket", "", {"s3:prefix": "data-capture/"}),
        ("s3:ListBucket", "", {"s3:prefix": "abalone-pipeline/"}),
        ("s3:ListBucket", "", {}),
    ],
)
def test_the_job_role_reaches_no_other_endpoints_data(created, action, key, context):
    resource = f"arn:aws:s3:::{created['bucket']}" + (f"/{key}" if key else "")
    assert not allowed(created["policies"]["MonitorJobProdRoleArn"], action, resource, context)


def test_the_scheduler_role_starts_only_this_endpoints_jobs_and_passes_only_to_sagemaker(created):
    document = created["policies"]["MonitorSchedulerProdRoleArn"]
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/abalone-staging-drift-x"
    assert not allowed(document, "sagemaker:CreateProcessingJob", other, {})
    role = created["bootstrap"]["MonitorJobProdRoleArn"]
    assert not allowed(document, "iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"})
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    for other_role in ("SageMakerExecutionRoleArn", "MonitorJobStagingRoleArn"):
        assert not allowed(document, "iam:PassRole", created["bootstrap"][other_role], passed)


def _deploy_calls(created: dict[str, Any], stage: str) -> dict[str, list[Any]]:
    """What `make deploy-monitoring STAGE=<stage>` calls as the GitHub role, and what
    CloudFormation then calls as the stage's role (the resources the monitor stack holds)."""
    where = f"{REGION}:{ACCOUNT}"
    group = f"arn:aws:logs:{where}:log-group:{monitoring.PROCESSING_LOG_GROUP}"
    stack = f"arn:aws:cloudformation:{where}:stack/abalone-{stage}-monitoring/5a1e"
    scheduler_role = created["bootstrap"][f"MonitorScheduler{stage.capitalize()}RoleArn"]
    topic = f"arn:aws:sns:{where}:abalone-{stage}-drift-alarm"
    github = [
        (action, stack, {})
        for action in (
            "CreateChangeSet",
            "DescribeChangeSet",
            "ExecuteChangeSet",
            "DescribeStacks",
            "GetTemplateSummary",
        )
    ]
    github = [(f"cloudformation:{a}", r, c) for a, r, c in github]
    github += [("logs:DescribeLogGroups", f"{group}:*", {}), ("logs:CreateLogGroup", group, {})]
    cloudformation = [
        (
            f"scheduler:{action}Schedule",
            f"arn:aws:scheduler:{where}:schedule/default/abalone-{stage}-drift-monitor",
            {},
        )
        for action in ("Create", "Update", "Get", "Delete")
    ]
    cloudformation += [
        ("iam:PassRole", scheduler_role, {"iam:PassedToService": "scheduler.amazonaws.com"}),
        ("logs:PutMetricFilter", group, {}),
        ("logs:DeleteMetricFilter", group, {}),
        (
            "cloudwatch:PutMetricAlarm",
            f"arn:aws:cloudwatch:{where}:alarm:abalone-{stage}-drift",
            {},
        ),
        ("sns:CreateTopic", topic, {}),
        ("sns:Subscribe", topic, {}),
    ]
    return {
        f"GitHub{stage.capitalize()}RoleArn": github,
        "CloudFormationProdRoleArn": cloudformation,
    }


def test_the_prod_roles_can_deploy_prods_monitor_and_staging_cannot(created):
    for role, calls in _deploy_calls(created, "prod").items():
        refused = [call for call in calls if not allowed(created["policies"][role], *call)]
        assert refused == [], role
    staging = created["policies"]["GitHubStagingRoleArn"]
    prod_calls = _deploy_calls(created, "prod")["GitHubProdRoleArn"]
    assert [call for call in prod_calls if call[0].startswith("cloudformation:")]
    for call in prod_calls:
        if call[0].startswith("cloudformation:"):
            assert not allowed(staging, *call), call
    for call in _deploy_calls(created, "staging")["CloudFormationProdRoleArn"]:
        if call[0] != "logs:PutMetricFilter" and call[0] != "logs:DeleteMetricFilter":
            assert not allowed(created["policies"]["CloudFormationProdRoleArn"], *call), call


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
BUCKET = "abalone-bootstrap-artifactbucket-1x2y3z"
CAPTURES = f"s3://{BUCKET}/data-capture/{ENDPOINT}"
STAND_IN_ROLES = {
    "MonitorJobProdRoleArn": f"arn:aws:iam::{ACCOUNT}:role/abalone-prod-drift-monitor-job",
    "MonitorSchedulerProdRoleArn": f"arn:aws:iam::{ACCOUNT}:role/abalone-prod-drift-monitor-sched",
}


def _stage_config(tmp_path, package_arn: str, capture_uri: str) -> str:
    config = {
        "Stage": "prod",
        "StackName": "abalone-endpoint-prod",
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/abalone-cloudformation-prod",
        "ModelPackageArn": package_arn,
        "Parameters": {"EndpointName": ENDPOINT, "DataCaptureS3Uri": capture_uri},
        "Tags": {"project": "abalone-byom", "stage": "prod"},
    }
    path = tmp_path / "prod.json"
    path.write_text(json.dumps(config))
    return str(path)


@pytest.fixture()
def stand_in(boto) -> None:
    """A stand-in bootstrap stack with the outputs deploy.monitoring reads (the real one is
    exercised above and in the walk-through)."""
    outputs = {"ArtifactBucket": BUCKET, **STAND_IN_ROLES}
    body = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cfn = boto("cloudformation")
    cfn.create_stack(StackName="abalone-bootstrap", TemplateBody=json.dumps(body))


def test_deploy_makes_the_stack_from_the_served_package_and_the_capture_prefix(
    boto, stand_in, tmp_path, capsys
):
    package = add_package(boto("sagemaker"), status="Approved")
    config = _stage_config(tmp_path, package, CAPTURES)
    fast = ["--config", config, "--poll-seconds", "0.05"]
    assert monitoring.main(["deploy", *fast, "--parameter", "WindowHours=6"]) == 0
    assert f"created log group {monitoring.PROCESSING_LOG_GROUP}" in capsys.readouterr().out
    (stack,) = boto("cloudformation").describe_stacks(StackName=f"{ENDPOINT}-monitoring")["Stacks"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    described = boto("sagemaker").describe_model_package(ModelPackageName=package)
    (container,) = described["InferenceSpecification"]["Containers"]
    assert parameters["ImageUri"] == container["Image"]
    assert f"s3://{parameters['ModelBucket']}/{parameters['ModelKey']}" == container["ModelDataUrl"]
    assert f"s3://{parameters['CaptureBucket']}/{parameters['CapturePrefix']}" == CAPTURES
    assert parameters["OutputBucket"] == BUCKET
    assert parameters["MonitorJobRoleArn"] == STAND_IN_ROLES["MonitorJobProdRoleArn"]
    assert parameters["SchedulerRoleArn"] == STAND_IN_ROLES["MonitorSchedulerProdRoleArn"]
    assert stack["RoleARN"].endswith(":role/abalone-cloudformation-prod")
    groups = boto("logs").describe_log_groups()["logGroups"]
    assert [group["logGroupName"] for group in groups] == [monitoring.PROCESSING_LOG_GROUP]
    assert parameters["WindowHours"] == "6"
    # Again, as the Deploy workflow does (no --parameter): the setting made by hand stays, the
    # log group is there, the stack unchanged.
    assert monitoring.main(["deploy", *fast]) == 0
    out = capsys.readouterr().out
    assert "created log group" not in out and "no changes" in out


@pytest.mark.parametrize(
    ("capture_uri", "found"),
    [
        ("", "it captures nothing"),
        (f"s3://another-bucket/data-capture/{ENDPOINT}", "DataCaptureS3Uri is 's3://another-"),
        (f"s3://{BUCKET}/captures/{ENDPOINT}", f"DataCaptureS3Uri is 's3://{BUCKET}/captures/"),
    ],
)
def test_deploy_refuses_captures_the_monitor_role_cannot_read(
    boto, stand_in, tmp_path, capsys, capture_uri, found
):
    package = add_package(boto("sagemaker"), status="Approved")
    assert (
        monitoring.main(["deploy", "--config", _stage_config(tmp_path, package, capture_uri)]) == 1
    )
    err = capsys.readouterr().err
    assert f"endpoint {ENDPOINT}: {found}" in err and f"reads {CAPTURES} only" in err
    assert [s["StackName"] for s in boto("cloudformation").describe_stacks()["Stacks"]] == [
        "abalone-bootstrap"
    ]


def test_run_once_starts_the_job_the_schedule_would(boto, created, capsys):
    """The schedule as Scheduler holds it (moto's CloudFormation cannot create it), then
    `run-once`: moto's SageMaker gets a job with this endpoint's inputs."""
    boto("scheduler").create_schedule(
        Name=f"{ENDPOINT}-drift-monitor",
        ScheduleExpression="cron(15 0 * * ? *)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:createProcessingJob",
            "RoleArn": created["bootstrap"]["MonitorSchedulerProdRoleArn"],
            "Input": created["outputs"]["ScheduleInput"],
        },
    )
    capsys.readouterr()
    assert monitoring.main(["run-once", "--endpoint-name", ENDPOINT]) == 0
    name = capsys.readouterr().out.split()[-1]
    assert re.fullmatch(rf"{ENDPOINT}-drift-[0-9a-f]{{16}}", name)
    job = boto("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["RoleArn"] == created["bootstrap"]["MonitorJobProdRoleArn"]
    uris = [item["S3Input"]["S3Uri"] for item in job["ProcessingInputs"]]
    assert uris[0] == f"s3://{created['bucket']}/data-capture/{ENDPOINT}/{ENDPOINT}/"


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("variable", ["STAGE", "ALARM_EMAIL"])
def test_hostile_values_for_the_monitor_targets_run_nothing(tmp_path, variable, value):
    """`deploy-monitoring` (STAGE, ALARM_EMAIL) and `monitor-now` (STAGE) read them as quoted
    shell variables; each fails (no such config, or the endpoint pattern) before any AWS call."""
    other = [] if variable == "STAGE" else ["STAGE=nosuchstage"]
    targets = ["deploy-monitoring"] + (["monitor-now"] if variable == "STAGE" else [])
    for target in targets:
        result = make(tmp_path, target, f"{variable}={value}", *other)
        assert result.returncode != 0, result.stdout + result.stderr
        assert "error: " in result.stderr and "Traceback" not in result.stderr
        assert_no_pwned(tmp_path, REPO, REPO / "build", REPO / "build" / "deploy")
