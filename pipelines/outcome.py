"""What a local pipeline run did with its model: recorded, the incumbent's again, or stopped.

Exit codes of `python -m pipelines.local`:
    0  the gate passed and the model was recorded as the next local version, or the model is
       byte-identical to the incumbent's (same data, same code) and nothing new was recorded;
    1  the run failed (a job, or the gate with no recorded model to fall back on);
    3  EXIT_KEPT: the gate stopped the model and the incumbent stays the newest version, which
       `make up` serves: `make pipeline-local` (and so `make run`) treat it as success, since
       keeping the better model is the gate doing its job.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pipelines import registry

if TYPE_CHECKING:
    from pipelines.local import LocalRun, LocalSettings

EXIT_KEPT: Final = 3


def evaluation_of(run: LocalRun) -> dict[str, Any]:
    """The Evaluate step's report (evaluation.json) of a run."""
    from pipelines.steps import EVALUATE, EVALUATION
    from training import report

    path = run.output_path(EVALUATE, EVALUATION) / report.REPORT_FILENAME
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def record_gated_model(run: LocalRun, settings: LocalSettings) -> Path:
    """Record the model of a run whose gate passed as the next local registry version."""
    from pipelines import parameters as p
    from pipelines.steps import EVALUATE, EVALUATION
    from training import report

    evaluation = run.output_path(EVALUATE, EVALUATION) / report.REPORT_FILENAME
    gate = evaluation_of(run)["gate"]
    archive = run.model_archive
    facts = {
        "model_package_group": "local",
        "approval_status": run.parameters[p.MODEL_APPROVAL_STATUS],
        "execution_id": run.execution_id,
        "image_uri": settings.image,
        "input_data_uri": run.parameters[p.INPUT_DATA_URI],
        "model_data": archive.as_uri(),
        "rmse": gate["rmse"],
        "rmse_threshold": run.parameters[p.RMSE_THRESHOLD],
        "incumbent_version": run.incumbent_version,
        "incumbent_rmse": gate["incumbent_rmse"],
        "rmse_tolerance": gate["tolerance"],
        "registered_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return registry.record(
        settings.registry_dir, model_archive=archive, evaluation=evaluation, facts=facts
    )


def same_as_incumbent(run: LocalRun, settings: LocalSettings) -> bool:
    """Whether the run's model.tar.gz is byte for byte the incumbent's."""
    if run.incumbent_version is None:
        return False
    recorded = settings.registry_dir / str(run.incumbent_version) / registry.MODEL_ARCHIVE
    return run.model_archive.read_bytes() == recorded.read_bytes()


def gate_line(run: LocalRun) -> str:
    """The gate's two checks with the numbers, for a person."""
    from pipelines import parameters as p

    gate = evaluation_of(run)["gate"]
    threshold = run.parameters[p.RMSE_THRESHOLD]
    line = f"RMSE {gate['rmse']:.4f} <= {threshold}"
    if run.incumbent_version is None:
        return f"{line}; {gate['relative_check']}"
    relative = (
        f"{gate['rmse_limit']:.4f} (version {run.incumbent_version}: {gate['relative_check']})"
    )
    return f"{line} and <= {relative}"


def report_outcome(run: LocalRun, settings: LocalSettings) -> int:
    """Record a gated model (unless it is the incumbent's again), say what happened; the exit
    code (see the module doc)."""
    incumbent = run.incumbent_version
    print(f"incumbent: {'none' if incumbent is None else f'local version {incumbent}'}")
    if not run.gate_passed:
        print(f"not recorded: {run.failure_reason}")
        if run.gate_stopped and run.incumbent_version is not None:
            print(
                f"version {run.incumbent_version} stays the newest recorded model "
                f"(make up serves it): {registry_model_dir(settings, run.incumbent_version)}"
            )
            return EXIT_KEPT
        return 1
    print(f"gate passed: {gate_line(run)}")
    if same_as_incumbent(run, settings):
        print(
            f"the same model as version {run.incumbent_version} (identical model.tar.gz): "
            f"nothing new recorded; make up serves version {run.incumbent_version}"
        )
        return 0
    version_dir = record_gated_model(run, settings)
    recorded = registry.read_version(version_dir)
    model_dir = version_dir / registry.MODEL_DIR
    print(f"recorded as local version {recorded['version']}: {model_dir}")
    print(f"serve it: make up MODEL_DIR={model_dir}")
    return 0


def registry_model_dir(settings: LocalSettings, version: int) -> Path:
    return settings.registry_dir / str(version) / registry.MODEL_DIR
