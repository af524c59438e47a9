"""Docker objects this test run did not start, as a SageMaker user has them on the machine: exited
containers named and labelled like the SDK's local mode's, and a `sagemaker-local` network in use
by a running container. A test starts them, checks the suite leaves them exactly as they were,
and removes only them."""

from __future__ import annotations

import contextlib
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.models.containers import Container
from docker.models.networks import Network

from tests.integration.dockerutil import PROJECT_LABEL, WORKING_DIR_LABEL

LOCAL_MODE_NETWORK = "sagemaker-local"
#: Lets a person find these after a crashed run; no test filters on it.
FOREIGN_LABEL = "com.abalone-byom.foreign-fixture"


def local_mode_name() -> str:
    """A container name as local mode makes them, e.g. `05qvtt494r-algo-1-shziq`."""
    alphabet = string.ascii_lowercase + string.digits
    prefix, suffix = "".join(random.choices(alphabet, k=10)), "".join(random.choices(alphabet, k=5))
    return f"{prefix}-algo-1-{suffix}"


def _local_mode_project() -> str:
    """A compose project as a local-mode job has one: the name of its job folder in /tmp."""
    return "tmp" + "".join(random.choices(string.ascii_lowercase, k=8))


def _local_mode_labels() -> dict[str, str]:
    """The labels compose puts on a local-mode job's container."""
    project = _local_mode_project()
    return {PROJECT_LABEL: project, WORKING_DIR_LABEL: f"/tmp/{project}", FOREIGN_LABEL: "1"}


def _state(container: Container) -> tuple[Any, ...]:
    container.reload()
    state = container.attrs["State"]
    return (container.name, state["Status"], state["StartedAt"], state["FinishedAt"])


@dataclass
class ForeignObjects:
    client: docker.DockerClient
    network: Network
    network_created: bool
    containers: list[Container] = field(default_factory=list)
    states: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.containers]

    def start(self, image: str, command: list[str], **options: Any) -> Container:
        container = self.client.containers.run(
            image,
            entrypoint=command[:1],
            command=command[1:],
            name=local_mode_name(),
            labels=_local_mode_labels(),
            detach=True,
            **options,
        )
        self.containers.append(container)
        return container

    def snapshot(self) -> None:
        self.states = {c.id: _state(c) for c in self.containers}

    def changes(self) -> list[str]:
        """What differs from the snapshot: containers gone or restarted, the network gone or
        no longer holding the running container."""
        found = []
        for container in self.containers:
            try:
                state = _state(container)
            except docker.errors.NotFound:
                found.append(f"container {container.name} was removed")
                continue
            if state != self.states[container.id]:
                found.append(f"container {container.name}: {self.states[container.id]} -> {state}")
        try:
            self.network.reload()
        except docker.errors.NotFound:
            return [*found, f"network {LOCAL_MODE_NETWORK} was removed"]
        running = {c.id for c in self.containers if self.states[c.id][1] == "running"}
        if not running <= set(self.network.attrs.get("Containers") or {}):
            found.append(f"network {LOCAL_MODE_NETWORK} lost its running container")
        return found


def _local_mode_network(client: docker.DockerClient) -> tuple[Network, bool]:
    """The `sagemaker-local` network: the machine's own where it has one, else a new one
    labelled as an earlier local-mode job's compose left it (Compose v2 refuses to join a
    network of that name that compose did not create)."""
    with contextlib.suppress(docker.errors.NotFound):
        return client.networks.get(LOCAL_MODE_NETWORK), False
    labels = {
        PROJECT_LABEL: _local_mode_project(),
        "com.docker.compose.network": LOCAL_MODE_NETWORK,
        FOREIGN_LABEL: "1",
    }
    try:
        return client.networks.create(LOCAL_MODE_NETWORK, labels=labels), True
    except docker.errors.APIError:  # created meanwhile by someone else's local-mode run
        return client.networks.get(LOCAL_MODE_NETWORK), False


@contextlib.contextmanager
def foreign_objects(client: docker.DockerClient, image: str) -> Iterator[ForeignObjects]:
    """Two exited local-mode-like containers and one running on `sagemaker-local`; on exit,
    remove those three by id, and the network only if this created it and nothing else uses it."""
    network, created = _local_mode_network(client)
    objects = ForeignObjects(client, network, created)
    try:
        for _ in range(2):
            objects.start(image, ["true"], network_mode="none").wait(timeout=60)
        objects.start(image, ["sleep", "1800"], network=LOCAL_MODE_NETWORK)
        objects.snapshot()
        yield objects
    finally:
        for container in objects.containers:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        if created:
            with contextlib.suppress(docker.errors.APIError):  # in use by another's run
                network.remove()
