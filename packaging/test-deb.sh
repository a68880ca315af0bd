#!/usr/bin/env bash
# End-to-end test of the Debian package: build it, install it, run the
# installed server on a spare loopback port, put and reserve a job, stop it,
# and remove the package again.
#
#   packaging/test-deb.sh [OUTDIR]        (needs root; default OUTDIR build/deb)
#
# It changes the machine's packages: Debian's reference "beanstalkd" package,
# if installed, is replaced by ours (Conflicts/Replaces) while the test runs
# and reinstalled at the end, even on failure. Do not run it while other tests
# use /usr/bin/beanstalkd. Environment: SKIP_BUILD=1 reuses the .deb already
# in OUTDIR; KEEP_INSTALLED=1 leaves our package installed.
set -euo pipefail

pkg=beanstalkd-cpp
ref=beanstalkd
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
outdir=${1:-$root/build/deb}
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n=== %s\n' "$*"; }
fail() { echo "test-deb.sh: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages)"

# One run at a time: the test swaps system packages.
exec 9>/var/lock/beanstalkd-test-deb.lock
flock -w 600 9 || fail "another test-deb.sh holds /var/lock/beanstalkd-test-deb.lock"

step "installing build tools"
tools=(dpkg-dev debhelper fakeroot build-essential python3)
apt-get install -y -q --no-install-recommends "${tools[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${tools[@]}" >/dev/null; }
py=$(command -v /usr/bin/python3 || command -v python3) || fail "python3 missing"

version=$(sed -n 's/^[[:space:]]*project([[:space:]]*beanstalkd[[:space:]]\{1,\}VERSION[[:space:]]\{1,\}\([0-9][0-9.]*\).*/\1/p' \
    "$root/CMakeLists.txt" | head -n 1)
[ -n "$version" ] || fail "no project version in CMakeLists.txt"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    step "building the package (packaging/build-deb.sh)"
    rm -f "$outdir"/${pkg}_*.deb "$outdir"/${pkg}-dbgsym_*.deb
    "$root/packaging/build-deb.sh" --install-deps "$outdir"
