#!/usr/bin/env bash
# Download the image's locked wheels (with their hashes) on the host, for the image's Python and
# platform, so `docker build` installs them offline: no pip TLS or proxy trouble inside the build.
set -euo pipefail
lock=${1:?usage: wheelhouse.sh LOCKFILE DEST}
dest=${2:?usage: wheelhouse.sh LOCKFILE DEST}
arch=$(uname -m)
python=${PYTHON:-python3}

mkdir -p "$dest"
"$python" -m pip download --quiet --disable-pip-version-check \
  --require-hashes --only-binary=:all: --no-deps \
  --python-version 3.11 --implementation cp --abi cp311 \
  --platform "manylinux_2_28_${arch}" --platform "manylinux_2_17_${arch}" \
  --platform "manylinux2014_${arch}" --platform any \
  -d "$dest" -r "$lock"
