#!/usr/bin/env bash
# The demo: on a fresh machine with python3, installs the connector and runs a full sync of every stream
# against the Wootric emulator's demo account (no credentials needed), then shows what came out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --runtime
exec .venv/bin/python scripts/demo.py "$@"
