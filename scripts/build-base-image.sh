#!/usr/bin/env bash
# Provide the Dockerfile's base image when no registry can be reached: build a Debian minbase root
# file system with debootstrap from the mirror this machine's apt already uses, and docker-import it
# under the very name the Dockerfile's BASE_IMAGE names. Where the image exists or can be pulled,
# do nothing, so the Dockerfile stays the same everywhere.
#
# The suite's Release file must carry a valid signature from Debian's archive keyring (package
# debian-archive-keyring): it holds the checksums of the package lists, which hold those of every
# .deb, so it is what makes the downloaded packages trustworthy over a plain-http mirror. Without
# the keyring or gpgv the script stops; it never falls back to an unchecked bootstrap.
set -euo pipefail

image=${1:?usage: build-base-image.sh IMAGE:TAG}
suite=${DEBIAN_SUITE:-bookworm}
keyring=${DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}

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
if [ ! -r "$keyring" ] || ! command -v gpgv >/dev/null 2>&1; then
  echo "Cannot verify the $suite Release signature: need the keyring $keyring and gpgv" \
       "(apt-get install debian-archive-keyring gpgv); not building $image unchecked." >&2
  exit 1
fi

rootfs=$(mktemp -d /tmp/base-rootfs.XXXXXX)
log="$rootfs.log"
trap 'rm -rf "$rootfs" "$log"' EXIT
echo "Building $image from $mirror ($suite, minbase); this takes a minute or two..." >&2
echo "Verifying the Release signature against $keyring." >&2
# --force-check-gpg: abort rather than warn and go on when the signature cannot be checked.
debootstrap --keyring="$keyring" --force-check-gpg --variant=minbase \
    "$suite" "$rootfs" "$mirror" >"$log" 2>&1 || {
  tail -n 20 "$log" >&2
  exit 1
}
# debootstrap's own line, e.g. "I: Valid Release signature (key id 4CB5...)"; no line, no image.
verified=$(grep -m 1 'Valid Release signature' "$log" || true)
if [ -z "$verified" ]; then
  echo "debootstrap did not report a valid Release signature; not importing $image." >&2
  tail -n 20 "$log" >&2
  exit 1
fi
echo "Release signature verified: ${verified#I: }" >&2
# Trim like the official slim image: no apt lists, docs or man pages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
       "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/cache/apt/archives/*.deb
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
echo "Built $image locally." >&2
