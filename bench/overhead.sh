#!/usr/bin/env bash
# Measures what the gateway costs against talking to the upstream directly,
# alternating direct and gateway runs in one session so both see the same
# machine state. Everything runs on 127.0.0.1 and stops by itself.
#
# The upstream is examples/bare_upstream (an echo server that does no work:
# plain JSON over Streamable HTTP, or newline-delimited JSON over stdio), so
# the figures are the gateway's own cost, not an SDK's hidden behind it.
# UPSTREAM=demo uses the rmcp demo server instead.
#
#   bench/overhead.sh            # full run (a few minutes)
#   ROUNDS=1 CALLS=2000 bench/overhead.sh   # quick look
#   INSPECT_OFF=1 bench/overhead.sh
#       also runs this build with the inspection stages off ([inspect]
#       detectors, the sanitizer and the definition scanner), so what they
#       cost a call is the difference in the same rounds
#   BASELINE=../old/target/release bench/overhead.sh
#       also runs another build's gateway (its mcp-warden binary in that
#       directory) in the same rounds, so a change is compared with what it
#       changes under the same machine state
#
# Reported per target: latency at concurrency 1 (p50, p99), throughput at
# concurrency 16 over 16 sessions, and CPU per call at concurrency 16: the
# gateway's own (from /proc/PID/stat over the run), or the upstream's for
# the direct runs. Then the stdio front (Claude Desktop's path) with
# examples/stdio_loadgen, idle memory, 10,000 idle sessions, and start-up.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
CALLS=${CALLS:-20000}
LAT_CALLS=${LAT_CALLS:-3000}
UPSTREAM=${UPSTREAM:-bare}

source bench/common.sh

if [ "$UPSTREAM" = bare ]; then
  "$T/examples/bare_upstream" --http 127.0.0.1:0 2>"$W/bare.log" &
  UP_PID=$!
  pids+=($UP_PID)
  UP_URL=$(await_line "$W/bare.log" "listening on ")
  UP_STDIO="command = \"$PWD/$T/examples/bare_upstream\"