fi
shopt -s nullglob
debs=("$outdir"/"${pkg}_${version}"*_*.deb)
[ ${#debs[@]} -gt 0 ] || fail "no ${pkg}_${version}*.deb in $outdir"
deb=${debs[0]}

step "package contents: dpkg -c $(basename "$deb")"
dpkg -I "$deb" | sed -n '/Package:/,$p'
dpkg -c "$deb"
contents=$(dpkg -c "$deb" | awk '{print $6}')
for want in ./usr/bin/beanstalkd ./usr/share/man/man1/beanstalkd.1.gz ./etc/default/beanstalkd \
            'beanstalkd.service$' 'beanstalkd.socket$' ./usr/share/doc/$pkg/copyright; do
    grep -q -- "$want" <<<"$contents" || fail "package lacks $want"
done

# --- remember the reference package, restore it at exit --------------------
ref_status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$ref" 2>/dev/null || true)
ref_was_installed=0
[[ "$ref_status" == ii* ]] && ref_was_installed=1
ref_deb=""
if [ "$ref_was_installed" = 1 ]; then
    ref_version=$(dpkg-query -W -f='${Version}' "$ref")
    cached=(/var/cache/apt/archives/"${ref}_${ref_version//:/%3a}"_*.deb)
    [ ${#cached[@]} -eq 0 ] || ref_deb=${cached[0]}
    echo "reference package $ref $ref_version is installed; it will be restored${ref_deb:+ from $ref_deb}"
fi

server_pid=""
workdir=$(mktemp -d)
chmod 0755 "$workdir"
restore() {
    local rc=$?
    set +e
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null
    fi
    if [ "${KEEP_INSTALLED:-0}" != 1 ]; then
        step "removing $pkg and restoring the previous state"
        if dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^[ir]'; then
            dpkg --purge "$pkg" || rc=1
        fi
        if [ "$ref_was_installed" = 1 ]; then
            # Purge what is left of the reference (its conffiles) so that a
            # reinstall restores them all.
            if dpkg-query -W -f='${db:Status-Abbrev}' "$ref" 2>/dev/null | grep -q '^rc'; then
                dpkg --purge "$ref" || rc=1
            fi
            if [ -n "$ref_deb" ]; then
                dpkg -i "$ref_deb" || apt-get install -y -q "$ref" || rc=1
            else
                apt-get install -y -q "$ref" || { apt-get update -q && apt-get install -y -q "$ref"; } || rc=1
            fi
            if [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$ref" 2>/dev/null)" == ii* ]]; then
                echo "restored $ref: $(/usr/bin/beanstalkd -v 2>&1 | head -n 1)"
            else
                echo "test-deb.sh: FAIL: could not reinstall the reference package $ref" >&2
                rc=1
            fi
        fi
    fi
    rm -rf "$workdir"
    if [ "$rc" = 0 ]; then echo "test-deb.sh: PASS"; else echo "test-deb.sh: FAILED (status $rc)" >&2; fi
    exit "$rc"
}
trap restore EXIT

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb"
[[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg")" == ii* ]] || fail "$pkg is not installed after dpkg -i"
owner=$(dpkg -S /usr/bin/beanstalkd | cut -d: -f1)
[ "$owner" = "$pkg" ] || fail "/usr/bin/beanstalkd belongs to $owner, not $pkg"
getent passwd beanstalkd >/dev/null || fail "postinst did not create the beanstalkd user"
getent group beanstalkd >/dev/null || fail "postinst did not create the beanstalkd group"
[ -d /var/lib/beanstalkd ] || fail "/var/lib/beanstalkd missing"
grep -q '^BEANSTALKD_LISTEN_PORT=11300' /etc/default/beanstalkd || fail "/etc/default/beanstalkd is not ours"
man -w beanstalkd >/dev/null 2>&1 || [ -f /usr/share/man/man1/beanstalkd.1.gz ] || fail "man page not installed"

step "installed binary"
/usr/bin/beanstalkd -v
/usr/bin/beanstalkd -v 2>&1 | grep -qF "$version" || fail "beanstalkd -v does not print $version"

# --- run the installed server ---------------------------------------------
free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_server() { # args: extra options
    port=$(free_port)
    /usr/bin/beanstalkd -l 127.0.0.1 -p "$port" "$@" >"$workdir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        if "$py" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$port" 2>/dev/null; then
            echo "server pid $server_pid listening on 127.0.0.1:$port ($*)"
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || { cat "$workdir/server.log"; fail "server exited during start-up"; }
        sleep 0.1
    done
    cat "$workdir/server.log"
    fail "server did not listen on 127.0.0.1:$port within 10 s"
}

stop_server() { # SIGTERM must end the server with status 0 (graceful shutdown)
    kill -TERM "$server_pid"
    local status=0
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
        fail "server did not exit within 10 s of SIGTERM"
    fi
    wait "$server_pid" || status=$?
    server_pid=""
    echo "server exited with status $status after SIGTERM"
    [ "$status" = 0 ] || { cat "$workdir/server.log"; fail "exit status $status after SIGTERM, expected 0"; }
}

# Talk the protocol: each step sends bytes and expects an exact reply
# (a regular expression over the whole reply). Captured groups named id
# are substituted into later steps as {id}.
client() { # args: port, then pairs of send / expect
    "$py" - "$@" <<'PY'
import re, socket, sys
port = int(sys.argv[1]); steps = sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), 5)
s.settimeout(5)
vars = {}
buf = b""
for i in range(0, len(steps), 2):
    send = steps[i].format(**vars).encode().decode("unicode_escape").encode("latin-1")
    want = re.compile(steps[i + 1].format(**vars).encode(), re.S)
    s.sendall(send)
    while True:
        m = want.fullmatch(buf)
        if m:
            vars.update({k: v.decode() for k, v in m.groupdict().items()})
            print(f"  sent {send!r} -> got {buf!r}")
            buf = b""
            break
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            chunk = b""
        if not chunk:
            sys.exit(f"  sent {send!r}: expected {want.pattern!r}, got {buf!r}")
        buf += chunk
s.close()
PY
}

step "put and reserve a job (memory only)"
start_server
client "$port" \
    'put 100 0 60 5\r\nhello\r\n'          'INSERTED (?P<id>[0-9]+)\r\n' \
    'reserve-with-timeout 5\r\n'            'RESERVED {id} 5\r\nhello\r\n' \
    'delete {id}\r\n'                       'DELETED\r\n' \
    'reserve-with-timeout 0\r\n'            'TIMED_OUT\r\n' \
    || fail "protocol exchange failed"
stop_server

step "jobs survive a restart with -b, running as the beanstalkd user"
install -d -o beanstalkd -g beanstalkd -m 0750 "$workdir/wal"
start_server -b "$workdir/wal" -u beanstalkd
client "$port" \
    'use pkgtest\r\n'                       'USING pkgtest\r\n' \
    'put 7 0 60 11\r\npersistent!\r\n'      'INSERTED (?P<id>[0-9]+)\r\n' \
    || fail "protocol exchange failed"
server_user=$(ps -o user= -p "$server_pid" | tr -d ' ')
[ "$server_user" = beanstalkd ] || fail "server runs as '$server_user', not beanstalkd (-u)"
stop_server
start_server -b "$workdir/wal" -u beanstalkd
client "$port" \
    'watch pkgtest\r\n'                     'WATCHING 2\r\n' \
    'reserve-with-timeout 5\r\n'            'RESERVED (?P<id>[0-9]+) 11\r\npersistent!\r\n' \
    'delete {id}\r\n'                       'DELETED\r\n' \
    || fail "the job did not survive the restart"
stop_server

echo
echo "test-deb.sh: all checks passed for $(basename "$deb")"
