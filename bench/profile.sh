#!/usr/bin/env bash
# Where a call's CPU goes: the gateway (HTTP upstream: examples/bare_upstream)
# under examples/loadgen at concurrency 16, sampled by `perf record`, with
# the samples grouped by component; then system calls per call (`strace
# -c`) and, with ALLOCS=1, heap allocations per call (valgrind's memcheck
# counts, 1,000 sequential calls against none). Loopback only.
#
#   bench/profile.sh                        # this build
#   GATEWAY=../old/target/release bench/profile.sh   # another build's gateway
#
# Needs perf (Debian's linux-perf) and strace; ALLOCS=1 needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-25000}
export DEBUGINFOD_URLS=

source bench/common.sh
BIN=${GATEWAY:-$T}

"$T/examples/bare_upstream" --http 127.0.0.1:0 2>"$W/bare.log" &
pids+=($!)
UP_URL=$(await_line "$W/bare.log" "listening on ")
cat > "$W/policy.toml" <<'POLICY'
[[rules]]
id = "echo"
server = "*"
tools = ["echo"]
action = "allow"
POLICY
start_gateway "$UP_URL" gw "$BIN"
load() { "$T/examples/loadgen" --url "$URL" --tool demo__echo --sessions 16 --concurrency 16 --json --calls "$1" > /dev/null; }

load 5000 # warm: sessions, connection pools
perf record -q -F 4000 -p "$G" -o "$W/perf.data" -- sleep 3 2>/dev/null &
perf_pid=$!
sleep 0.2
load "$CALLS"
wait "$perf_pid"
perf report -i "$W/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null > "$W/flat.txt"
python3 - "$W/flat.txt" <<'PY'
import collections, re, sys
groups = [
    ("kernel (system calls, TCP, scheduler)", r"^\[k\]"),
    ("allocator (malloc, free)", r"malloc|free|_int_|realloc|unlink_chunk|consolidate|tcache|__rust_alloc|__rdl_alloc|__rust_dealloc|__rdl_dealloc|memalign|__rust_no_alloc|__rust_realloc"),
    ("memcpy, memmove, memcmp", r"__mem(move|cpy|cmp|set)|memcpy|memmove"),
    ("audit (hashes, hex, encoding)", r"sha2::|hex::|mcp_warden::audit|hmac|digest"),
    ("JSON (serde_json)", r"serde_json|serde::|serde_core"),
    ("policy decision", r"mcp_warden::policy|globset|regex|aho_corasick|unicode_normalization|jsonschema"),
    ("upstream HTTP client (reqwest, hyper client)", r"reqwest|hyper_util::client|hyper::client|idna|url::|hyper::proto::h1::role::Client|tower_http"),
    ("front HTTP server (hyper server, axum, tower)", r"hyper::proto::h1::role::Server|hyper::server|axum|tower|hyper_util::server|hyper_util::service|matchit"),
    ("HTTP/1 shared (hyper, http, bytes, httparse)", r"hyper::|http::|bytes::|httparse|hyper_util"),
    ("tokio (scheduler, channels, timers)", r"tokio|mio::|futures|parking_lot|std::sys::sync|atomic_waker|slab"),
    ("relay and call pipeline (mcp_warden)", r"mcp_warden"),
]
share = collections.Counter()
for line in open(sys.argv[1]):
    m = re.match(r"\s+([\d.]+)%\s+(\[.\])\s+(.*)$", line)
    if not m:
        continue
    symbol = m.group(2) + " " + m.group(3)
    name = next((n for n, rx in groups if re.search(rx, symbol)), "other")
    share[name] += float(m.group(1))
for name in [n for n, _ in groups] + ["other"]:
    print(f"{share[name]:6.1f}%  {name}")
PY

strace -c -f -p "$G" -o "$W/strace.txt" 2>/dev/null &
strace_pid=$!
sleep 1
load 5000
sleep 0.5
kill -INT "$strace_pid"
wait "$strace_pid" || true
awk 'NR > 2 && $4 ~ /^[0-9]+$/ && $NF != "total" { total += $4; printf "%s %.2f  ", $NF, $4 / 5000 } END { printf "\nsystem calls per call: %.2f\n", total / 5000 }' "$W/strace.txt"

if [ "${ALLOCS:-0}" = 1 ]; then
  allocs() { # calls -> "total heap usage" line of a fresh gateway under memcheck
    valgrind --tool=memcheck --leak-check=no "$BIN/mcp-warden" serve --config "$W/gw.toml" 2>"$W/vg.log" &
    local vg=$!
    for _ in $(seq 1 100); do grep -q "serving MCP on " "$W/vg.log" && break; sleep 0.2; done
    local url
    url=$(grep -m1 "serving MCP on " "$W/vg.log" | sed 's/.*serving MCP on //')
    "$T/examples/loadgen" --url "$url" --tool demo__echo --sessions 1 --concurrency 1 --calls 1 --json > /dev/null
    [ "$1" -gt 0 ] && "$T/examples/loadgen" --url "$url" --tool demo__echo --sessions 1 --concurrency 1 --calls "$1" --max-secs 300 --json > /dev/null
    kill -INT "$vg"
    wait "$vg" || true
    grep "total heap usage" "$W/vg.log" | sed 's/.*usage: //; s/,//g' | awk '{ print $1, $5 }'
  }
  read -r a0 b0 < <(allocs 0)
  read -r a1 b1 < <(allocs 1000)
  echo "heap allocations per call (sequential): $(( (a1 - a0) / 1000 )), bytes allocated per call: $(( (b1 - b0) / 1000 ))"
fi
