#!/usr/bin/env bash
# compare.sh: measure the project's beanstalkd against the reference server (Debian's
# /usr/bin/beanstalkd) with beanstalkd-bench, and print a markdown table of medians and ratios.
#
# Both servers get identical flags on free loopback ports. Every measurement starts a fresh
# server process, so no run inherits jobs, tubes or allocator state from an earlier one (the
# memory figures need that), and the runs alternate between the two servers (ours first on odd
# runs, the reference first on even ones) so that drift on the machine hits both alike.
#
# See doc/performance.md for what each scenario measures.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OURS=${OURS:-$ROOT/build/release/src/beanstalkd}
REF=${REF:-/usr/bin/beanstalkd}
BENCH=${BENCH:-$ROOT/build/release/bench/beanstalkd-bench}
RUNS=3
RUNS_GIVEN=0
QUICK=0
OUT=""
ONLY=""
BINLOG=0
PIN=none
SERVER_FLAGS=()
OURS_FLAGS=()
PLAN_SERVER_FLAGS=()

usage() {
  cat <<EOF
Usage: bench/compare.sh [options] [OURS_BINARY]

Runs every beanstalkd-bench scenario against the project's server and the reference, alternating
between them, and prints a markdown table of medians and ratios (ours / reference).

Options:
  --ours PATH          the project's server (default \$OURS or build/release/src/beanstalkd)
  --ref PATH           the reference server (default \$REF or /usr/bin/beanstalkd)
  --bench PATH         the benchmark (default \$BENCH or build/release/bench/beanstalkd-bench)
  --runs N             runs per scenario and server (default 3; the memory scenario runs once)
  --quick              smaller counts and one run: about a minute in all
  --only LIST          comma-separated scenario ids to run (e.g. put-p128,cycle)
  --binlog             give each server its own fresh -b directory (flags otherwise identical)
  --server-flag FLAG   extra flag for both servers (repeatable, e.g. --server-flag -F)
  --ours-flag FLAG     extra flag for the project's server only, for its own options
                       (repeatable, e.g. --ours-flag --busy-poll=50); shown in the table header
  --pin MODE           CPU placement: none (the scheduler's choice, default), split (server on
                       CPU 0, benchmark on the others), shared (both on CPU 0)
  --out FILE           also write the markdown to FILE
  -h, --help           this text

If the project's server does not exist yet, only the reference is measured.
On a 2-CPU machine the full run takes 3 to 5 minutes (about 2 for the reference alone),
--quick about 20 seconds.
EOF
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --ours) OURS=$2; shift 2 ;;
    --ref) REF=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --runs) RUNS=$2; RUNS_GIVEN=1; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --binlog) BINLOG=1; shift ;;
    --server-flag) SERVER_FLAGS+=("$2"); shift 2 ;;
    --ours-flag) OURS_FLAGS+=("$2"); shift 2 ;;
    --pin) PIN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) OURS=$1; shift ;;
  esac
done

if ! [[ $RUNS =~ ^[1-9][0-9]*$ ]]; then
  echo "compare.sh: --runs needs a positive number" >&2
  exit 2
fi
if [[ $QUICK == 1 && $RUNS_GIVEN == 0 ]]; then RUNS=1; fi
for tool in "$BENCH" "$REF"; do
  if [[ ! -x $tool ]]; then
    echo "compare.sh: $tool is missing (build with: cmake --build build/release --target beanstalkd-bench)" >&2
    exit 2
  fi
done
command -v python3 >/dev/null || { echo "compare.sh: python3 is needed for the table" >&2; exit 2; }

# Where the processes run. By default the scheduler decides, as it does for real deployments. On
# a small virtual machine that choice moves latency-bound results a lot (one CPU for both: fast
# round trips; two CPUs: every round trip waits for a sleeping virtual CPU to wake), so --pin
# fixes the placement: "split" gives the server CPU 0 and the benchmark the others, "shared" puts
# both on CPU 0. Whatever the mode, both servers get the same, and the runs alternate.
CPUS=$(nproc)
if [[ $PIN != none ]] && ! command -v taskset >/dev/null; then
  echo "compare.sh: --pin needs taskset (util-linux)" >&2
  exit 2
fi
SERVER_PREFIX=()
BENCH_PREFIX=()
case $PIN in
  split)
    (( CPUS >= 2 )) || { echo "compare.sh: --pin split needs 2 CPUs" >&2; exit 2; }
    SERVER_PREFIX=(taskset -c 0)
    BENCH_PREFIX=(taskset -c "1-$((CPUS - 1))")
    ;;
  shared) SERVER_PREFIX=(taskset -c 0); BENCH_PREFIX=(taskset -c 0) ;;
  none) ;;
  *) echo "compare.sh: --pin takes split, shared or none" >&2; exit 2 ;;
