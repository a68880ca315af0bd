#!/usr/bin/env bash
# Starts a server binary on a loopback port chosen at run time, runs a
# client-library test program against it, and stops the server.
#
#   usage: run-with-server.sh SERVER_BINARY COMMAND [ARGS...]
#
# COMMAND finds the server in BEANSTALK_HOST and BEANSTALK_PORT. The exit
# status is COMMAND's, or 1 when the server could not start or died during
# the run (a client test must not be able to pass by crashing the server).
# COMMAND is bounded to 120 s; the server is always killed on exit.
set -euo pipefail

HOST=127.0.0.1

die() {
  echo "run-with-server: $*" >&2
  exit 1
}

[[ $# -ge 2 ]] || die "usage: $0 SERVER_BINARY COMMAND [ARGS...]"
server_bin="$1"
shift
[[ -x "$server_bin" ]] || die "server binary not executable: $server_bin"

server_log="$(mktemp /tmp/client-test-server.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$server_log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# A port that was free a moment ago; retried if another process takes it
# between the probe and the server's bind.
for attempt in 1 2 3 4 5; do
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$server_bin" -l "$HOST" -p "$port" >"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 250); do
    kill -0 "$server_pid" 2>/dev/null || break
    if port_open "$port"; then break 2; fi
    sleep 0.02
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  [[ $attempt -lt 5 ]] || { cat "$server_log" >&2; die "server did not start on $HOST"; }
done

echo "run-with-server: $server_bin on $HOST:$port"
set +e
BEANSTALK_HOST="$HOST" BEANSTALK_PORT="$port" timeout 120 "$@"
status=$?
set -e

if ! kill -0 "$server_pid" 2>/dev/null; then
  cat "$server_log" >&2
  die "the server died during the run"
fi
[[ $status -ne 124 ]] || echo "run-with-server: the client test timed out after 120 s" >&2
exit "$status"
