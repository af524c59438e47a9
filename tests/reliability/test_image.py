"""What the final image holds: no compilers, pip, package caches, tests or secrets; and its
Python dependencies are installed only from locked, hash-checked wheels."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: Run inside the image: a JSON report of everything the checks below look at.
SURVEY = r"""
import importlib.util, json, os, shutil
SECRET_NAMES = {"id_rsa", "id_ed25519", "credentials", ".netrc", ".pypirc", ".env", ".git",
                ".npmrc", ".dockercfg", "config.json"}
found = []
for root, dirs, files in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/dev", "/usr/share/doc")):
        dirs[:] = []
        continue
    for name in dirs + files:
        if name in SECRET_NAMES or name.endswith((".pem", ".key", ".p12")):
            found.append(os.path.join(root, name))
print(json.dumps({
    "tools": {t: shutil.which(t) for t in ("gcc", "cc", "c++", "g++", "clang", "make", "ld",
                                            "as", "pip", "pip3", "curl", "wget")},
    "modules": {m: importlib.util.find_spec(m) is not None
                for m in ("pip", "setuptools", "ensurepip")},
    "apt_lists": [n for n in os.listdir("/var/lib/apt/lists") if n not in ("lock", "partial")],
    "apt_cache": [os.path.join(r, f) for r, _, fs in os.walk("/var/cache/apt") for f in fs
                  if f != "lock"],
    "program": sorted(os.listdir("/opt/program")),
    "tests_dirs": [os.path.join(r, d) for r, ds, _ in os.walk("/opt") for d in ds
                   if d == "tests" or (d == "test" and r.startswith("/opt/program"))],
    "secrets": found,
}))
"""


@pytest.mark.integration
def test_final_image_holds_no_build_tools_caches_tests_or_secrets(docker_client, image):
    output = docker_client.containers.run(
        image, ["-c", SURVEY], entrypoint="python", network_mode="none", remove=True
    )
    survey = json.loads(output)
    assert not {tool: path for tool, path in survey["tools"].items() if path}
    assert not any(survey["modules"].values()), survey["modules"]
    assert survey["apt_lists"] == [] and survey["apt_cache"] == []
    assert survey["program"] == ["container", "monitoring", "training"]  # no tests, deploy, .git
    assert survey["tests_dirs"] == []
    assert survey["secrets"] == []


@pytest.mark.integration
def test_image_config_carries_no_secrets(docker_client, image):
    config = docker_client.images.get(image).attrs["Config"]
    suspicious = re.compile(r"SECRET|TOKEN|PASSWORD|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
    assert not [env for env in config.get("Env") or [] if suspicious.search(env.split("=")[0])]


def test_dependencies_are_installed_with_hash_checking():
    dockerfile = (REPO / "container" / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "--no-index" in dockerfile
    lock = (REPO / "requirements" / "image.txt").read_text()
    pins = re.findall(
        r"^([A-Za-z0-9_.\-\[\]]+)==\S+((?:\s*\\\s*\n\s*--hash=sha256:[0-9a-f]{64})+)",
        lock,
        re.MULTILINE,
    )
    requirements = [ln for ln in lock.splitlines() if re.match(r"^[A-Za-z0-9]", ln)]
    assert requirements and len(pins) == len(requirements), "every locked wheel has a sha256"
