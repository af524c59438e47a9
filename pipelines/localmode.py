"""What the SDK's local mode needs to run this pipeline on a laptop, and no more.

Two gaps of sagemaker 3.27's local mode are bridged here, both small and both tested end to end:

- Two classes share the name LocalPipelineSession: the one in `pipeline_context` captures step
  arguments (a PipelineSession) but cannot run a pipeline; the one in `sagemaker.mlops.local`
  runs one but, given to a Processor, would start the job on the spot. `LocalRunSession`
  derives from both.
- Local mode reads a JsonGet's property file only from s3:// (its S3 URL parser rejects
  file://, and the error says "Invalid json path"). `_FileAwareExecutor` reads property files
  written to file:// outputs and leaves everything else to the SDK.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sagemaker.core.local.utils import get_using_dot_notation
from sagemaker.core.workflow.functions import JsonGet
from sagemaker.core.workflow.pipeline_context import LocalPipelineSession as _CapturingSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.local import LocalPipelineSession as _RunningSession
from sagemaker.mlops.local import pipeline as _local_pipeline

from pipelines.sessions import SDK_CONFIG


class LocalRunSession(_RunningSession, _CapturingSession):
    """Captures step arguments like a PipelineSession; runs pipelines in Docker like local mode."""

    def __init__(self, *, boto_session: Any, container_root: Path) -> None:
        super().__init__(boto_session=boto_session)
        # NB: the local session's constructor takes no SDK config: set it as the others get it.
        self.sagemaker_config = SDK_CONFIG
        # Job folders (with their docker-compose.yaml) go here instead of the system temp dir.
        self.config = {"local": {"container_root": str(container_root)}}

    def start_pipeline_execution(self, PipelineName: str, **kwargs: Any) -> Any:  # boto names
        """Run the pipeline (synchronously) and return the local execution."""
        with _executor_reading_file_outputs():
            return super().start_pipeline_execution(PipelineName=PipelineName, **kwargs)


class _FileAwareExecutor(_local_pipeline.LocalPipelineExecutor):
    """The SDK's local executor, reading property files from file:// outputs too."""

    def _evaluate_json_get_function(self, pipeline_variable: JsonGet, step_name: str) -> Any:
        path = self._local_property_file(pipeline_variable)
        if path is None:
            return super()._evaluate_json_get_function(pipeline_variable, step_name)
        json_path = pipeline_variable.json_path
        try:
            return get_using_dot_notation(json.loads(path.read_text()), json_path)
        except (OSError, ValueError) as exc:
            # update_step_failure raises StepExecutionException: the step fails with this message.
            self.execution.update_step_failure(
                step_name, f"cannot read {json_path} in {path}: {exc}"
            )

    def _local_property_file(self, json_get: JsonGet) -> Path | None:
        """The local path of the JsonGet's property file, or None when it is not file://."""
        property_file = json_get.property_file
        if isinstance(property_file, str):
            step = self.pipeline_dag.step_map[json_get.step_name]
            property_file = next(f for f in step.property_files if f.name == property_file)
        if not isinstance(property_file, PropertyFile):
            return None
        properties = self.execution.step_execution[json_get.step_name].properties
        outputs = properties.get("ProcessingOutputConfig", {}).get("Outputs", {})
        uri = outputs.get(property_file.output_name, {}).get("S3Output", {}).get("S3Uri", "")
        if not uri.startswith("file://"):
            return None
        return Path(urlparse(uri).path) / property_file.path


@contextmanager
def _executor_reading_file_outputs() -> Iterator[None]:
    """Let the local pipeline pick `_FileAwareExecutor` (it looks the class up at each start)."""
    original = _local_pipeline.LocalPipelineExecutor
    _local_pipeline.LocalPipelineExecutor = _FileAwareExecutor
    try:
        yield
    finally:
        _local_pipeline.LocalPipelineExecutor = original
