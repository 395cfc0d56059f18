#!/usr/bin/env bash
# Creates the venv of PyAirbyte (the `airbyte` package, a real Airbyte client) with this connector
# installed in it (editable), so that PyAirbyte can run `<venv>/bin/source-wootric` as a local executable.
# Idempotent: does nothing when the venv was built from the same inputs. PyAirbyte needs Python < 3.13.
#
#   scripts/pyairbyte_venv.sh        venv at ${PYAIRBYTE_VENV:-.cache/pyairbyte-venv}; prints its path last
set -euo pipefail
cd "$(dirname "$0")/.."

LOCK=scripts/pyairbyte.lock  # airbyte (PyAirbyte) and the connector's dependencies, with hashes
VENV=${PYAIRBYTE_VENV:-.cache/pyairbyte-venv}
PYTHON=${PYAIRBYTE_PYTHON:-python3}

"$PYTHON" - <<'PYEOF' || { echo "pyairbyte_venv: PyAirbyte needs Python 3.10-3.12; set PYAIRBYTE_PYTHON" >&2; exit 1; }
import sys
sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)
PYEOF

if ! command -v uv >/dev/null 2>&1 && ! "$PYTHON" -m uv --version >/dev/null 2>&1; then
    echo "pyairbyte_venv: installing uv (the package installer) with pip" >&2
    "$PYTHON" -m pip install --quiet --disable-pip-version-check uv
fi
uv() { if command -v uv >/dev/null 2>&1; then command uv "$@"; else "$PYTHON" -m uv "$@"; fi; }

stamp="$VENV/.installed-$(cat "$0" pyproject.toml "$LOCK" | sha256sum | cut -c1-16)"
if [[ -f $stamp && -x $VENV/bin/source-wootric ]]; then
    echo "$VENV"
    exit 0
fi
start=$SECONDS
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
uv venv --quiet --python "$PYTHON" "$VENV"
echo "pyairbyte_venv: installing $LOCK and source-wootric into $VENV" >&2
uv pip install --quiet --compile-bytecode --python "$VENV/bin/python" -r "$LOCK"
uv pip install --quiet --python "$VENV/bin/python" --no-deps -e .
# The client, its cache and the connector import (offline: no registry look-up, no telemetry).
AIRBYTE_OFFLINE_MODE=1 DO_NOT_TRACK=1 PYTHONWARNINGS=ignore::FutureWarning \
    "$VENV/bin/python" -c "import airbyte, duckdb, source_wootric.run"
"$VENV/bin/source-wootric" spec >/dev/null
touch "$stamp"
echo "pyairbyte_venv: ready in $((SECONDS - start)) s ($(du -sh "$VENV" | cut -f1))" >&2
echo "$VENV"
