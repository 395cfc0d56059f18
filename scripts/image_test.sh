#!/usr/bin/env bash
# Builds the connector's image with podman and proves that it works and reads exactly what the package
# reads outside it:
#   1. installs podman, runc and debootstrap with apt when missing (needs root);
#   2. builds the local stand-in of the Python connector base (cached: scripts/build_base_image.sh);
#   3. builds the image and reports its size; checks what is (not) inside;
#   4. serves an emulated Wootric account on loopback, runs spec, check, discover and a read of every stream
#      in the image, runs the same read with .venv/bin/source-wootric, and compares the RECORD messages
#      (without emitted_at): they must be identical.
# Environment: IMAGE (default localhost/source-wootric:dev), IMAGE_TEST_USERS (default 300),
# KEEP_WORKDIR=1 to keep the config, catalog and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

IMAGE=${IMAGE:-localhost/source-wootric:dev}
BASE=${BASE_IMAGE_LOCAL:-localhost/python-connector-base:local}
PY=${PYTHON:-$ROOT/.venv/bin/python}
LOCAL_SOURCE=${LOCAL_SOURCE:-$ROOT/.venv/bin/source-wootric}
USERS=${IMAGE_TEST_USERS:-300}
CA=/etc/ssl/certs/ca-certificates.crt
PODMAN=(podman --runtime runc)
LIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

t0=$SECONDS
step() { echo "== [$((SECONDS - t0)) s] $*"; }
fail() { echo "image_test: FAILED: $*" >&2; exit 1; }

# 1. tools ------------------------------------------------------------------------------------------
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
    step "installing ${missing[*]} with apt"
    [[ $(id -u) == 0 ]] || fail "${missing[*]} missing and not root: apt-get install -y ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[[ -x $PY && -x $LOCAL_SOURCE ]] || fail "no $PY or $LOCAL_SOURCE: run scripts/setup.sh first"

WORK=$(mktemp -d /tmp/image-test.XXXXXX)
emulator_pid=""
cleanup() {
    if [[ -n $emulator_pid ]]; then
        touch "$WORK/stop"
        kill "$emulator_pid" 2>/dev/null || true
        wait "$emulator_pid" 2>/dev/null || true
    fi
    if [[ -z ${KEEP_WORKDIR:-} ]]; then rm -rf "$WORK"; else echo "workdir kept: $WORK"; fi
}
trap cleanup EXIT

# 2. base -------------------------------------------------------------------------------------------
step "base image $BASE"
bash scripts/build_base_image.sh "$BASE"
base_done=$SECONDS