esac

SERVERS=(ours ref)
if [[ ! -x $OURS ]]; then
  echo "compare.sh: $OURS does not exist yet; measuring the reference only" >&2
  SERVERS=(ref)
fi

# Thousands of connections need thousands of descriptors, in the servers and in the benchmark.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The plan: id | runs ("all" or "once") | beanstalkd-bench arguments [| flags for both servers].
# Counts are sized so that each run lasts a few seconds against the reference on a 2-core
# machine. The stream-* runs measure cycle latency while another client moves 1 MiB or 64 MiB
# bodies through the server (which needs -z raised for them).
if [[ $QUICK == 1 ]]; then
  PLAN=(
    "put-p128|all|-t put -c 4 -P 128 -d 100 -n 100000"
    "put-p1|all|-t put -c 4 -P 1 -d 100 -n 20000"
    "drain|all|-t drain -c 4 -P 64 -d 100 -n 100000"
    "cycle|all|-t cycle -c 8 -d 100 -n 20000"
    "deliver|all|-t deliver -c 4 -P 16 -d 100 -r 10000 -n 10000"
    "spray-10|all|-t spray --tubes 10 -c 1 -P 64 -d 100 -n 30000"
    "spray-1000|all|-t spray --tubes 1000 -c 1 -P 64 -d 100 -n 10000"
    "spray-5000|all|-t spray --tubes 5000 -c 1 -P 64 -d 100 -n 5000"
    "stream-1m|all|-t cycle -c 8 -d 100 -D 2 --stream-body 1048576|-z 67108864"
    "stream-64m|all|-t cycle -c 8 -d 100 -D 2 --stream-body 67108864|-z 67108864"
    "connections|all|-t connections -c 2000 --watch-every 10 --hold 0.3"
    "memory|once|-t memory -c 4 -P 128 -d 100 -n 200000"
  )
else
  PLAN=(
    "put-p128|all|-t put -c 4 -P 128 -d 100 -n 300000"
    "put-p1|all|-t put -c 4 -P 1 -d 100 -n 50000"
    "drain|all|-t drain -c 4 -P 64 -d 100 -n 300000"
    "cycle|all|-t cycle -c 8 -d 100 -n 60000"
    "deliver|all|-t deliver -c 4 -P 16 -d 100 -r 10000 -n 30000"
    "spray-10|all|-t spray --tubes 10 -c 1 -P 64 -d 100 -n 100000"
    "spray-1000|all|-t spray --tubes 1000 -c 1 -P 64 -d 100 -n 50000"
    "spray-5000|all|-t spray --tubes 5000 -c 1 -P 64 -d 100 -n 30000"
    "stream-1m|all|-t cycle -c 8 -d 100 -D 4 --stream-body 1048576|-z 67108864"
    "stream-64m|all|-t cycle -c 8 -d 100 -D 4 --stream-body 67108864|-z 67108864"
    "connections|all|-t connections -c 10000 --watch-every 10 --hold 1"
    "memory|once|-t memory -c 4 -P 128 -d 100 -n 1000000"
  )
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/beanstalkd-compare.XXXXXX")
RESULTS=$WORK/results.jsonl
PLAN_FILE=$WORK/plan.txt
CRASHES=$WORK/crashes.txt
: >"$RESULTS"
: >"$CRASHES"
printf '%s\n' "${PLAN[@]}" >"$PLAN_FILE"

SERVER_PID=""
SERVER_PORT=""

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server NAME BINARY: starts it on a free port; sets SERVER_PID and SERVER_PORT.
start_server() {
  local name=$1 binary=$2
  SERVER_PORT=$(free_port)
  local flags=(-l 127.0.0.1 -p "$SERVER_PORT")
  if [[ $BINLOG == 1 ]]; then
    rm -rf "$WORK/binlog-$name"
    mkdir -p "$WORK/binlog-$name"
    flags+=(-b "$WORK/binlog-$name")
  fi
  flags+=("${SERVER_FLAGS[@]}" "${PLAN_SERVER_FLAGS[@]}")
  if [[ $name == ours ]]; then flags+=("${OURS_FLAGS[@]}"); fi
  # taskset execs the server, so $! is the server's own pid (needed for /proc/PID/status).
  "${SERVER_PREFIX[@]}" "$binary" "${flags[@]}" >>"$WORK/server-$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT") 2>/dev/null; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "compare.sh: $binary did not start listening (see $WORK/server-$name.log)" >&2
  stop_server
  return 1
}

