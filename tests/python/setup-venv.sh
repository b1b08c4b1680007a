#!/usr/bin/env bash
# Creates the Python venv the SDK interop tests run in, or refreshes it when requirements.txt
# (or the Python it was made with) changed, and prints the venv's python on its last line.
#
# Usage: tests/python/setup-venv.sh [VENV_DIR]
#   VENV_DIR defaults to $CARGO_TARGET_DIR/py-venv, or target/py-venv in the repository.
#   PYTHON names the interpreter to build it from (default: python3).
# Typical use: TOLLGATE_PYTHON="$(tests/python/setup-venv.sh | tail -n 1)"
# Everything but that last line goes to stderr. Needs only CPython >= 3.11 and PyPI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${1:-${CARGO_TARGET_DIR:-$repo/target}/py-venv}"
requirements="$here/requirements.txt"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "setup-venv: $python not found; install CPython 3.11 or later" >&2
    exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup-venv: $("$python" --version 2>&1) is too old; the MCP SDK needs 3.11 or later" >&2
    exit 1
fi

fingerprint="$(
    {
        "$python" -c 'import sys; print(sys.version)'
        cat "$requirements"
    } | sha256sum | cut -d ' ' -f 1
)"
stamp="$venv/.requirements.sha256"

if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$fingerprint" ]; then
    echo "$venv/bin/python"
    exit 0
fi

echo "setup-venv: creating $venv" >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
pip_args=(install --quiet --disable-pip-version-check --no-input --requirement "$requirements")
if "$python" -m venv "$venv" >&2 2>/dev/null; then
    "$venv/bin/python" -m pip "${pip_args[@]}" >&2
else
    # Debian's python3 without python3-venv has no ensurepip: make the venv without pip and
    # install into it with the system's pip (22.3 or later knows --python).
    echo "setup-venv: no ensurepip here; using the system pip to fill the venv" >&2
    rm -rf "$venv"
    "$python" -m venv --without-pip "$venv" >&2
    "$python" -m pip --python "$venv/bin/python" "${pip_args[@]}" >&2
fi
"$venv/bin/python" -c 'import mcp.client.auth, mcp.client.streamable_http, httpx2' >&2
echo "$fingerprint" >"$stamp"
echo "$venv/bin/python"