# 3. image ------------------------------------------------------------------------------------------
step "building $IMAGE"
build=(build --network host "${LIMITS[@]}" --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE" -f Dockerfile)
# The TLS proxy's CA bundle, for the build steps only (a bind mount is never committed to a layer).
[[ -f $CA ]] && build+=(-v "$CA:$CA:ro")
"${PODMAN[@]}" "${build[@]}" . >"$WORK/build.log" 2>&1 || { tail -60 "$WORK/build.log" >&2; fail "podman build"; }
build_done=$SECONDS
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
base_size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$BASE")
echo "image $IMAGE: $((size / 1000000)) MB ($(((size - base_size) / 1000000)) MB above the base)"

run_image() { "${PODMAN[@]}" run --rm -i --network host "${LIMITS[@]}" "$@"; }

step "checking the image's contents"
base_ca=$(run_image --entrypoint sha256sum "$BASE" "$CA" | cut -d' ' -f1)
run_image --entrypoint /opt/venv/bin/python -e "BASE_CA_SHA256=$base_ca" "$IMAGE" - <<'PYEOF' || fail "image contents"
import hashlib, importlib.util, os, pathlib, shutil, sys
problems = []
if os.getuid() != 1000 or os.environ.get("USER", "airbyte") != "airbyte":
    problems.append(f"runs as uid {os.getuid()}, not airbyte (1000)")
if os.environ.get("AIRBYTE_ENTRYPOINT") != "source-wootric":
    problems.append(f"AIRBYTE_ENTRYPOINT={os.environ.get('AIRBYTE_ENTRYPOINT')!r}")
if shutil.which("source-wootric") != "/opt/venv/bin/source-wootric":
    problems.append(f"source-wootric resolves to {shutil.which('source-wootric')}")
import source_wootric.run  # noqa: F401  the package and its dependencies import
for unwanted in ("wootric_emulator", "pytest", "hypothesis", "ruff", "pip", "unit_tests", "integration_tests"):
    if importlib.util.find_spec(unwanted) is not None:
        problems.append(f"{unwanted} is installed")
for path in ("/build", "/root/.cache/pip", "/opt/venv/bin/pip"):
    if os.path.lexists(path):
        problems.append(f"{path} exists")
ca = pathlib.Path("/etc/ssl/certs/ca-certificates.crt")
if ca.exists() and hashlib.sha256(ca.read_bytes()).hexdigest() != os.environ["BASE_CA_SHA256"]:
    problems.append("the CA bundle differs from the base image's: the build's bundle was baked in")
print("\n".join(problems) or "contents ok: package only, user airbyte, entrypoint set, no build CA")
sys.exit(1 if problems else 0)
PYEOF
"${PODMAN[@]}" image inspect --format '{{json .Config.Entrypoint}} user={{.Config.User}}' "$IMAGE"
labels=$("${PODMAN[@]}" image inspect --format '{{index .Config.Labels "io.airbyte.name"}}:{{index .Config.Labels "io.airbyte.version"}}' "$IMAGE")
expected=$("$PY" -c 'import yaml; d = yaml.safe_load(open("metadata.yaml"))["data"]; print(d["dockerRepository"] + ":" + d["dockerImageTag"])')
[[ $labels == "$expected" ]] || { echo "image labels $labels, metadata.yaml says $expected" >&2; exit 1; }
echo "labels ok: $labels"

# 4. against an emulated account ---------------------------------------------------------------------
step "starting the emulator ($USERS users)"
chmod 755 "$WORK"
"$PY" - "$WORK" "$USERS" >"$WORK/emulator.log" 2>&1 <<'PYEOF' &
import json, os, sys, time
from pathlib import Path
from wootric_emulator import DatasetSpec, Emulator

work, users = Path(sys.argv[1]), int(sys.argv[2])
parent = os.getppid()
with Emulator(dataset=DatasetSpec(users=users, seed=11), account_timezone="America/Los_Angeles") as emu:
    config = {
        "credentials": {
            "auth_type": "client_credentials",
            "client_id": "demo-client-id",
            "client_secret": "demo-client-secret",
        },
        "start_date": "2019-01-01T00:00:00Z",
        "base_url": emu.url,
        "account_timezone": "America/Los_Angeles",
    }
    (work / "config.json").write_text(json.dumps(config, indent=2))
    os.chmod(work / "config.json", 0o644)
    (work / "ready").write_text(emu.url)
    print("serving", emu.url, flush=True)
    deadline = time.monotonic() + 1800  # never outlives a forgotten test
    while not (work / "stop").exists() and os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.2)
PYEOF
emulator_pid=$!
for _ in $(seq 300); do
    [[ -f $WORK/ready ]] && break
    kill -0 "$emulator_pid" 2>/dev/null || { cat "$WORK/emulator.log" >&2; fail "the emulator did not start"; }
    sleep 0.2
done
[[ -f $WORK/ready ]] || fail "the emulator did not start within 60 s"
echo "emulator at $(cat "$WORK/ready")"

MOUNT=(-v "$WORK:/secrets:ro")
step "spec"
run_image "${MOUNT[@]}" "$IMAGE" spec >"$WORK/spec.jsonl" || fail "spec exited $?"
grep -q '"type":"SPEC"' "$WORK/spec.jsonl" || fail "spec printed no SPEC message"

step "check"
run_image "${MOUNT[@]}" "$IMAGE" check --config /secrets/config.json >"$WORK/check.jsonl" || fail "check exited $?"
grep -q '"status":"SUCCEEDED"' "$WORK/check.jsonl" || { grep CONNECTION_STATUS "$WORK/check.jsonl" >&2; fail "check did not succeed"; }

