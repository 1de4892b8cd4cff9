# Shared by the bench scripts (sourced, not run): builds release binaries,
# starts the demo upstream over HTTP on a free loopback port, and cleans up
# every process it started on exit. Sets T (binaries), W (scratch dir) and
# DIRECT (the demo's URL).

cargo build --release --quiet --bins --examples
T=target/release
W=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

# Waits for "needle" in a log and prints what follows it on that line.
await_line() { # log needle
  for _ in $(seq 1 200); do
    if grep -q "$2" "$1" 2>/dev/null; then grep -m1 "$2" "$1" | sed "s/.*$2//"; return 0; fi
    sleep 0.05
  done
  echo "timed out waiting for '$2' in $1" >&2; cat "$1" >&2; return 1
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

"$T/examples/demo_upstream" --http 127.0.0.1:0 --root "$W" 2>"$W/demo.log" &
DEMO_PID=$!
pids+=($DEMO_PID)
DIRECT=$(await_line "$W/demo.log" "listening on ")

# Starts a gateway (the mcp-warden in directory $3, default $T) with
# $W/policy.toml in front of the HTTP upstream at $1; sets G (its pid) and
# URL (its MCP endpoint). $2 names its files in $W.
start_gateway() { # upstream-url name [binary-dir]
  cat > "$W/$2.toml" <<CONF
policies = ["policy.toml"]
[listen]
http = "127.0.0.1:0"
[audit]
path = "$2-audit.jsonl"
[[upstreams]]
name = "demo"
transport = "http"
url = "$1"
CONF
  RUST_LOG=info "${3:-$T}/mcp-warden" serve --config "$W/$2.toml" 2>"$W/$2.log" &
  G=$!
  pids+=($G)
  URL=$(await_line "$W/$2.log" "serving MCP on ")
}