args = [\"--stdio\"]"
  UP_STDIO_CMD=("$PWD/$T/examples/bare_upstream" --stdio)
else
  UP_PID=$DEMO_PID
  UP_URL=$DIRECT
  UP_STDIO="command = \"$PWD/$T/examples/demo_upstream\"
args = [\"--root\", \"$W\"]"
  UP_STDIO_CMD=("$PWD/$T/examples/demo_upstream" --root "$W")
fi

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

HTTP_UP="[[upstreams]]
name = \"demo\"
transport = \"http\"
url = \"$UP_URL\""
STDIO_UP="[[upstreams]]
name = \"demo\"
transport = \"stdio\"
$UP_STDIO"

config() { # name upstream-toml (POLICY_FILE: another policy in $W)
  cat > "$W/$1.toml" <<CONF
policies = ["${POLICY_FILE:-policy.toml}"]
[listen]
http = "127.0.0.1:0"
[audit]
path = "$1-audit.jsonl"
$2
CONF
}

gateway() { # name upstream-toml [binary-dir]
  local bin=${3:-$T}
  config "$1" "$2"
  RUST_LOG=info "$bin/mcp-warden" serve --config "$W/$1.toml" 2>"$W/$1.log" &
  pids+=($!)
  echo $! > "$W/$1.pid"
  await_line "$W/$1.log" "serving MCP on " > "$W/$1.url"
}
gateway via_http "$HTTP_UP"
gateway via_stdio "$STDIO_UP"
TARGETS="direct via_http via_stdio"
if [ -n "${BASELINE:-}" ]; then
  gateway base_http "$HTTP_UP" "$BASELINE"
  gateway base_stdio "$STDIO_UP" "$BASELINE"
  TARGETS="$TARGETS base_http base_stdio"
fi
if [ "${INSPECT_OFF:-0}" = 1 ]; then
  { cat "$W/policy.toml"; printf '[inspect]\nsecrets = "off"\npii = "off"\ninjection = "off"\n'; } > "$W/policy-off.toml"
  OFF='[inspection]
sanitize = false
tool_definitions = "off"'
  POLICY_FILE=policy-off.toml gateway off_http "$HTTP_UP
$OFF"
  POLICY_FILE=policy-off.toml gateway off_stdio "$STDIO_UP
$OFF"
  TARGETS="$TARGETS off_http off_stdio"
fi

# CPU time a process has used so far, in microseconds (utime + stime).
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"; }

load() { # url tool extra-args...
  local url=$1 tool=$2; shift 2
  "$T/examples/loadgen" --url "$url" --tool "$tool" --json "$@"
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); upstream: $UPSTREAM"
echo "rounds: $ROUNDS; latency: $LAT_CALLS sequential calls; throughput: $CALLS calls at concurrency 16 over 16 sessions"
: > "$W/results.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  # The gateways take turns going first, so none always runs on a machine
  # the one before it has just warmed (or loaded).
  gateways=($TARGETS); gateways=("${gateways[@]:1}"); shift_by=$(( (r - 1) % ${#gateways[@]} ))
  order="direct ${gateways[*]:shift_by} ${gateways[*]:0:shift_by}"
  for target in $order; do
    case $target in
      direct) url=$UP_URL; tool=echo; pid=$UP_PID ;;
      *) url=$(cat "$W/$target.url"); tool=demo__echo; pid=$(cat "$W/$target.pid") ;;
    esac
    lat=$(load "$url" "$tool" --sessions 1 --concurrency 1 --calls "$LAT_CALLS")
    before=$(cpu_us "$pid")
    thr=$(load "$url" "$tool" --sessions 16 --concurrency 16 --calls "$CALLS")
    cpu=$(( ($(cpu_us "$pid") - before) / CALLS ))
    echo "{\"round\":$r,\"target\":\"$target\",\"latency\":$lat,\"throughput\":$thr,\"cpu_us_per_call\":$cpu}" >> "$W/results.jsonl"
  done
done

# The stdio front, end to end: a client process writing to the gateway's
# stdin, as Claude Desktop does, against the upstream's own stdio.
config stdio_front_stdio "$STDIO_UP"
config stdio_front_http "$HTTP_UP"
stdio_load() { # concurrency calls tool command...
  local c=$1 n=$2 tool=$3; shift 3
  RUST_LOG=warn "$T/examples/stdio_loadgen" --json --concurrency "$c" --calls "$n" --tool "$tool" -- "$@" 2>/dev/null
}
: > "$W/stdio.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  for target in direct front_stdio front_http; do
    case $target in
      direct) cmd=("${UP_STDIO_CMD[@]}"); tool=echo ;;
      front_stdio) cmd=("$T/mcp-warden" stdio --config "$W/stdio_front_stdio.toml"); tool=demo__echo ;;
      front_http) cmd=("$T/mcp-warden" stdio --config "$W/stdio_front_http.toml"); tool=demo__echo ;;
    esac
    lat=$(stdio_load 1 "$LAT_CALLS" "$tool" "${cmd[@]}")
    thr=$(stdio_load 16 "$CALLS" "$tool" "${cmd[@]}")
    echo "{\"round\":$r,\"target\":\"$target\",\"latency\":$lat,\"throughput\":$thr}" >> "$W/stdio.jsonl"
  done
done

python3 - "$W/results.jsonl" "$W/stdio.jsonl" $TARGETS <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
stdio = [json.loads(l) for l in open(sys.argv[2])]
def med(rows, target, kind, key):
    return statistics.median(r[kind][key] for r in rows if r["target"] == target)
