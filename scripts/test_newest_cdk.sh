#!/usr/bin/env bash
# The suite again on the newest airbyte-cdk 7.x the registry offers, when it is newer than the locked one:
# a minor CDK release that breaks the connector shows here before anyone upgrades the lock. Builds .venv-newest
# from the locked dependencies plus that CDK release; runs every test but those of packaging (image, wheel,
# PyAirbyte, the Singer tap), which install from the lock anyway. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh  # uv, and the locked versions
locked=$(sed -n 's/^airbyte-cdk==\([^ ;]*\).*/\1/p' requirements.lock)
newest=$(python3 -m pip index versions airbyte-cdk --disable-pip-version-check 2>/dev/null \
  | sed -n 's/^Available versions: //p' | tr ',' '\n' | tr -d ' ' | grep '^7\.' | head -n 1)
if [[ -z "$newest" ]]; then
  echo "newest CDK: the registry did not answer; not run" >&2
  exit 1
fi
if [[ "$newest" == "$locked" && -z "${FORCE_NEWEST_CDK:-}" ]]; then
  echo "newest CDK: $newest is the locked version, on which the suite ran"
  exit 0
fi
echo "newest CDK: testing airbyte-cdk $newest (locked: $locked)"
uv() { if command -v uv >/dev/null 2>&1; then command uv "$@"; else python3 -m uv "$@"; fi; }
[[ -x .venv-newest/bin/python ]] || uv venv --quiet --python python3 .venv-newest
uv pip sync --quiet --python .venv-newest/bin/python requirements-dev.lock
uv pip install --quiet --python .venv-newest/bin/python "airbyte-cdk==$newest"
uv pip install --quiet --python .venv-newest/bin/python --no-deps -e .
exec .venv-newest/bin/python -m pytest -m "not image_tests" -q -rsx \
  --ignore integration_tests/test_image.py --ignore integration_tests/test_wheel.py \
  --ignore integration_tests/test_pyairbyte.py --ignore integration_tests/test_singer_tap.py "$@"
