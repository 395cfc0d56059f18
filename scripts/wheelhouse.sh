#!/usr/bin/env bash
# Builds a wheelhouse: the connector's wheel (from the working tree) and the wheels of its locked dependencies
# (requirements.lock, hash-checked), from which the connector installs with no index, as a user of an
# unregistered connector would install it:
#   pip install --no-index --find-links DIR airbyte-source-wootric
#   ab.get_source("source-wootric", pip_url="airbyte-source-wootric --no-index --find-links DIR")   # PyAirbyte
# The dependencies' wheels (for the Python that runs this) are downloaded once per requirements.lock (a stamp
# in DIR); the connector's wheel is built on every run. Needs python3 with pip.
#   scripts/wheelhouse.sh [DIR]    default .cache/wheelhouse; prints the connector wheel's path last
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${1:-.cache/wheelhouse}
PYTHON=${WHEELHOUSE_PYTHON:-python3}
pip() { "$PYTHON" -m pip --quiet --disable-pip-version-check "$@"; }

# Tests on two workers may run this at once: one at a time, and a wheel another is installing is replaced, never
# removed (a rename).
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
stamp="$DIR/.requirements-$(sha256sum requirements.lock | cut -c1-16)"
if [[ ! -f $stamp ]]; then
  echo "wheelhouse: downloading the wheels of requirements.lock into $DIR" >&2
  rm -f "$DIR"/*.whl "$DIR"/.requirements-*  # no wheel of another lock stays
  pip download --require-hashes --only-binary=:all: --dest "$DIR" -r requirements.lock
  touch "$stamp"
fi
build=$(mktemp -d "$DIR/.build.XXXXXX")
pip wheel --no-deps --wheel-dir "$build" .
built=$(basename "$build"/airbyte_source_wootric-*.whl)
find "$DIR" -maxdepth 1 -name 'airbyte_source_wootric-*.whl' ! -name "$built" -delete  # other versions
mv -f "$build/$built" "$DIR/$built" && rmdir "$build"
echo "$DIR/$built"