binary_of() { if [[ $1 == ours ]]; then echo "$OURS"; else echo "$REF"; fi; }

# measure ID WHO RUN ARGS...: one benchmark run against a fresh server.
measure() {
  local id=$1 who=$2 run=$3
  shift 3
  local timeout=120
  [[ $id == memory ]] && timeout=400
  start_server "$who" "$(binary_of "$who")" || return 0
  local json
  if json=$("${BENCH_PREFIX[@]}" "$BENCH" -s "127.0.0.1:$SERVER_PORT" --server-pid "$SERVER_PID" --label "$who" \
      --timeout "$timeout" --json "$@" 2>"$WORK/last.err"); then
    printf '{"id":"%s","who":"%s","run":%d,"result":%s}\n' "$id" "$who" "$run" "$json" >>"$RESULTS"
    printf '  %-4s %s\n' "$who" "$(cat "$WORK/last.err")" >&2
  else
    printf '  %-4s FAILED: %s\n' "$who" "$(cat "$WORK/last.err")" >&2
  fi
  cat "$WORK/last.err" >>"$WORK/bench.log"
  # A server that crashes as the benchmark disconnects still produced a measurement, but nobody
  # must miss that it crashed.
  sleep 0.1
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    local status=0
    wait "$SERVER_PID" 2>/dev/null || status=$?
    SERVER_PID=""
    printf '  %-4s EXITED with status %d during or right after the run\n' "$who" "$status" >&2
    printf '%s (%s, run %d, status %d)\n' "$who" "$id" "$run" "$status" >>"$CRASHES"
  fi
  stop_server
}

