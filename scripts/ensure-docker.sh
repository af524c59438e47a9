#!/usr/bin/env bash
# Make sure a Docker engine answers. On Debian as root, install Debian's engine, debootstrap and,
# where no Compose runs (v2 plugin or v1, see compose.sh), Debian's docker-compose, and start
# dockerd in the background; elsewhere say what to install and fail.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "No Docker engine answers 'docker info'." >&2
  echo "Install Docker (engine + compose) and start it, then run this again." >&2
  exit 1
fi

packages=(docker.io debootstrap)
bash "$(dirname "$0")/compose.sh" version >/dev/null 2>&1 || packages+=(docker-compose)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" iptables ca-certificates >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "Starting dockerd in the background (log: /var/log/dockerd.log)..." >&2
  nohup "$(command -v dockerd || echo /usr/sbin/dockerd)" >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "dockerd did not come up within 60 s; see /var/log/dockerd.log" >&2
tail -n 20 /var/log/dockerd.log >&2 || true
exit 1
