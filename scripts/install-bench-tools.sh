#!/usr/bin/env bash
# Install the benchmark's load generator (wrk, from Debian's packages). Idempotent: does nothing
# when wrk is already on PATH. Needs root and apt-get; elsewhere it says what to install.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "wrk (HTTP load generator) is not installed: install it (Debian/Ubuntu: apt-get install wrk)" >&2
  exit 1
fi

echo "Installing wrk from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends wrk >/dev/null
command -v wrk >/dev/null