started=$(date +%s)
for entry in "${PLAN[@]}"; do
  IFS='|' read -r id runs args server_flags <<<"$entry"
  if [[ -n $ONLY && ",$ONLY," != *",$id,"* ]]; then continue; fi
  read -r -a bench_args <<<"$args"
  read -r -a PLAN_SERVER_FLAGS <<<"${server_flags:-}"
  count=$RUNS
  [[ $runs == once ]] && count=1
  for run in $(seq "$count"); do
    echo "$id, run $run of $count" >&2
    order=("${SERVERS[@]}")
    if (( run % 2 == 0 )) && [[ ${#SERVERS[@]} == 2 ]]; then order=(ref ours); fi
    for who in "${order[@]}"; do measure "$id" "$who" "$run" "${bench_args[@]}"; done
  done
done
elapsed=$(( $(date +%s) - started ))

versions="reference: $("$REF" -v 2>&1 | head -1)"
if [[ -x $OURS ]]; then versions="ours: $("$OURS" -v 2>&1 | head -1), $versions"; fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
header="$(date -u +%Y-%m-%d), $CPUS CPUs ($cpu), $versions, runs: $RUNS, CPU placement: $PIN"
header+=", took ${elapsed} s"
if [[ $BINLOG == 1 || ${#SERVER_FLAGS[@]} -gt 0 ]]; then
  header+=", server flags: ${SERVER_FLAGS[*]}$([[ $BINLOG == 1 ]] && echo ' -b DIR')"
fi
if [[ ${#OURS_FLAGS[@]} -gt 0 ]]; then header+=", ours only: ${OURS_FLAGS[*]}"; fi

table=$(python3 - "$RESULTS" "$PLAN_FILE" "$header" "$CRASHES" <<'PYTHON'
import json
import statistics
import sys

results_path, plan_path, header, crashes_path = sys.argv[1:5]
plan = []
for line in open(plan_path):
    if line.strip():
        fields = line.rstrip("\n").split("|")
        ident, args = fields[0], fields[2]
        if len(fields) > 3 and fields[3]:
            args += " " + fields[3]  # the servers' flags, shown with the settings
        plan.append((ident, args))

runs = {}
for line in open(results_path):
    record = json.loads(line)
    runs.setdefault((record["id"], record["who"]), []).append(record["result"])


def values_of(ident, who, key):
    return [r[key] for r in runs.get((ident, who), []) if key in r and r[key] >= 0]


def median(ident, who, key):
    values = values_of(ident, who, key)
    return statistics.median(values) if values else None


def spread(ident, who, key):
    # Half the range of the runs relative to their median: how far apart repeated runs landed.
    values = values_of(ident, who, key)
    middle = statistics.median(values) if values else 0
    if len(values) < 2 or middle == 0:
        return ""
    return f" ±{(max(values) - min(values)) / 2 / middle * 100:.0f}%"


def count(value):
    return "–" if value is None else f"{value:,.0f}"


def micros(value):
    if value is None:
        return "–"
    if value < 1000:
        return f"{value:.0f} us"
    return f"{value / 1000:.2f} ms"


def mib(value):
    return "–" if value is None else f"{value / 1024:.1f} MiB"


def ratio(ours, ref):
    if ours is None or ref is None or ref == 0:
        return "–"
    return f"{ours / ref:.2f}"


def settings(args):
    # "-t put -c 4 -P 128 -d 100 -n 300000" -> "c=4 P=128 d=100 n=300000"
    words = args.split()
    pairs = [(words[i], words[i + 1]) for i in range(0, len(words) - 1, 2) if words[i] != "-t"]
    return " ".join(f"{k.lstrip('-')}={v}" for k, v in pairs)


# Before the project's server exists only the reference is measured; leave out the empty columns.
have_ours = any(who == "ours" for _, who in runs)


def row(cells, ours, ref, quotient):
    values = [ours, ref, quotient] if have_ours else [ref]
    return "| " + " | ".join(cells + values) + " |"


def head(first):
    names = [first, "settings", "metric"] + (["ours", "reference", "ours / ref"] if have_ours
                                             else ["reference"])
    aligns = ["---"] * 3 + ["--:"] * (len(names) - 3)
    return ["| " + " | ".join(names) + " |", "|" + "|".join(aligns) + "|"]


lines = [f"_{header}_", ""]
lines += head("scenario")
for ident, args in plan:
    if ident in ("connections", "memory"):
        continue
    if not any((ident, who) in runs for who in ("ours", "ref")):
        continue
    unit = next(iter(runs.get((ident, "ref")) or runs.get((ident, "ours"))))["unit"]
    rows = [(unit, "throughput", count)]
    rows += [(name, key, micros) for name, key in
             (("p50", "p50_us"), ("p99", "p99_us"), ("p99.9", "p999_us"))]
    if "--stream-body" in args:
        rows.append(("stream MiB/s", "stream_mib_per_s", count))
    for i, (name, key, show) in enumerate(rows):
        ours, ref = median(ident, "ours", key), median(ident, "ref", key)
        first = i == 0
        ours_text, ref_text = show(ours), show(ref)
        if first:
            ours_text += spread(ident, "ours", key) if ours is not None else ""
            ref_text += spread(ident, "ref", key) if ref is not None else ""
        cells = [ident if first else "", settings(args) if first else "", name]
        lines.append(row(cells, ours_text, ref_text, ratio(ours, ref)))

memory_rows = [
    ("connections", "RSS with the connections open", "rss_held_kib", mib),
    ("connections", "bytes per idle connection", "bytes_per_connection", count),
    ("memory", "RSS before", "rss_before_kib", mib),
    ("memory", "RSS with all jobs ready", "rss_full_kib", mib),
    ("memory", "bytes per ready job", "bytes_per_job", count),
    ("memory", "RSS after deleting them all", "rss_deleted_kib", mib),
    ("memory", "peak RSS", "server_peak_rss_kib", mib),
    ("memory", "fill rate (jobs/s)", "throughput", count),
    ("memory", "delete rate (jobs/s)", "delete_rate", count),
]
shown = [row for row in memory_rows if any((row[0], who) in runs for who in ("ours", "ref"))]
if shown:
    lines += [""] + head("memory scenario")
    previous = None
    args_of = dict(plan)
    for ident, name, key, show in shown:
        ours, ref = median(ident, "ours", key), median(ident, "ref", key)
        label = ident if ident != previous else ""
        setting = settings(args_of[ident]) if ident != previous else ""
        previous = ident
        lines.append(row([label, setting, name], show(ours), show(ref), ratio(ours, ref)))

lines += ["", "Throughput: higher is better; latency and memory: lower is better. "
          "Medians over the runs (± half their range)"
          + ("; ratios are ours / reference." if have_ours else ".")]
crashes = [line.strip() for line in open(crashes_path) if line.strip()]
if crashes:
    lines += ["", "**Warning: a server exited unexpectedly:** " + "; ".join(crashes) + "."]
print("\n".join(lines))
PYTHON
)

echo
echo "$table"
if [[ -n $OUT ]]; then printf '%s\n' "$table" >"$OUT"; fi
echo >&2
echo "raw results: $RESULTS (bench log: $WORK/bench.log)" >&2
