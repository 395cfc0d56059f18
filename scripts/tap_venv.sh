#!/usr/bin/env bash
# Creates the venv of the Singer tap tap-wootric==0.5.3 (a client written against the real Wootric API,
# used to validate the emulator: integration_tests/test_singer_tap.py). Idempotent: reuses the venv when
# it was built by this same script. Prints the venv's path last.
#
#   scripts/tap_venv.sh      venv at ${TAP_VENV:-.cache/tap-wootric-venv}, built with ${TAP_PYTHON:-python3}
#
# The tap pins requests==2.20.0 and backoff==1.8.0; its singer-python==5.9.0 pins pytz, jsonschema and
# simplejson, and leaves python-dateutil and ciso8601 open. Left open, pip picks today's releases, which
# need not match those 2018 pins; they are pinned here to versions that install and run on Python 3.11
# (ciso8601 from a wheel; simplejson 3.11.1 has no wheel: it builds from source and falls back to pure
# Python when no C compiler is there).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${TAP_VENV:-.cache/tap-wootric-venv}
PYTHON=${TAP_PYTHON:-python3}

read -r -d '' CONSTRAINTS <<'PINS' || true
tap-wootric==0.5.3
singer-python==5.9.0
requests==2.20.0
urllib3==1.24.3
chardet==3.0.4
idna==2.7
certifi==2024.8.30
backoff==1.8.0
pytz==2018.4
jsonschema==2.6.0
simplejson==3.11.1
python-dateutil==2.9.0.post0
six==1.16.0
ciso8601==2.3.1
PINS

stamp="$VENV/.installed-$( (cat "$0"; "$PYTHON" --version) | sha256sum | cut -c1-16)"
if [[ -f $stamp && -x $VENV/bin/python ]] && "$VENV/bin/python" -c "import tap_wootric, singer" 2>/dev/null; then
    echo "$VENV"
    exit 0
fi
start=$SECONDS
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV"
constraints="$VENV/constraints.txt"
printf '%s\n' "$CONSTRAINTS" >"$constraints"
echo "tap_venv: installing tap-wootric==0.5.3 into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" tap-wootric==0.5.3 \
    python-dateutil six ciso8601 certifi
"$VENV/bin/python" -c "import tap_wootric, singer, requests; assert tap_wootric.BASE_URL.startswith('https://')"
touch "$stamp"
echo "tap_venv: ready in $((SECONDS - start)) s" >&2
echo "$VENV"
