#!/usr/bin/env bash
# poetry.lock is the source of truth for every dependency. This script re-locks it after a change to
# pyproject.toml, then exports requirements.lock (runtime) and requirements-dev.lock (runtime + the dev
# group) from it, with hashes: what scripts/setup.sh and the Dockerfile install with --require-hashes.
# unit_tests/test_packaging.py fails when the exports and poetry.lock disagree.
#
#   scripts/lock.sh             poetry lock (versions already locked stay, where pyproject.toml allows), export
#   scripts/lock.sh --upgrade   poetry lock --regenerate (the newest versions pyproject.toml allows), export
#   scripts/lock.sh --export    export only (no network)
#
# Poetry runs from its own venv (${POETRY_VENV:-.cache/poetry-venv}), installed with pip on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

POETRY_VERSION=2.5.1
EXPORT_PLUGIN_VERSION=1.10.1
VENV=${POETRY_VENV:-.cache/poetry-venv}
PYTHON=${POETRY_PYTHON:-python3}

mode=${1:-lock}
case "$mode" in lock | --upgrade | --export) ;; *) echo "usage: scripts/lock.sh [--upgrade | --export]" >&2; exit 2 ;; esac

if ! "$VENV/bin/python" -c "import poetry_plugin_export" 2>/dev/null \
    || [[ "$("$VENV/bin/python" -m poetry --version 2>/dev/null)" != *"$POETRY_VERSION"* ]]; then
  echo "lock: installing poetry $POETRY_VERSION into $VENV" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "poetry==$POETRY_VERSION" "poetry-plugin-export==$EXPORT_PLUGIN_VERSION"
fi

# Poetry reads a package's metadata from PyPI's JSON API, which some PyPI mirrors do not serve. This reads
# it from the standard simple API instead (PEP 691), as Poetry does for any other index; the lock is the
# same, its packages still come from the source "PyPI".
poetry() {
  POETRY_VIRTUALENVS_CREATE=false "$VENV/bin/python" - "$@" <<'PY'
import sys

from poetry.console.application import main
from poetry.repositories.legacy_repository import LegacyRepository
from poetry.repositories.pypi_repository import PyPiRepository

PyPiRepository._get_release_info = LegacyRepository._get_release_info
PyPiRepository.find_links_for_package = LegacyRepository.find_links_for_package
sys.argv = ["poetry", *sys.argv[1:]]
sys.exit(main())
PY
}

case "$mode" in
  lock) poetry lock ;;
  --upgrade) poetry lock --regenerate ;;
esac
poetry export --format requirements.txt --output requirements.lock
poetry export --format requirements.txt --with dev --output requirements-dev.lock
echo "lock: requirements.lock and requirements-dev.lock exported from poetry.lock" >&2