step "discover, and the configured catalog of every stream"
run_image "${MOUNT[@]}" "$IMAGE" discover --config /secrets/config.json >"$WORK/discover.jsonl" || fail "discover exited $?"
"$PY" - "$WORK/discover.jsonl" "$WORK/catalog.json" <<'PYEOF' || fail "catalog"
import json, sys

catalog = next(
    json.loads(line)["catalog"] for line in open(sys.argv[1]) if line.startswith("{") and '"type":"CATALOG"' in line
)
streams = []
for stream in catalog["streams"]:
    incremental = "incremental" in stream["supported_sync_modes"]
    streams.append(
        {
            "stream": stream,
            "sync_mode": "incremental" if incremental else "full_refresh",
            "destination_sync_mode": "append_dedup" if incremental else "overwrite",
            "primary_key": stream.get("source_defined_primary_key") or [],
            **({"cursor_field": stream["default_cursor_field"]} if stream.get("default_cursor_field") else {}),
        }
    )
json.dump({"streams": streams}, open(sys.argv[2], "w"), indent=2)
print("streams:", ", ".join(s["stream"]["name"] + " (" + s["sync_mode"] + ")" for s in streams))
PYEOF
chmod 644 "$WORK/catalog.json"

step "read in the image"
read_start=$SECONDS
run_image "${MOUNT[@]}" "$IMAGE" read --config /secrets/config.json --catalog /secrets/catalog.json \
    >"$WORK/read-image.jsonl" 2>"$WORK/read-image.err" || { tail -20 "$WORK/read-image.err" >&2; fail "read in the image"; }
echo "read in the image: $((SECONDS - read_start)) s"

step "the same read outside the image ($LOCAL_SOURCE)"
read_start=$SECONDS
"$LOCAL_SOURCE" read --config "$WORK/config.json" --catalog "$WORK/catalog.json" \
    >"$WORK/read-local.jsonl" 2>"$WORK/read-local.err" || { tail -20 "$WORK/read-local.err" >&2; fail "read outside the image"; }
echo "read outside the image: $((SECONDS - read_start)) s"

step "comparing the records"
"$PY" - "$WORK/read-image.jsonl" "$WORK/read-local.jsonl" "$WORK/catalog.json" <<'PYEOF' || fail "records differ"
import json, sys
from collections import Counter


def records(path):
    out, errors = [], []
    for line in open(path, encoding="utf-8"):
        if not line.startswith("{"):
            continue
        message = json.loads(line)
        if message["type"] == "RECORD":
            record = message["record"]
            record.pop("emitted_at", None)
            out.append(record)
        elif message["type"] == "TRACE" and message["trace"].get("type") == "ERROR":
            errors.append(message["trace"]["error"]["message"])
    return out, errors


image, image_errors = records(sys.argv[1])
local, local_errors = records(sys.argv[2])
streams = [s["stream"]["name"] for s in json.load(open(sys.argv[3]))["streams"]]
counts = Counter(r["stream"] for r in image)
for stream in streams:
    print(f"  {stream:<22} {counts[stream]:>7} records")
problems = [f"error in the image: {e}" for e in image_errors] + [f"error outside: {e}" for e in local_errors]
problems += [f"no records of {s}" for s in streams if not counts[s]]
if image != local:
    local_counts = Counter(r["stream"] for r in local)
    problems.append(f"RECORD messages differ: image {dict(counts)} vs outside {dict(local_counts)}")
    for i, (a, b) in enumerate(zip(image, local)):
        if a != b:
            problems.append(f"first difference at message {i}:\n    image:   {a}\n    outside: {b}")
            break
print("\n".join(problems) or f"identical: {len(image)} RECORD messages in both reads")
sys.exit(1 if problems else 0)
PYEOF

echo "image_test: OK in $((SECONDS - t0)) s (base $((base_done - t0)) s, image build $((build_done - base_done)) s," \
    "size $((size / 1000000)) MB)"
