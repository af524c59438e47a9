"""scripts/build-base-image.sh, run for real with stand-ins for docker and debootstrap on PATH (a
real bootstrap takes minutes and a mirror): it checks the Release signature against Debian's
archive keyring, says so, and refuses to build when it cannot check. `make check-infra` runs
shellcheck on it."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "build-base-image.sh"
VALID = "I: Valid Release signature (key id 4D64FEC119C2029067D6E791F8D2585B8783D481)"

# Neither present locally nor pullable: the script goes on to build it.
DOCKER = """#!/bin/sh
case "$1" in
  image|pull) exit 1 ;;
  import) cat >/dev/null; exit 0 ;;
esac
exit 2
"""


def debootstrap(prints: str, status: int = 0) -> str:
    return f"""#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/debootstrap.args"
echo {shlex.quote(prints)}
exit {status}
"""


def run(tmp_path: Path, stub: str, keyring: Path) -> tuple[subprocess.CompletedProcess, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in (("docker", DOCKER), ("debootstrap", stub)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DEBIAN_KEYRING": str(keyring)}
    result = subprocess.run(
        ["bash", str(SCRIPT), "base-image-test:never-built"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, bin_dir / "debootstrap.args"


@pytest.fixture()
def keyring(tmp_path: Path) -> Path:
    path = tmp_path / "debian-archive-keyring.gpg"
    path.write_bytes(b"stand-in keyring")
    return path


def test_debootstrap_checks_the_release_signature_against_the_keyring(tmp_path, keyring):
    result, args_path = run(tmp_path, debootstrap(VALID), keyring)
    assert result.returncode == 0, result.stderr
    args = args_path.read_text().splitlines()
    assert f"--keyring={keyring}" in args
    assert "--force-check-gpg" in args
    assert "--no-check-gpg" not in args
    assert f"Verifying the Release signature against {keyring}." in result.stderr
    assert "Release signature verified: Valid Release signature (key id 4D64" in result.stderr
    assert "Built base-image-test:never-built locally." in result.stderr


def test_the_default_keyring_is_debians_archive_keyring():
    text = SCRIPT.read_text()
    assert "/usr/share/keyrings/debian-archive-keyring.gpg" in text
    assert "--no-check-gpg" not in text


def test_no_keyring_no_bootstrap(tmp_path):
    result, args_path = run(tmp_path, debootstrap(VALID), tmp_path / "missing.gpg")
    assert result.returncode == 1
    assert "Cannot verify the bookworm Release signature" in result.stderr
    assert "not building base-image-test:never-built unchecked" in result.stderr
    assert not args_path.exists()


def test_no_valid_signature_reported_no_image(tmp_path, keyring):
    result, args_path = run(tmp_path, debootstrap("I: Retrieving Release"), keyring)
    assert args_path.exists()
    assert result.returncode == 1
    assert "did not report a valid Release signature" in result.stderr
    assert "Built base-image-test" not in result.stderr


def test_a_bad_signature_fails_the_build(tmp_path, keyring):
    failure = "E: Invalid Release signature (key id 0123456789ABCDEF)"
    result, _ = run(tmp_path, debootstrap(failure, status=1), keyring)
    assert result.returncode == 1
    assert failure in result.stderr
