#!/usr/bin/env bash
# Creates .venv with the locked dependencies and the connector installed in it. Idempotent: a second run
# with the same lock file does nothing. Needs only python3 with pip. The lock files are poetry.lock's exports
# with hashes (scripts/lock.sh): .venv is synced to one with --require-hashes (whatever is not in it is
# removed), then the connector goes in with --no-deps. Byte-code is compiled at install time, since a
# start-up that compiles the CDK from source costs seconds (and PYTHONDONTWRITEBYTECODE may be set).
#   scripts/setup.sh            runtime and development dependencies (tests, lint, benchmark)
#   scripts/setup.sh --runtime  runtime dependencies only (enough for the demo)
set -euo pipefail
cd "$(dirname "$0")/.."

lock=requirements-dev.lock
[[ "${1:-}" == "--runtime" ]] && lock=requirements.lock

if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
  echo "setup: installing uv (the package installer) with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check uv
fi
uv() { if command -v uv >/dev/null 2>&1; then command uv "$@"; else python3 -m uv "$@"; fi; }

stamp_of() { echo ".venv/.installed-$(sha256sum "$1" pyproject.toml | sha256sum | cut -c1-16)"; }
stamp=$(stamp_of "$lock")
# The development install holds the runtime one: the demo does not strip a venv the tests need.
if [[ -f "$stamp" || -f "$(stamp_of requirements-dev.lock)" ]]; then
  exit 0
fi
[[ -x .venv/bin/python ]] || uv venv --quiet --python python3 .venv
echo "setup: installing $lock into .venv" >&2
uv pip sync --quiet --compile-bytecode --require-hashes --python .venv/bin/python "$lock"
uv pip install --quiet --python .venv/bin/python --no-deps -e .
rm -f .venv/.installed-*
touch "$stamp"
