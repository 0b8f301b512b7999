#!/usr/bin/env bash
# Make a Debian bookworm base image from Debian packages alone (no container registry needed):
# debootstrap a minbase with python3, python3-venv and ca-certificates, then import it into the
# local image store (podman and buildah share it). Used as BASE_IMAGE for the Containerfile where
# no registry is reachable (air-gapped builds, this project's CI).
#
#   packaging/make-base.sh [IMAGE]        IMAGE defaults to localhost/ingressctl-base:bookworm
#   FORCE=1 packaging/make-base.sh        rebuild even if the image exists
#   DEBIAN_MIRROR=http://mirror.local/debian packaging/make-base.sh
set -euo pipefail

image="${1:-localhost/ingressctl-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${DEBIAN_SUITE:-bookworm}"

if command -v podman >/dev/null 2>&1; then
  exists() { podman image exists "$image"; }
  import() { podman import --quiet - "$image"; }
elif command -v buildah >/dev/null 2>&1; then
  exists() { buildah inspect --type image "$image" >/dev/null 2>&1; }
  # buildah cannot import a tarball itself: wrap it as a one-layer image via `buildah from scratch`.
  import() {
    local ctr mnt
    ctr=$(buildah from scratch)
    mnt=$(buildah mount "$ctr")
    tar -C "$mnt" -x
    buildah umount "$ctr" >/dev/null
    buildah commit --quiet "$ctr" "$image" >/dev/null
    buildah rm "$ctr" >/dev/null
  }
elif command -v docker >/dev/null 2>&1; then
  exists() { docker image inspect "$image" >/dev/null 2>&1; }
  import() { docker import - "$image" >/dev/null; }
else
  echo "error: none of podman, buildah or docker is installed (apt-get install podman buildah)" >&2
  exit 2
fi

if [ -z "${FORCE:-}" ] && exists; then
  echo "base image $image exists (FORCE=1 to rebuild)"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2
  exit 2
}
if [ "$(id -u)" != 0 ]; then
  echo "error: debootstrap needs root" >&2
  exit 2
fi

rootfs=$(mktemp -d /var/tmp/ingressctl-base.XXXXXX)
trap 'rm -rf --one-file-system "$rootfs"' EXIT
echo "debootstrap $suite from $mirror into $rootfs"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -n 30 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  exit 1
}
rm -f "$rootfs.log"
# Package lists and caches are not part of an image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar --numeric-owner -C "$rootfs" -c . | import
echo "imported $image"
