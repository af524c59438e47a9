#!/usr/bin/env bash
# Fail with a clear message when a port that `make up` publishes on 127.0.0.1 is taken, unless
# the compose project itself holds it (then `up` keeps or replaces its own containers).
# Usage: scripts/ports-free.sh PROJECT NAME=PORT...   e.g. abalone GATEWAY_PORT=8080 ENDPOINT_PORT=8081
set -euo pipefail

project=$1
shift
python=${PYTHON_BOOT:-python3}
# Exit 0 when 127.0.0.1:PORT can be bound (as docker-proxy binds it: SO_REUSEADDR), else 1.
bindable='
import socket, sys
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
'
free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

status=0
for pair in "$@"; do
  name=${pair%%=*}
  port=${pair#*=}
  if ! [[ $port =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
    echo "$name='$port' is not a port number (1-65535)." >&2
    status=2
    continue
  fi
  if [ -n "$(docker ps -q --filter "label=com.docker.compose.project=$project" \
      --filter "publish=$port" 2>/dev/null)" ]; then
    continue
  fi
  if ! "$python" -c "$bindable" "$port"; then
    echo "Port $port ($name) on 127.0.0.1 is already in use by another program." >&2
    echo "  Choose a free one, e.g.: make up $name=$(free_port)   (make run takes it too)" >&2
    status=1
  fi
done
exit "$status"
