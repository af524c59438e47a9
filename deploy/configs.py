"""Write each stage's deployment config: its parameter file with the approved model package and the
bootstrap stack's outputs filled in.

python -m deploy.configs --stage staging --stage prod          # the newest Approved package
python -m deploy.configs --stage prod --model-package-arn ARN  # this one (what passed staging)

deploy/params/<stage>.json may use ${ModelPackageArn} and ${<any bootstrap output>} in values;
its RoleArn names the stage's own CloudFormation service role (a bootstrap output). The config
lands in build/deploy/<stage>.json, read by `python -m deploy.stacks deploy --config`.
A --model-package-arn or --stage that does not match its pattern (deploy.cli) is refused before
any AWS call: both can come from a workflow input or a make command line.
"""

from __future__ import annotations

import argparse
import json
import os
import string
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.cli import DeployError, client, model_package_arn, run, stage_names
from deploy.registry import Package, approved_package, latest_approved
from deploy.stacks import stack_outputs

DEFAULT_GROUP = "abalone"
DEFAULT_BOOTSTRAP_STACK = "abalone-bootstrap"


@dataclass(frozen=True)
class Settings:
    stages: tuple[str, ...]
    group: str
    bootstrap_stack: str
    params_dir: Path
    output_dir: Path
    package_arn: str | None
    github_output: Path | None


def _fill(value: str, values: Mapping[str, str], where: str) -> str:
    try:
        return string.Template(value).substitute(values)
    except KeyError as exc:
        known = ", ".join(sorted(values))
        raise DeployError(f"{where} uses ${{{exc.args[0]}}}, which is not one of: {known}") from exc
    except ValueError as exc:
        raise DeployError(f"{where}: {exc}") from exc


def stage_config(
    params: Mapping[str, Any],
    package: Package,
    outputs: Mapping[str, str],
    *,
    stage: str,
    source: str,
) -> dict[str, Any]:
    """The config of one stage: parameters and tags filled in, plus what was chosen and why."""
    values = {**outputs, "ModelPackageArn": package.arn}
    parameters = {
        key: _fill(str(value), values, f"{source}: Parameters.{key}")
        for key, value in params.get("Parameters", {}).items()
    }
    for key in ("StackName", "RoleArn"):
        if key not in params:
            raise DeployError(f"{source} has no {key}")
    return {
        "Stage": stage,
        "StackName": params["StackName"],
        "RoleArn": _fill(str(params["RoleArn"]), values, f"{source}: RoleArn"),
        "ModelPackageArn": package.arn,
        "ModelPackageVersion": package.version,
        "Parameters": parameters,
        "Tags": {**params.get("Tags", {}), "model-package-version": str(package.version)},
    }


def read_params(params_dir: Path, stage: str) -> tuple[dict[str, Any], str]:
    path = params_dir / f"{stage}.json"
    try:
        return json.loads(path.read_text()), str(path)
    except OSError as exc:
        raise DeployError(f"no parameter file for stage {stage!r}: {exc}") from exc
    except ValueError as exc:
        raise DeployError(f"{path} is not valid JSON: {exc}") from exc


def choose_package(sagemaker: Any, settings: Settings) -> Package:
    if settings.package_arn:
        return approved_package(sagemaker, settings.package_arn, settings.group)
    return latest_approved(sagemaker, settings.group)


def write_configs(settings: Settings, package: Package, outputs: Mapping[str, str]) -> list[Path]:
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stage in settings.stages:
        params, source = read_params(settings.params_dir, stage)
        config = stage_config(params, package, outputs, stage=stage, source=source)
        path = settings.output_dir / f"{stage}.json"
        path.write_text(json.dumps(config, indent=2) + "\n")
        written.append(path)
    return written


def build(settings: Settings, sagemaker: Any, cfn: Any) -> list[Path]:
    package = choose_package(sagemaker, settings)
    outputs = stack_outputs(cfn, settings.bootstrap_stack)
    written = write_configs(settings, package, outputs)
    print(f"model package: {package.arn} (version {package.version}, created {package.created})")
    for path in written:
        print(f"  wrote {path}")
    if settings.github_output:
        with settings.github_output.open("a") as out:
            out.write(f"model_package_arn={package.arn}\n")
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--stage",
        action="extend",
        dest="stages",
        type=stage_names,
        required=True,
        help="a stage, or several separated by spaces (repeatable)",
    )
    parser.add_argument("--model-package-group", default=DEFAULT_GROUP)
    parser.add_argument(
        "--model-package-arn",
        type=model_package_arn,
        help="deploy this Approved package, not the newest (empty = the newest)",
    )
    parser.add_argument("--bootstrap-stack", default=DEFAULT_BOOTSTRAP_STACK)
    parser.add_argument("--params-dir", type=Path, default=Path("deploy/params"))
    parser.add_argument("--output-dir", type=Path, default=Path("build/deploy"))
    return parser


def settings_from(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Settings:
    args = _parser().parse_args(argv)
    github_output = environ.get("GITHUB_OUTPUT")
    return Settings(
        stages=tuple(args.stages),
        group=args.model_package_group,
        bootstrap_stack=args.bootstrap_stack,
        params_dir=args.params_dir,
        output_dir=args.output_dir,
        package_arn=args.model_package_arn or None,
        github_output=Path(github_output) if github_output else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = settings_from(argv, os.environ)

    def command() -> int:
        build(settings, client("sagemaker"), client("cloudformation"))
        return 0

    return run(command)


if __name__ == "__main__":
    sys.exit(main())
