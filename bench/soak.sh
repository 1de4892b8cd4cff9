#!/usr/bin/env bash
# Soak: 100,000 calls at concurrency 64 through the gateway (HTTP upstream),
# sampling the gateway's RSS every second; then checks that the load
# generator is not the bottleneck (two generator processes against one).
# Loopback only; stops by itself.
#
#   bench/soak.sh                 # CALLS=100000 CONCURRENCY=64
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${CALLS:-100000}
CONCURRENCY=${CONCURRENCY:-64}

source bench/common.sh
cat > "$W/policy.toml" <<'POLICY'
[[rules]]
id = "echo"
server = "demo"
tools = ["echo"]
action = "allow"
args.text = { max_length = 1000 }
POLICY
start_gateway "$DIRECT" gw

echo "soak: $CALLS calls at concurrency $CONCURRENCY over $CONCURRENCY sessions via $URL"
echo "gateway RSS before: $(rss_kib "$G") KiB"
( while kill -0 "$G" 2>/dev/null; do rss_kib "$G"; sleep 1; done ) > "$W/rss.txt" &
sampler=$!
"$T/examples/loadgen" --url "$URL" --tool demo__echo --sessions "$CONCURRENCY" --concurrency "$CONCURRENCY" --calls "$CALLS" --max-secs 600
kill "$sampler" 2>/dev/null || true
echo "gateway RSS samples (KiB, one per second): $(tr '\n' ' ' < "$W/rss.txt")"
echo "gateway RSS after: $(rss_kib "$G") KiB; audit records: $(wc -l < "$W/gw-audit.jsonl")"
"$T/mcp-warden" audit verify "$W/gw-audit.jsonl"

echo "generator check: one process at concurrency 16, then two processes at 8 each"
"$T/examples/loadgen" --url "$URL" --tool demo__echo --sessions 16 --concurrency 16 --calls 20000
"$T/examples/loadgen" --url "$URL" --tool demo__echo --sessions 8 --concurrency 8 --calls 10000 > "$W/a.txt" &
a=$!
"$T/examples/loadgen" --url "$URL" --tool demo__echo --sessions 8 --concurrency 8 --calls 10000 > "$W/b.txt"
wait "$a"
cat "$W/a.txt" "$W/b.txt"
