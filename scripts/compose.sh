#!/usr/bin/env bash
# Run Docker Compose as this machine has it: Compose v2 (`docker compose`, the CLI plugin) where
# it answers with a version 2 or later, else Compose v1 (`docker-compose`). The same order and the
# same version test as the SageMaker SDK's local mode, so the project takes down with the compose
# that local mode brought up. The one place the project chooses: the Makefile, pipelines/local.py
# and the tests all run compose through this script.
# Usage: scripts/compose.sh ARGS...   (the arguments are compose's, e.g. -p abalone up -d)
set -euo pipefail

if version=$(docker compose version 2>/dev/null) \
    && [[ $version =~ version[[:space:]]+v?([0-9]+) ]] && ((BASH_REMATCH[1] >= 2)); then
  exec docker compose "$@"
fi
if command -v docker-compose >/dev/null 2>&1; then
  exec docker-compose "$@"
fi
echo "Docker Compose not found: neither 'docker compose' (v2) nor 'docker-compose' (v1) runs." >&2
echo "Install one (Docker's compose plugin, or Debian's docker-compose package)." >&2
exit 127
