"""The suite's Docker tests among objects they did not create: exited containers named like the
SageMaker SDK's local mode's and a `sagemaker-local` network in use by a running container (as a
SageMaker user's machine has them). Each leftover check must pass with them present, look only at
what its own test created, and leave them exactly as they were."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from deploy.invoke import RAW_ROW, invoke, runtime_client
from devtools.containers import TEST_RUN_ID, TEST_RUN_LABEL, serving_containers
from pipelines.local import remove_job_containers
from tests.integration.dockerutil import (
    COMPOSE,
    PROJECT_LABEL,
    WORKING_DIR_LABEL,
    compose_containers_under,
    compose_stack,
    project_leftovers,
    removed,
    watch_created_containers,
)
from tests.integration.foreign import LOCAL_MODE_NETWORK

pytestmark = pytest.mark.integration

#: A job's compose file as the SDK's local mode writes it (one host on the shared network).
LOCAL_MODE_JOB = """\
version: "2.3"
services:
  algo-1-{suffix}:
    image: {image}
    container_name: {name}
    entrypoint: ["true"]
    networks:
      {network}:
        aliases: [algo-1-{suffix}]
networks:
  {network}:
    name: {network}
"""


def test_the_foreign_containers_are_what_a_host_wide_check_trips_on(docker_client, foreign):
    names = [c.name for c in docker_client.containers.list(all=True, sparse=False)]
    assert set(foreign.names) <= {n for n in names if "-algo-" in n}
    assert [c.status for c in foreign.containers] == ["exited", "exited", "running"]
    foreign.network.reload()
    assert foreign.containers[2].id in foreign.network.attrs["Containers"]


def test_serving_containers_are_removed_by_their_own_ids(
    docker_client, image, real_model_dir, foreign
):
    with (
        watch_created_containers(docker_client) as created,
        serving_containers(docker_client, image, real_model_dir) as start,
    ):
        assert start().ping_status() == 200
    ours = [c["id"] for c in created if c.get(TEST_RUN_LABEL) == TEST_RUN_ID]
    assert len(ours) == 1
    assert removed(docker_client, ours[0])
    assert foreign.changes() == []


def test_a_compose_stack_leaves_nothing_of_its_project(
    docker_client, image, real_model_dir, foreign
):
    project = f"abalone-foreign-{TEST_RUN_ID[:12]}"
    with (
        watch_created_containers(docker_client) as created,
        compose_stack(image, real_model_dir, project) as url,
    ):
        assert 1 < float(invoke(runtime_client(url), "abalone-staging", RAW_ROW)) < 30
    ours = [c["id"] for c in created if c.get(PROJECT_LABEL) == project]
    assert len(ours) == 2  # endpoint and gateway
    assert all(removed(docker_client, container_id) for container_id in ours)
    assert project_leftovers(docker_client, project) == []
    assert foreign.changes() == []


def test_local_mode_cleanup_removes_its_job_containers_only(
    docker_client, image, tmp_path, foreign
):
    jobs_dir = tmp_path / ".jobs"
    jobs_dir.mkdir()
    job_dir = Path(tempfile.mkdtemp(dir=jobs_dir))
    name = f"{TEST_RUN_ID[:10]}-algo-1-abcde"
    job = LOCAL_MODE_JOB.format(suffix="abcde", image=image, name=name, network=LOCAL_MODE_NETWORK)
    (job_dir / "docker-compose.yaml").write_text(job)
    with watch_created_containers(docker_client) as created:
        up = [*COMPOSE, "-f", str(job_dir / "docker-compose.yaml"), "up"]
        ran = subprocess.run([*up, "--abort-on-container-exit"], capture_output=True, timeout=120)
        assert ran.returncode == 0, ran.stderr.decode(errors="replace")
        assert compose_containers_under(docker_client, jobs_dir) == [name]
        remove_job_containers(jobs_dir)
    ours = [c for c in created if Path(c.get(WORKING_DIR_LABEL, "/")).is_relative_to(jobs_dir)]
    assert [c["name"] for c in ours] == [name]
    assert removed(docker_client, ours[0]["id"])
    assert compose_containers_under(docker_client, tmp_path) == []
    assert not jobs_dir.exists()
    assert foreign.changes() == []
