#!/usr/bin/env bash
# Runs the test suite that ships inside the `fivebeans` npm package (a Node.js
# beanstalk client) against a server binary.
#
#   usage: run-fivebeans.sh SERVER_BINARY
#
# The suite hard-codes 127.0.0.1:11300, so the server is started there; the
# script fails at once if that port is already taken. The package and its
# development dependencies (mocha, must, ...) are installed with npm into a
# cache directory, $FIVEBEANS_CACHE (default /tmp/fivebeans-cache-$UID), and
# reused on later runs.
#
# One test is skipped by name: "emits the error event on failure" expects
# err.errno == 'ECONNREFUSED', but Node 20 reports -111, so it fails against
# any server.
#
# The last line printed is "fivebeans: N passed, M failed". The exit status
# is non-zero when a test failed or the suite could not run. The server is
# always killed on exit.
set -euo pipefail

FIVEBEANS_VERSION="${FIVEBEANS_VERSION:-1.5.0}"
HOST=127.0.0.1
PORT=11300
SKIP_TEST='emits the error event on failure'

die() {
  echo "run-fivebeans: $*" >&2
  echo "fivebeans: 0 passed, 1 failed"
  exit 1
}

[[ $# -eq 1 ]] || die "usage: $0 SERVER_BINARY"
server_bin="$1"
[[ -x "$server_bin" ]] || die "server binary not executable: $server_bin"
command -v npm >/dev/null || die "npm not found"
command -v node >/dev/null || die "node not found"

cache="${FIVEBEANS_CACHE:-/tmp/fivebeans-cache-$(id -u)}"
pkg="$cache/fivebeans-$FIVEBEANS_VERSION/package"
stamp="$pkg/.installed"

# ---------------------------------------------------------------- install
if [[ ! -f "$stamp" ]]; then
  echo "run-fivebeans: installing fivebeans@$FIVEBEANS_VERSION into $cache"
  rm -rf "$cache/fivebeans-$FIVEBEANS_VERSION"
  mkdir -p "$cache/fivebeans-$FIVEBEANS_VERSION"
  (
    cd "$cache/fivebeans-$FIVEBEANS_VERSION"
    npm pack --silent "fivebeans@$FIVEBEANS_VERSION" >/dev/null
    tar xzf "fivebeans-$FIVEBEANS_VERSION.tgz"
    cd package
    # Runtime and development dependencies; no lifecycle scripts.
    npm install --no-audit --no-fund --ignore-scripts --no-package-lock \
      --loglevel=error >/dev/null
  ) || die "npm install failed"
  [[ -x "$pkg/node_modules/.bin/mocha" ]] || die "mocha missing after npm install"
  touch "$stamp"
fi

# ---------------------------------------------------------------- server
port_busy() {
  (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

if port_busy; then
  die "port $HOST:$PORT is already in use; stop whatever listens there first"
fi

server_log="$(mktemp /tmp/fivebeans-server.XXXXXX)"
mocha_out="$(mktemp /tmp/fivebeans-mocha.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$server_log" "$mocha_out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$server_bin" -l "$HOST" -p "$PORT" >"$server_log" 2>&1 &
server_pid=$!

ready=0
for _ in $(seq 1 250); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$server_log" >&2
    die "server exited during start-up"
  fi
  if port_busy; then
    ready=1
    break
  fi
  sleep 0.02
done
[[ $ready -eq 1 ]] || die "server did not accept connections on $HOST:$PORT within 5 s"

# ---------------------------------------------------------------- tests
echo "run-fivebeans: running fivebeans@$FIVEBEANS_VERSION tests against $server_bin"
set +e
(
  cd "$pkg"
  timeout 300 ./node_modules/.bin/mocha -t 8000 -R spec \
    --grep "$SKIP_TEST" --invert test/
) 2>&1 | tee "$mocha_out"
mocha_status=${PIPESTATUS[0]}
set -e

# Mocha prints "  N passing (Ts)" and, when there are failures, "  M failing".
strip_colors() { sed 's/\x1b\[[0-9;]*m//g' "$mocha_out"; }
passed="$(strip_colors | sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' | tail -1)"
failed="$(strip_colors | sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' | tail -1)"
passed="${passed:-0}"
failed="${failed:-0}"

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "run-fivebeans: the server died during the tests" >&2
  failed=$((failed + 1))
fi
if [[ "$mocha_status" -ne 0 && "$failed" -eq 0 ]]; then
  echo "run-fivebeans: mocha exited with status $mocha_status" >&2
  failed=1
fi
if [[ "$passed" -eq 0 && "$failed" -eq 0 ]]; then
  echo "run-fivebeans: no test ran" >&2
  failed=1
fi

echo "fivebeans: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
