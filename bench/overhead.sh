#!/usr/bin/env bash
# Measures what the gateway costs against talking to the upstream directly,
# alternating direct and gateway runs in one session so both see the same
# machine state. Everything runs on 127.0.0.1 and stops by itself.
#
#   bench/overhead.sh            # full run (a few minutes)
#   ROUNDS=1 CALLS=2000 bench/overhead.sh   # quick look
#   BASELINE=../old/target/release bench/overhead.sh
#       also runs another build's gateway (its mcp-warden binary in that
#       directory) in the same rounds, so a change is compared with what it
#       changes under the same machine state
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
CALLS=${CALLS:-20000}
LAT_CALLS=${LAT_CALLS:-3000}

source bench/common.sh

cat > "$W/policy.toml" <<'POLICY'
mode = "enforce"
[defaults]
tools = "deny"
[[rules]]
id = "no-shell"
server = "*"
tools = ["run_command", "write_file"]
action = "deny"
[[rules]]
id = "read-and-echo"
server = "*"
tools = ["echo", "read_file", "list_directory"]
action = "allow"
POLICY

gateway() { # name upstream-toml [binary-dir]
  local bin=${3:-$T}
  cat > "$W/$1.toml" <<CONF
policies = ["policy.toml"]
[listen]
http = "127.0.0.1:0"
[audit]
path = "$1-audit.jsonl"
$2
CONF
  RUST_LOG=info "$bin/mcp-warden" serve --config "$W/$1.toml" 2>"$W/$1.log" &
  pids+=($!)
  echo $! > "$W/$1.pid"
  await_line "$W/$1.log" "serving MCP on " > "$W/$1.url"
}
gateway via_http "[[upstreams]]
name = \"demo\"
transport = \"http\"
url = \"$DIRECT\""
gateway via_stdio "[[upstreams]]
name = \"demo\"
transport = \"stdio\"
command = \"$PWD/$T/examples/demo_upstream\"
args = [\"--root\", \"$W\"]"
VIA_HTTP=$(cat "$W/via_http.url"); VIA_STDIO=$(cat "$W/via_stdio.url")
TARGETS="direct via_http via_stdio"
if [ -n "${BASELINE:-}" ]; then
  gateway base_http "[[upstreams]]
name = \"demo\"
transport = \"http\"
url = \"$DIRECT\"" "$BASELINE"
  gateway base_stdio "[[upstreams]]
name = \"demo\"
transport = \"stdio\"
command = \"$PWD/$T/examples/demo_upstream\"
args = [\"--root\", \"$W\"]" "$BASELINE"
  TARGETS="$TARGETS base_http base_stdio"
fi

# CPU time a process has used so far, in microseconds (utime + stime).
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"; }

load() { # url tool extra-args...
  local url=$1 tool=$2; shift 2
  "$T/examples/loadgen" --url "$url" --tool "$tool" --json "$@"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "rounds: $ROUNDS; latency: $LAT_CALLS sequential calls; throughput: $CALLS calls at concurrency 16 over 16 sessions"
: > "$W/results.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  # The gateways take turns going first, so none always runs on a machine
  # the one before it has just warmed (or loaded).
  gateways=($TARGETS); gateways=("${gateways[@]:1}"); shift_by=$(( (r - 1) % ${#gateways[@]} ))
  order="direct ${gateways[*]:shift_by} ${gateways[*]:0:shift_by}"
  for target in $order; do
    case $target in
      direct) url=$DIRECT; tool=echo ;;
      *) url=$(cat "$W/$target.url"); tool=demo__echo ;;
    esac
    # Whose CPU a call costs: the gateway's for the gateway runs, the
    # upstream's for the direct ones.
    case $target in
      direct) pid=$DEMO_PID ;;
      *) pid=$(cat "$W/$target.pid") ;;
    esac
    lat=$(load "$url" "$tool" --sessions 1 --concurrency 1 --calls "$LAT_CALLS")
    before=$(cpu_us "$pid")
    thr=$(load "$url" "$tool" --sessions 16 --concurrency 16 --calls "$CALLS")
    cpu=$(( ($(cpu_us "$pid") - before) / CALLS ))
    echo "{\"round\":$r,\"target\":\"$target\",\"latency\":$lat,\"throughput\":$thr,\"cpu_us_per_call\":$cpu}" >> "$W/results.jsonl"
  done
done

python3 - "$W/results.jsonl" $TARGETS <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(target, kind, key):
    return statistics.median(r[kind][key] for r in rows if r["target"] == target)
errors = sum(r["latency"]["errors"] + r["throughput"]["errors"] for r in rows)
def cpu(target):
    return statistics.median(r["cpu_us_per_call"] for r in rows if r["target"] == target)
print(f"{'':>10} {'p50 µs':>8} {'p99 µs':>8} {'calls/s @16':>12} {'CPU µs/call':>12}")
targets = sys.argv[2:]
for t in targets:
    print(f"{t:>10} {med(t,'latency','p50_us'):>8.0f} {med(t,'latency','p99_us'):>8.0f} {med(t,'throughput','calls_per_sec'):>12.0f} {cpu(t):>12.0f}")
print("(CPU per call at concurrency 16: the upstream's for direct, the gateway's own for the others)")
for t in targets[1:]:
    d50 = med(t,'latency','p50_us') - med('direct','latency','p50_us')
    d99 = med(t,'latency','p99_us') - med('direct','latency','p99_us')
    ratio = med(t,'throughput','calls_per_sec') / med('direct','throughput','calls_per_sec')
    print(f"{t}: added p50 {d50/1000:.3f} ms, added p99 {d99/1000:.3f} ms, throughput {ratio:.2f}x direct")
print(f"errors: {errors}")
PY

# Memory: the HTTP-upstream gateway idle, then holding idle sessions.
G=$(cat "$W/via_http.pid")
echo "gateway RSS after the load runs: $(rss_kib "$G") KiB"
for n in 1000 10000; do
  before=$(rss_kib "$G")
  "$T/examples/loadgen" --url "$VIA_HTTP" --idle-sessions "$n" --hold-secs 4 > "$W/idle.out" 2>/dev/null &
  lg=$!
  for _ in $(seq 1 600); do grep -q ready "$W/idle.out" 2>/dev/null && break; sleep 0.1; done
  during=$(rss_kib "$G")
  wait "$lg" || true
  echo "$n idle sessions: gateway RSS $during KiB ($(( (during - before) * 1024 / n )) bytes per session over $before KiB)"
done

# A fresh gateway, idle.
gateway idle "[[upstreams]]
name = \"demo\"
transport = \"http\"
url = \"$DIRECT\""
sleep 1
echo "fresh idle gateway RSS: $(rss_kib "$(cat "$W/idle.pid")") KiB"

# Start-up with five stdio upstreams: spawn to first served call.
ups=""
for i in 1 2 3 4 5; do ups+="[[upstreams]]
name = \"demo$i\"
transport = \"stdio\"
command = \"$PWD/$T/examples/demo_upstream\"
args = [\"--root\", \"$W\"]
"; done
t0=$(date +%s%N)
gateway five "$ups"
load "$(cat "$W/five.url")" demo5__echo --sessions 1 --concurrency 1 --calls 1 > /dev/null
t1=$(date +%s%N)
echo "five stdio upstreams: start to first served call $(( (t1 - t0) / 1000000 )) ms"
