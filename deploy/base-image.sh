#!/usr/bin/env bash
# Make an offline stand-in for the official python:3.11-slim-bookworm image, so that
# deploy/Dockerfile builds unchanged with podman where no container registry is
# reachable (only Debian's packages and PyPI). tests/deploy/test_image.py runs it.
#
#   sudo deploy/base-image.sh            # tags docker.io/library/python:3.11-slim-bookworm
#   BASE_TAG=localhost/py311:base deploy/base-image.sh
#
# Then build with the image's own FROM line unchanged:
#   podman --runtime runc build --format docker --pull=never --network host \
#     --ulimit nofile=$(ulimit -Hn):$(ulimit -Hn) --ulimit nproc=32768:32768 \
#     -f deploy/Dockerfile -t localhost/signatory-tracker:test .
#
# What differs from the official image: Debian's Python 3.11 (3.11.2) in /usr/bin, with
# /usr/local made a virtual environment so that python and pip sit in /usr/local/bin and
# packages go to /usr/local/lib/python3.11/site-packages, as in the official image.
# Where a registry is reachable, pull the official image instead; this makes nothing
# when the tag exists (FORCE=1 makes it again).
# Podman on machines with a hybrid cgroup layout and fixed hard limits: crun refuses the
# layout (use --runtime runc); hard limits cannot be raised (pass --ulimit as above to
# build and run); the OCI format drops HEALTHCHECK (use --format docker); without
# systemd, health checks do not run on a timer: run `podman healthcheck run NAME`.
# Needs root (debootstrap, chroot); about 2 minutes the first time.
set -euo pipefail
BASE_TAG=${BASE_TAG:-docker.io/library/python:3.11-slim-bookworm}
ROOTFS=$(mktemp -d /tmp/base-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v runc >/dev/null; then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap fuse-overlayfs uidmap >/dev/null
fi
if [ "${FORCE:-0}" != 1 ] && podman image exists "$BASE_TAG"; then
  echo "$BASE_TAG exists"; exit 0
fi

debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$ROOTFS" http://deb.debian.org/debian >/dev/null
chroot "$ROOTFS" python3 -m venv /usr/local
rm -f "$ROOTFS"/usr/local/bin/activate* "$ROOTFS"/usr/local/bin/Activate.ps1
# Certificates this machine trusts beyond Debian's (a TLS-inspecting proxy in front of PyPI,
# for instance) go into the image too, so that pip inside the build verifies them.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS"/usr/local/share/ca-certificates/
  chroot "$ROOTFS" update-ca-certificates >/dev/null
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$ROOTFS"/etc/pip.conf
fi
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE_TAG" >/dev/null
echo "made $BASE_TAG"