errors = sum(r["latency"]["errors"] + r["throughput"]["errors"] for r in rows + stdio)
print(f"{'HTTP front':>12} {'p50 µs':>8} {'p99 µs':>8} {'calls/s @16':>12} {'CPU µs/call':>12}")
targets = sys.argv[3:]
for t in targets:
    cpu = statistics.median(r["cpu_us_per_call"] for r in rows if r["target"] == t)
    print(f"{t:>12} {med(rows,t,'latency','p50_us'):>8.0f} {med(rows,t,'latency','p99_us'):>8.0f} "
          f"{med(rows,t,'throughput','calls_per_sec'):>12.0f} {cpu:>12.0f}")
print("(CPU per call at concurrency 16: the upstream's for direct, the gateway's own for the others)")
for t in targets[1:]:
    d50 = med(rows,t,'latency','p50_us') - med(rows,'direct','latency','p50_us')
    d99 = med(rows,t,'latency','p99_us') - med(rows,'direct','latency','p99_us')
    ratio = med(rows,t,'throughput','calls_per_sec') / med(rows,'direct','throughput','calls_per_sec')
    print(f"{t}: added p50 {d50/1000:.3f} ms, added p99 {d99/1000:.3f} ms, throughput {ratio:.2f}x direct")
print()
print(f"{'stdio front':>12} {'p50 µs':>8} {'p99 µs':>8} {'calls/s @16':>12} {'CPU µs/call':>12}")
for t in ["direct", "front_stdio", "front_http"]:
    cpu = statistics.median(r["throughput"]["server_cpu_us_per_call"] for r in stdio if r["target"] == t)
    print(f"{t:>12} {med(stdio,t,'latency','p50_us'):>8.0f} {med(stdio,t,'latency','p99_us'):>8.0f} "
          f"{med(stdio,t,'throughput','calls_per_sec'):>12.0f} {cpu:>12.0f}")
print("(direct: the upstream on its own stdio; front_stdio: gateway on stdio, upstream over stdio;")
print(" front_http: gateway on stdio, upstream over HTTP. CPU: the process the client started, without its children)")
for t in ["front_stdio", "front_http"]:
    d50 = med(stdio,t,'latency','p50_us') - med(stdio,'direct','latency','p50_us')
    d99 = med(stdio,t,'latency','p99_us') - med(stdio,'direct','latency','p99_us')
    ratio = med(stdio,t,'throughput','calls_per_sec') / med(stdio,'direct','throughput','calls_per_sec')
    print(f"{t}: added p50 {d50/1000:.3f} ms, added p99 {d99/1000:.3f} ms, throughput {ratio:.2f}x direct")
print(f"errors: {errors}")
PY

# Memory: a fresh gateway idle, then holding 10,000 idle sessions (clients
# that never send DELETE: they stay until session_idle_timeout).
gateway idle "$HTTP_UP"
sleep 1
G=$(cat "$W/idle.pid")
echo "fresh idle gateway RSS: $(rss_kib "$G") KiB"
for n in 10000; do
  before=$(rss_kib "$G")
  "$T/examples/loadgen" --url "$(cat "$W/idle.url")" --idle-sessions "$n" --hold-secs 4 > "$W/idle.out" 2>/dev/null &
  lg=$!
  for _ in $(seq 1 600); do grep -q ready "$W/idle.out" 2>/dev/null && break; sleep 0.1; done
  during=$(rss_kib "$G")
  wait "$lg" || true
  echo "$n idle sessions: gateway RSS $during KiB = $(( during / 1024 )) MiB ($(( (during - before) * 1024 / n )) bytes per session over $before KiB)"
done
echo "gateway RSS after the load runs: $(rss_kib "$(cat "$W/via_http.pid")") KiB"

# Start-up with five stdio upstreams: spawn to first served call.
ups=""
for i in 1 2 3 4 5; do ups+="[[upstreams]]
name = \"demo$i\"
transport = \"stdio\"
$UP_STDIO
"; done
t0=$(date +%s%N)
gateway five "$ups"
load "$(cat "$W/five.url")" demo5__echo --sessions 1 --concurrency 1 --calls 1 > /dev/null
t1=$(date +%s%N)
echo "five stdio upstreams: start to first served call $(( (t1 - t0) / 1000000 )) ms"
