#!/bin/sh
# Build localhost/localbase:bookworm, the Debian bookworm base every cryopick image starts FROM.
# There is no image registry here: debootstrap a minimal rootfs from the apt mirror, copy the
# host's extra CA certificates in (pip inside the containers needs them), import it into podman.
#   containers/base-image.sh [--force]
# Needs root and: apt-get install -y podman runc debootstrap
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
if [ "${1:-}" != "--force" ] && podman image exists localhost/localbase:bookworm; then
  echo "base-image: localhost/localbase:bookworm exists (--force rebuilds it)"
  exit 0
fi
mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}
: "${mirror:=http://deb.debian.org/debian}"
rootfs=$CRYOPICK_CONTAINER_SCRATCH/rootfs
rm -rf "$rootfs"
t0=$(date +%s)
debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv bookworm "$rootfs" "$mirror" \
  > "$CRYOPICK_CONTAINER_SCRATCH/debootstrap.log" 2>&1 || {
  tail -20 "$CRYOPICK_CONTAINER_SCRATCH/debootstrap.log" >&2; exit 1; }
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
fi
chroot "$rootfs" update-ca-certificates >/dev/null
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - localhost/localbase:bookworm >/dev/null
rm -rf "$rootfs"
echo "base-image: localhost/localbase:bookworm built in $(( $(date +%s) - t0 )) s"
