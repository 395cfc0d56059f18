#!/usr/bin/env bash
# Build a local stand-in for airbyte/python-connector-base (Debian bookworm + Python 3.11, user
# `airbyte` uid 1000), since base images cannot be pulled here. Cached: does nothing when the image
# already exists (set FORCE=1 to rebuild).
#
#   scripts/build_base_image.sh [IMAGE]     default IMAGE: localhost/python-connector-base:local
set -euo pipefail

IMAGE=${1:-${BASE_IMAGE_LOCAL:-localhost/python-connector-base:local}}
PODMAN=(podman --runtime runc)

if [[ -z ${FORCE:-} ]] && "${PODMAN[@]}" image exists "$IMAGE"; then
    echo "base image $IMAGE exists (cached)"
    exit 0
fi

# The Debian mirror this machine's apt already uses (deb822 sources first, then the one-line format).
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    mirror=$(awk '
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") { print uri; exit } }
    ' "$f")
    [[ -n $mirror ]] && break
done
if [[ -z $mirror && -f /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
fi
if [[ -z $mirror ]]; then
    echo "no Debian bookworm mirror found in the apt sources" >&2
    exit 1
fi

rootfs=$(mktemp -d /var/tmp/pcb-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

start=$SECONDS
echo "debootstrap bookworm (minbase + python3) ..."
debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates,tzdata \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -40 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"

# What Airbyte's base does on top of python:3.11-slim-bookworm.
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
ln -snf python3 "$rootfs/usr/bin/python"
ln -snf /usr/share/zoneinfo/Etc/UTC "$rootfs/etc/localtime"
echo "Etc/UTC" >"$rootfs/etc/timezone"
chroot "$rootfs" groupadd --system --gid 1000 airbyte
chroot "$rootfs" useradd --uid 1000 --gid 1000 --no-create-home --shell /usr/sbin/nologin airbyte
install -d -m 755 -o 1000 -g 1000 "$rootfs/airbyte"
# Keep it small: no apt lists, no downloaded debs, no docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*

tar -C "$rootfs" -c . | "${PODMAN[@]}" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$IMAGE" >/dev/null 2>&1
echo "built $IMAGE in $((SECONDS - start)) s"
