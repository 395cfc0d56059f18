#!/usr/bin/env bash
# The whole test suite, from a fresh machine: sets up .venv, checks lint and format, runs every test
# (unit, end-to-end against the emulator, the production-pace tier, the Singer tap, PyAirbyte, the wheel,
# the container image).
# Skips and expected failures are listed with their reasons (-rsx). Extra arguments go to pytest, e.g.
# scripts/test.sh unit_tests -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff format --check .
.venv/bin/ruff check .
exec .venv/bin/pytest -n 2 -m "not image_tests" -rsx --durations=12 "$@"
