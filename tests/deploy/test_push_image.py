"""deploy/push_image.sh: a real `docker push` of the built image to Debian's docker-registry on
127.0.0.1, and the ECR path's "already pushed" answer against moto_server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devtools.ports import free_port
from tests.deploy.conftest import REPO
from tests.integration.dockerutil import poll

pytestmark = pytest.mark.integration
REGISTRY_BIN = "/usr/bin/docker-registry"
SCRIPT = REPO / "deploy" / "push_image.sh"
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry (distribution 2.8) on a free 127.0.0.1 port, in a temp dir."""
    if not Path(REGISTRY_BIN).exists():
        pytest.fail("docker-registry is not installed: run `make deploy-tools`", pytrace=False)
    work = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (work / "registry.log").open("wb")
    server = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=log)

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError((work / "registry.log").read_text()[-2000:])
        try:
            return requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        poll(answers, 30, "docker-registry to answer")
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def push(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=REPO,
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def outputs(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines())


def git_tag() -> str:
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return sha.stdout.strip() + ("-dirty" if dirty else "")


def test_push_tags_by_git_sha_and_prints_the_digest_the_registry_holds(
    image,
    registry,
    docker_client,
    tmp_path,
):
    if shutil.which("git") is None:
        pytest.fail("git is needed to tag by commit", pytrace=False)
    github_output = tmp_path / "github_output"
    result = push({"IMAGE": image, "REGISTRY": registry, "GITHUB_OUTPUT": str(github_output)})
    assert result.returncode == 0, result.stderr
    tag = git_tag()
    repository = f"{registry}/abalone-byom"
    printed = outputs(result.stdout)
    assert printed["image_tag_uri"] == f"{repository}:{tag}"
    assert printed["image_uri"] == f"{repository}@{printed['digest']}"
    head = requests.head(
        f"http://{registry}/v2/abalone-byom/manifests/{tag}",
        headers={"Accept": MANIFEST_TYPES},
        timeout=10,
    )
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == printed["digest"]
    assert outputs(github_output.read_text()) == printed
    docker_client.images.remove(f"{repository}:{tag}")


def test_ecr_tag_already_pushed_is_not_pushed_again(image, boto, aws):
    ecr = boto("ecr")
    ecr.create_repository(repositoryName="abalone-byom", imageTagMutability="IMMUTABLE")
    manifest = (
        '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'
    )
    ecr.put_image(repositoryName="abalone-byom", imageManifest=manifest, imageTag="abc123")
    digest = ecr.describe_images(repositoryName="abalone-byom")["imageDetails"][0]["imageDigest"]
    result = push({"IMAGE": image, "REGISTRY": "", "TAG": "abc123"})
    assert result.returncode == 0, result.stderr
    assert "already in ECR" in result.stderr
    repository = "123456789012.dkr.ecr.us-east-1.amazonaws.com/abalone-byom"
    assert outputs(result.stdout) == {
        "image_uri": f"{repository}@{digest}",
        "image_tag_uri": f"{repository}:abc123",
        "digest": digest,
    }


def test_a_missing_image_is_a_clear_error():
    result = push({"IMAGE": "abalone-byom:no-such-tag", "REGISTRY": "127.0.0.1:1"})
    assert result.returncode == 1
    assert "image abalone-byom:no-such-tag not found; run make build" in result.stderr
    assert result.stdout == ""
