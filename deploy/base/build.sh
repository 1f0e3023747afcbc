#!/usr/bin/env bash
# Builds the base image every Hive image starts from, without pulling from any registry:
#   debootstrap (minbase) of Debian bookworm with Python, the host's locally added CA certificates,
#   then `docker import`, tagged hive/debian-python:bookworm (the BASE_IMAGE the Dockerfiles name).
#
# Usage: deploy/base/build.sh            (as root; needs debootstrap and a Docker engine)
#   HIVE_BASE_MIRROR   the Debian mirror (default: the first one apt uses here, else deb.debian.org)
#   HIVE_BASE_CACHE    where the root filesystem's tarball is kept between builds (default ~/.cache/hive)
#   DOCKER_HOST        the engine to import into (the docker CLI's own variable)
# Where debootstrap is not at hand, build the images FROM python:3.11-slim-bookworm instead:
#   make image BASE_IMAGE=python:3.11-slim-bookworm
set -euo pipefail

TAG="${HIVE_BASE_TAG:-hive/debian-python:bookworm}"
SUITE=bookworm
CACHE="${HIVE_BASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hive}"
TARBALL="$CACHE/debian-python-$SUITE.tar"
PACKAGES=python3,python3-venv,python3-pip,ca-certificates

mirror() {
  if [ -n "${HIVE_BASE_MIRROR:-}" ]; then echo "$HIVE_BASE_MIRROR"; return; fi
  local found
  found=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
          | awk '{print $2}' | head -n1 || true)
  echo "${found:-http://deb.debian.org/debian}"
}

if [ ! -s "$TARBALL" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
  [ "$(id -u)" = 0 ] || { echo "debootstrap needs root: run this script as root" >&2; exit 1; }
  mkdir -p "$CACHE"
  root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "base image: debootstrap $SUITE from $(mirror) (about a minute)..."
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$(mirror)" >"$CACHE/debootstrap.log" 2>&1 \
    || { echo "debootstrap failed; its log: $CACHE/debootstrap.log" >&2; tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
  # Package downloads may pass a proxy that re-signs certificates: trust what the host trusts locally.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null
  fi
  rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/*
  tar -C "$root" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
fi
echo "base image: importing $TARBALL as $TAG"
docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$TARBALL" "$TAG" >/dev/null
docker image inspect --format '{{.Id}} {{.Size}}' "$TAG"
