"""The pipeline definition, built offline (no credentials, every socket refused) and checked.

The definitions come from the session fixture `definitions` (conftest.py), which fails if
building them tried the network at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from container import contract
from tests.pipelines.conftest import BUCKET, IMAGE_URI, REPO, ROLE, SAMPLE_HYPERPARAMETERS
from training import report, schema

IMAGE_PARAM = {"Get": "Parameters.ImageUri"}
EXECUTION_ID = {"Get": "Execution.PipelineExecutionId"}


def all_steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, the condition's branches included."""
    found: dict[str, dict[str, Any]] = {}
    pending = list(definition["Steps"])
    while pending:
        step = pending.pop(0)
        found[step["Name"]] = step
        arguments = step.get("Arguments", {})
        pending += arguments.get("IfSteps", []) + arguments.get("ElseSteps", [])
    return found


def walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from walk(child)


def references(node: Any) -> set[str]:
    return {n["Get"] for n in walk(node) if isinstance(n, dict) and isinstance(n.get("Get"), str)}


def outputs(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    config = step["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    return {o["OutputName"]: o["S3Output"] for o in config}


def inputs(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["InputName"]: i["S3Input"] for i in step["Arguments"]["ProcessingInputs"]}


def container_arguments(step: dict[str, Any]) -> list[str]:
    return list(step["Arguments"]["AppSpecification"]["ContainerArguments"])


def option(arguments: list[str], name: str) -> str:
    return arguments[arguments.index(name) + 1]


@pytest.fixture
def processing(definitions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return all_steps(definitions["processing"])


@pytest.fixture
def training(definitions: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return all_steps(definitions["training"])


def test_steps_in_order_with_the_gate_branches(definitions):
    top = [(s["Name"], s["Type"]) for s in definitions["processing"]["Steps"]]
    assert top == [
        ("Preprocess", "Processing"),
        ("Train", "Processing"),
        ("Evaluate", "Processing"),
        ("CheckRmse", "Condition"),
    ]
    gate = definitions["processing"]["Steps"][3]["Arguments"]
    assert [(s["Name"], s["Type"]) for s in gate["IfSteps"]] == [("Register", "RegisterModel")]
    assert [(s["Name"], s["Type"]) for s in gate["ElseSteps"]] == [("RmseTooHigh", "Fail")]


def test_each_step_reads_the_one_before(processing, training):
    for steps in (processing, training):
        assert any(r.startswith("Steps.Preprocess.") for r in references(steps["Train"]))
        evaluate = references(steps["Evaluate"])
        assert any(r.startswith("Steps.Train.") for r in evaluate)
        assert any(r.startswith("Steps.Preprocess.") for r in evaluate)
        assert any(r.startswith("Steps.Evaluate.") for r in references(steps["CheckRmse"]))


def test_training_mode_swaps_only_the_train_step(definitions, training):
    top = [(s["Name"], s["Type"]) for s in definitions["training"]["Steps"]]
    assert top[1] == ("Train", "Training")
    assert [name for name, _ in top] == ["Preprocess", "Train", "Evaluate", "CheckRmse"]
    train = training["Train"]["Arguments"]
    # SageMaker runs `docker run IMAGE train`: no entrypoint, no code channel, no script.
    assert train["AlgorithmSpecification"] == {
        "TrainingInputMode": "File",
        "TrainingImage": IMAGE_PARAM,
    }
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in train["InputDataConfig"]
    }
    assert channels == {
        contract.TRAIN_CHANNEL: {
            "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
        },
        contract.VALIDATION_CHANNEL: {
            "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"
        },
        contract.PREPROCESSING_CHANNEL: {
            "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['preprocessing'].S3Output.S3Uri"
        },
    }
    model = {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs(training["Evaluate"])["model"]["S3Uri"] == model
    register = training["Register"]["Arguments"]["InferenceSpecification"]["Containers"][0]
    assert register["ModelDataUrl"] == model


def test_the_gate_reads_the_path_evaluation_writes(definitions, processing):
    """Both checks in one condition step (its conditions are a conjunction): RMSE <= the
    threshold parameter and RMSE <= the relative limit Evaluate writes, one property file."""
    conditions = processing["CheckRmse"]["Arguments"]["Conditions"]
    assert [c["Type"] for c in conditions] == ["LessThanOrEqualTo", "LessThanOrEqualTo"]
    absolute, relative = conditions
    json_get = absolute["LeftValue"]["Std:JsonGet"]
    assert json_get["Path"] == report.METRIC_JSON_PATH == "regression_metrics.rmse.value"
    assert absolute["RightValue"] == {"Get": "Parameters.RmseThreshold"}
    assert relative["LeftValue"] == absolute["LeftValue"]
    limit = relative["RightValue"]["Std:JsonGet"]
    assert limit["Path"] == report.GATE_LIMIT_JSON_PATH == "gate.rmse_limit"
    property_file = json_get["PropertyFile"]["Get"]
    assert limit["PropertyFile"] == {"Get": property_file}
    assert property_file.startswith("Steps.Evaluate.PropertyFiles.")
    files = processing["Evaluate"]["PropertyFiles"]
    assert files == [
        {
            "PropertyFileName": property_file.rsplit(".", 1)[1],
            "OutputName": "evaluation",
            "FilePath": report.REPORT_FILENAME,
        }
    ]
    # The property file's output is where `process evaluate --output` writes its report.
    evaluate = processing["Evaluate"]
    assert outputs(evaluate)["evaluation"]["LocalPath"] == str(contract.EVALUATION_OUTPUT)
    assert option(container_arguments(evaluate), "--output") == str(contract.EVALUATION_OUTPUT)


@pytest.mark.parametrize(
    ("rmse", "incumbent_rmse", "threshold", "tolerance", "registered"),
    [
        (2.20, None, 2.45, 0.01, True),  # first run: the threshold alone
        (2.50, None, 2.45, 0.01, False),
        (2.20, 2.30, 2.45, 0.01, True),  # better than the incumbent
        (2.32, 2.30, 2.45, 0.01, True),  # worse, within 1%
        (2.33, 2.30, 2.45, 0.01, False),  # worse by more than 1%
        (2.40, 2.30, 2.45, 0.05, True),
        (2.46, 2.60, 2.45, 0.01, False),  # better than the incumbent, above the threshold
    ],
)
def test_the_definitions_condition_on_reports_evaluation_writes(
    processing, rmse, incumbent_rmse, threshold, tolerance, registered
):
    """The condition of the JSON definition, evaluated on a report as Evaluate writes it: the
    JsonGet paths read from it, the parameters given as an execution would give them."""
    written = {
        "regression_metrics": {"rmse": {"value": rmse}},
        "gate": report.gate_section(rmse, incumbent_rmse, tolerance),
    }
    parameters = {"RmseThreshold": threshold, "RmseTolerance": tolerance}

    def value(node: dict[str, Any]) -> float:
        if "Std:JsonGet" in node:
            return report.metric_at(written, node["Std:JsonGet"]["Path"])
        return parameters[node["Get"].removeprefix("Parameters.")]

    conditions = processing["CheckRmse"]["Arguments"]["Conditions"]
    assert all(c["Type"] == "LessThanOrEqualTo" for c in conditions)
    met = all(value(c["LeftValue"]) <= value(c["RightValue"]) for c in conditions)
    assert met is registered


def test_evaluate_always_reads_an_incumbent_input_and_knows_what_means_none(processing):
    evaluate = processing["Evaluate"]
    incumbent = inputs(evaluate)[contract.INCUMBENT]
    assert incumbent["S3Uri"] == {"Get": "Parameters.IncumbentModelUrl"}
    assert incumbent["LocalPath"] == str(contract.INCUMBENT_INPUT)
    arguments = container_arguments(evaluate)
    assert option(arguments, "--incumbent") == str(contract.INCUMBENT_INPUT)
    assert option(arguments, "--incumbent-url") == {"Get": "Parameters.IncumbentModelUrl"}
    assert option(arguments, "--placeholder-url") == {"Get": "Parameters.InputDataUri"}
    tolerance = option(arguments, "--rmse-tolerance")
    assert tolerance == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.RmseTolerance"}]}}


def test_the_gate_reads_what_the_report_builder_writes():
    import numpy as np

    built = report.build_report(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert report.metric_at(built, report.METRIC_JSON_PATH) == pytest.approx((4 / 3) ** 0.5)


def test_parameters_are_declared_and_reach_the_steps(definitions):
    for mode in ("processing", "training"):
        definition = definitions[mode]
        declared = {p["Name"]: p for p in definition["Parameters"]}
        assert {name: p["Type"] for name, p in declared.items()} == {
            "ImageUri": "String",
            "InputDataUri": "String",
            "ProcessingInstanceType": "String",
            "ProcessingInstanceCount": "Integer",
            "TrainingInstanceType": "String",
            "TrainingInstanceCount": "Integer",
            "InferenceInstanceType": "String",
            "TransformInstanceType": "String",
            "RmseThreshold": "Float",
            "RmseTolerance": "Float",
            "ModelApprovalStatus": "String",
            "IncumbentModelUrl": "String",
        }
        used = references(definition["Steps"])
        assert {f"Parameters.{name}" for name in declared} <= used, mode
        assert declared["ImageUri"]["DefaultValue"] == IMAGE_URI
        assert (
            declared["InputDataUri"]["DefaultValue"]
            == f"s3://{BUCKET}/abalone-pipeline/data/abalone.data"
        )
        assert declared["ModelApprovalStatus"]["DefaultValue"] == "PendingManualApproval"
        assert declared["RmseThreshold"]["DefaultValue"] == pytest.approx(2.45)
        assert declared["RmseTolerance"]["DefaultValue"] == pytest.approx(0.01)
        # No incumbent by default: the placeholder is the input data (see steps.evaluate_step).
        assert (
            declared["IncumbentModelUrl"]["DefaultValue"]
            == declared["InputDataUri"]["DefaultValue"]
        )


def test_instance_parameters_reach_each_job(processing, training):
    for name in ("Preprocess", "Evaluate"):
        cluster = processing[name]["Arguments"]["ProcessingResources"]["ClusterConfig"]
        assert cluster["InstanceType"] == {"Get": "Parameters.ProcessingInstanceType"}
        assert cluster["InstanceCount"] == {"Get": "Parameters.ProcessingInstanceCount"}
    cluster = processing["Train"]["Arguments"]["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    resources = training["Train"]["Arguments"]["ResourceConfig"]
    assert resources["InstanceType"] == {"Get": "Parameters.TrainingInstanceType"}
    assert resources["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}


def test_every_step_runs_the_image_parameter(definitions, processing, training):
    for steps in (processing, training):
        for name in ("Preprocess", "Evaluate"):
            assert steps[name]["Arguments"]["AppSpecification"]["ImageUri"] == IMAGE_PARAM
        container = steps["Register"]["Arguments"]["InferenceSpecification"]["Containers"][0]
        assert container["Image"] == IMAGE_PARAM
    assert processing["Train"]["Arguments"]["AppSpecification"]["ImageUri"] == IMAGE_PARAM
    # No other image anywhere (no AWS framework image), no code upload, no pip at run time.
    for definition in definitions.values():
        text = json.dumps(definition)
        assert text.count(".dkr.ecr.") == 1  # ImageUri's default only
        for forbidden in (
            "sagemaker_program",
            "sagemaker_submit_directory",
            "pip install",
            "/code",
        ):
            assert forbidden not in text


def test_processing_jobs_use_the_images_entrypoint(processing):
    from pipelines.steps import IMAGE_ENTRYPOINT

    dockerfile = (REPO / "container" / "Dockerfile").read_text()
    entrypoint = next(line for line in dockerfile.splitlines() if line.startswith("ENTRYPOINT"))
    assert json.loads(entrypoint.removeprefix("ENTRYPOINT").strip()) == list(IMAGE_ENTRYPOINT)
    for name in ("Preprocess", "Train", "Evaluate"):
        app = processing[name]["Arguments"]["AppSpecification"]
        assert app["ContainerEntrypoint"] == list(IMAGE_ENTRYPOINT)


def test_container_arguments_use_the_shared_paths(processing):
    preprocess = processing["Preprocess"]
    assert container_arguments(preprocess) == [
        "process", "preprocess",
        "--input", str(contract.RAW_DATA_INPUT),
        "--output", str(contract.SPLITS_OUTPUT),
    ]  # fmt: skip
    assert inputs(preprocess)["data"]["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert inputs(preprocess)["data"]["LocalPath"] == str(contract.RAW_DATA_INPUT)
    assert {name: o["LocalPath"] for name, o in outputs(preprocess).items()} == {
        "train": str(contract.TRAIN_OUTPUT),
        "validation": str(contract.VALIDATION_OUTPUT),
        "test": str(contract.TEST_OUTPUT),
        "preprocessing": str(contract.PREPROCESSING_OUTPUT),
    }
    train = processing["Train"]
    assert container_arguments(train) == [
        "process", "train",
        "--train", str(contract.TRAIN_INPUT),
        "--validation", str(contract.VALIDATION_INPUT),
        "--preprocessing", str(contract.PREPROCESSING_INPUT),
        "--output", str(contract.MODEL_OUTPUT),
    ]  # fmt: skip
    assert {name: i["LocalPath"] for name, i in inputs(train).items()} == {
        "train": str(contract.TRAIN_INPUT),
        "validation": str(contract.VALIDATION_INPUT),
        "preprocessing": str(contract.PREPROCESSING_INPUT),
    }
    assert outputs(train)["model"]["LocalPath"] == str(contract.MODEL_OUTPUT)
    evaluate = processing["Evaluate"]
    assert container_arguments(evaluate)[:8] == [
        "process", "evaluate",
        "--model", str(contract.MODEL_INPUT),
        "--test", str(contract.TEST_INPUT),
        "--output", str(contract.EVALUATION_OUTPUT),
    ]  # fmt: skip
    assert {name: i["LocalPath"] for name, i in inputs(evaluate).items()} == {
        "model": str(contract.MODEL_INPUT),
        "test": str(contract.TEST_INPUT),
        "incumbent": str(contract.INCUMBENT_INPUT),
    }
    model_data = inputs(evaluate)["model"]["S3Uri"]["Std:Join"]["Values"]
    assert model_data[1] == schema.MODEL_ARCHIVE_FILENAME


def test_sample_options_reach_the_training_job(training):
    assert container_arguments(training["Preprocess"])[-1] == "--no-verify"
    assert training["Train"]["Arguments"]["HyperParameters"] == SAMPLE_HYPERPARAMETERS


def test_sample_options_reach_the_processing_jobs_and_nothing_else_changes(
    offline_env, definitions
):
    from tests.pipelines.conftest import build_definition

    sample = build_definition(verify_data=False, hyperparameters=SAMPLE_HYPERPARAMETERS)
    steps = all_steps(sample)
    preprocess, train = (
        container_arguments(steps["Preprocess"]),
        container_arguments(steps["Train"]),
    )
    assert preprocess.pop() == "--no-verify"
    assert json.loads(option(train, "--hyperparameters")) == SAMPLE_HYPERPARAMETERS
    del train[train.index("--hyperparameters") :]
    steps["Preprocess"]["Arguments"]["AppSpecification"]["ContainerArguments"] = preprocess
    steps["Train"]["Arguments"]["AppSpecification"]["ContainerArguments"] = train
    assert sample == definitions["processing"]  # and building is reproducible
    assert "--no-verify" not in json.dumps(definitions["processing"])
    assert offline_env == []


def test_output_locations_are_unique_per_execution(processing, training):
    for steps in (processing, training):
        locations = [
            (name, output, spec["S3Uri"])
            for name in ("Preprocess", "Train", "Evaluate")
            if steps[name]["Type"] == "Processing"
            for output, spec in outputs(steps[name]).items()
        ]
        if steps["Train"]["Type"] == "Training":
            s3_output_path = steps["Train"]["Arguments"]["OutputDataConfig"]["S3OutputPath"]
            locations.append(("Train", "model", s3_output_path))
        assert len(locations) == 6
        for step, output, uri in locations:
            assert uri["Std:Join"] == {
                "On": "/",
                "Values": [f"s3://{BUCKET}/abalone-pipeline", EXECUTION_ID, step, output],
            }
        assert len({(step, output) for step, output, _ in locations}) == len(locations)


def test_register_step_records_a_gated_versioned_package(processing):
    arguments = processing["Register"]["Arguments"]
    assert arguments["ModelPackageGroupName"] == "abalone"
    assert arguments["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    spec = arguments["InferenceSpecification"]
    assert spec["SupportedContentTypes"] == [
        "text/csv", "application/json", "application/jsonlines", "text/libsvm",
    ]  # fmt: skip
    assert spec["SupportedResponseMIMETypes"] == [
        "text/csv",
        "application/json",
        "application/jsonlines",
    ]
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == [
        {"Get": "Parameters.InferenceInstanceType"}
    ]
    assert spec["SupportedTransformInstanceTypes"] == [{"Get": "Parameters.TransformInstanceType"}]
    model_data = spec["Containers"][0]["ModelDataUrl"]["Std:Join"]
    train_model = "Steps.Train.ProcessingOutputConfig.Outputs['model'].S3Output.S3Uri"
    assert model_data == {
        "On": "/",
        "Values": [{"Get": train_model}, schema.MODEL_ARCHIVE_FILENAME],
    }
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    evaluation = "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    assert statistics["S3Uri"]["Std:Join"]["Values"] == [
        {"Get": evaluation},
        report.REPORT_FILENAME,
    ]


def test_fail_step_names_both_rmses_and_both_limits(processing):
    message = processing["RmseTooHigh"]["Arguments"]["ErrorMessage"]["Std:Join"]

    def shown(value: Any) -> str:
        if isinstance(value, str):
            return value
        if "Std:JsonGet" in value:
            return "<{}>".format(value["Std:JsonGet"]["Path"])
        return "<{}>".format(value["Get"])

    text = "".join(shown(v) for v in message["Values"])
    assert text.startswith(f"Model RMSE <{report.METRIC_JSON_PATH}> must be <= RmseThreshold ")
    assert "<= RmseThreshold <Parameters.RmseThreshold>" in text
    assert f"<= the relative limit (<{report.GATE_RELATIVE_JSON_PATH}>)" in text
    evaluation = "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    assert f"report: <{evaluation}>/{report.REPORT_FILENAME}" in text
    assert "not registered" in text
    assert all("Std:Join" not in v for v in message["Values"] if isinstance(v, dict))  # flat
    # Every JsonGet in the message reads the one property file the gate reads.
    gets = [
        v["Std:JsonGet"] for v in message["Values"] if isinstance(v, dict) and "Std:JsonGet" in v
    ]
    assert {g["PropertyFile"]["Get"] for g in gets} == {
        "Steps.Evaluate.PropertyFiles.EvaluationReport"
    }


def test_name_and_description_record_the_train_mode():
    from pipelines.abalone import default_pipeline_name, describe

    assert default_pipeline_name("processing") == "abalone-pipeline"
    assert default_pipeline_name("training") == "abalone-pipeline-training"
    assert "Processing job" in describe("processing")
    assert "Training job" in describe("training")


def test_unknown_train_mode_is_refused(offline_env):
    from pipelines.abalone import get_pipeline

    with pytest.raises(ValueError, match="train_mode"):
        get_pipeline(role=ROLE, image_uri=IMAGE_URI, bucket=BUCKET, train_mode="spot")


def _distributions(processing_train: dict[str, Any]) -> dict[str, str]:
    return {name: i["S3DataDistributionType"] for name, i in inputs(processing_train).items()}


def _channel_distributions(training_train: dict[str, Any]) -> dict[str, str]:
    channels = training_train["Arguments"]["InputDataConfig"]
    return {
        c["ChannelName"]: c["DataSource"]["S3DataSource"].get(
            "S3DataDistributionType", contract.FULLY_REPLICATED
        )
        for c in channels
    }


def test_one_part_per_split_every_instance_gets_whole_splits(processing, training):
    """The default: preprocess writes <split>.csv, every input is FullyReplicated, and the
    instances of a TrainingInstanceCount above 1 each train on every n-th row."""
    assert "--parts" not in container_arguments(processing["Preprocess"])
    kinds = set(_distributions(processing["Train"]).values())
    assert kinds | set(_channel_distributions(training["Train"]).values()) == {
        contract.FULLY_REPLICATED
    }


@pytest.mark.parametrize("train_mode", ["processing", "training"])
def test_several_parts_shard_the_train_input_by_s3_key(offline_env, train_mode):
    from tests.pipelines.conftest import build_definition

    steps = all_steps(build_definition(train_mode=train_mode, train_parts=4))
    assert option(container_arguments(steps["Preprocess"]), "--parts") == "4"
    train = steps["Train"]
    kinds = _distributions(train) if train_mode == "processing" else _channel_distributions(train)
    assert kinds == {
        contract.TRAIN_SPLIT: contract.SHARDED_BY_S3_KEY,
        contract.VALIDATION_SPLIT: contract.FULLY_REPLICATED,
        contract.PREPROCESSING: contract.FULLY_REPLICATED,
    }
    count = {"Get": "Parameters.TrainingInstanceCount"}
    if train_mode == "processing":
        cluster = train["Arguments"]["ProcessingResources"]["ClusterConfig"]
        assert cluster["InstanceCount"] == count
    else:
        assert train["Arguments"]["ResourceConfig"]["InstanceCount"] == count
    assert offline_env == []


def test_no_parts_is_refused(offline_env):
    from pipelines.abalone import get_pipeline

    with pytest.raises(ValueError, match="train_parts"):
        get_pipeline(role=ROLE, image_uri=IMAGE_URI, bucket=BUCKET, train_parts=0)


#: Loaded by the console script's interpreter: any socket connection ends it with exit code 99.
NO_NETWORK_SITECUSTOMIZE = """
import os, socket
def _refuse(sock, address):
    os.write(2, f"NETWORK ATTEMPT {address}\\n".encode())
    os._exit(99)
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
"""


def test_console_script_prints_the_definition_with_no_aws_at_all(tmp_path, definitions):
    (tmp_path / "sitecustomize.py").write_text(NO_NETWORK_SITECUSTOMIZE)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),  # no ~/.aws, no SDK config file
        "PYTHONPATH": str(tmp_path),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    script = Path(sys.executable).with_name("get-pipeline-definition")
    output_file = tmp_path / "definition.json"
    command = [str(script), "--role-arn", ROLE, "--image-uri", IMAGE_URI, "--bucket", BUCKET]
    result = subprocess.run(
        [*command, "-f", str(output_file)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == definitions["processing"]
    assert json.loads(output_file.read_text()) == definitions["processing"]
    assert "NETWORK ATTEMPT" not in result.stderr


def test_console_script_accepts_the_seeds_kwargs(tmp_path):
    kwargs = {
        "region": "eu-west-1",
        "sagemaker_project_name": "seed-project",
        "role": ROLE,
        "default_bucket": BUCKET,
        "pipeline_name": "seed-name",
        "model_package_group_name": "seed-group",
        "base_job_prefix": "seed-prefix",
    }
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    script = Path(sys.executable).with_name("get-pipeline-definition")
    command = [str(script), "--kwargs", repr(kwargs), "--image-uri", IMAGE_URI]
    result = subprocess.run(
        [*command, "--train-mode", "training"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    steps = all_steps(json.loads(result.stdout))
    assert steps["Train"]["Type"] == "Training"
    assert steps["Register"]["Arguments"]["ModelPackageGroupName"] == "seed-group"
    output_path = steps["Train"]["Arguments"]["OutputDataConfig"]["S3OutputPath"]["Std:Join"]
    assert output_path["Values"][0] == f"s3://{BUCKET}/seed-prefix"


def test_no_experiment_is_created_by_an_execution(definitions):
    """The execution role has no sagemaker:CreateExperiment/CreateTrial (bootstrap.yaml): with
    a PipelineExperimentConfig every execution would try to create both. The SDK writes the
    key as null when the config is None, which the service reads as no experiment."""
    for definition in definitions.values():
        assert definition.get("PipelineExperimentConfig") is None
