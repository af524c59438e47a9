#!/usr/bin/env bash
# Provide the Dockerfile's base image when no registry can be reached: build a Debian minbase root
# file system with debootstrap from the mirror this machine's apt already uses, and docker-import it
# under the very name the Dockerfile's BASE_IMAGE names. Where the image exists or can be pulled,
# do nothing, so the Dockerfile stays the same everywhere.
set -euo pipefail

image=${1:?usage: build-base-image.sh IMAGE:TAG}
suite=${DEBIAN_SUITE:-bookworm}

if docker image inspect "$image" >/dev/null 2>&1; then
  exit 0
fi
if timeout 60 docker pull "$image" >/dev/null 2>&1; then
  exit 0
fi

apt_mirror() {
  # deb822 sources first (URIs: line), then one-line sources; skip security and update suites.
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
        | grep -v -- '-security' | head -n 1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
          | awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
          | grep -v -- '-security' | head -n 1 || true)
  fi
  echo "$uri"
}

mirror=$(apt_mirror)
if [ -z "$mirror" ]; then
  echo "Cannot pull $image and found no Debian mirror in the apt sources to build it from." >&2
  exit 1
fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "debootstrap is needed to build $image locally (apt-get install debootstrap)." >&2
  exit 1
}

rootfs=$(mktemp -d /tmp/base-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "Building $image from $mirror ($suite, minbase); this takes a minute or two..." >&2
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/tmp/debootstrap.log 2>&1 || {
  tail -n 20 /tmp/debootstrap.log >&2
  exit 1
}
# Trim like the official slim image: no apt lists, docs or man pages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
       "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
echo "Built $image locally." >&2
