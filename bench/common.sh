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
