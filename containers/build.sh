#!/bin/sh
# Build the cryopick images with podman: the shared base, then one image per service.
#   containers/build.sh [--smoke]
# Uses containers/podman/containers.conf (runc, cgroupfs, ulimits) unless CONTAINERS_CONF is set.
# --smoke: start the picker image on a scratch project and check its health and one RPC.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
: "${CONTAINERS_CONF:=$here/podman/containers.conf}"
export CONTAINERS_CONF
cd "$repo"

if ! podman image exists localhost/localbase:bookworm; then
  echo "localhost/localbase:bookworm is missing: see containers/README.md (Base image)" >&2
  exit 1
fi
podman build ${TORCH_INDEX_URL:+--build-arg TORCH_INDEX_URL=$TORCH_INDEX_URL} \
  -f containers/Containerfile.base -t localhost/cryopick-base:latest .
for role in picker extractor classifier ranker topaz; do
  podman build -f "containers/Containerfile.$role" -t "localhost/cryopick-$role:latest" .
done

if [ "${1:-}" = "--smoke" ]; then
  exec "$here/smoke.sh"
fi
