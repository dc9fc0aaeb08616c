#!/bin/sh
# Build the cryopick images with podman (build context: the repository root).
#   containers/build.sh [--light] [--smoke]
#     (default)  localbase, cryopick-light, -picker, -extractor, then cryopick-base (torch +
#                topaz-em: several GB from PyPI) and -classifier, -ranker, -topaz
#     --light    only the CPU images: localbase, cryopick-light, cryopick-picker, cryopick-extractor
#     --smoke    then run containers/smoke.sh --no-build
# podman settings and storage: containers/env.sh (scratch dir /tmp/cryopick-containers).
# TORCH_INDEX_URL=...: --build-arg for Containerfile.base (e.g. a CPU-only torch index).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
. "$here/env.sh"
light=0 smoke=0
for arg in "$@"; do
  case $arg in
    --light) light=1 ;;
    --smoke) smoke=1 ;;
    *) echo "usage: $0 [--light] [--smoke]" >&2; exit 2 ;;
  esac
done
cd "$repo"
build() {  # Containerfile-suffix image [extra podman build args]
  file=$1 image=$2; shift 2
  t0=$(date +%s)
  podman build --ignorefile containers/containerignore "$@" -f "containers/Containerfile.$file" -t "$image" . \
    > "$CRYOPICK_CONTAINER_SCRATCH/build-$file.log" 2>&1 || {
    tail -30 "$CRYOPICK_CONTAINER_SCRATCH/build-$file.log" >&2
    echo "build: $image FAILED (log: $CRYOPICK_CONTAINER_SCRATCH/build-$file.log)" >&2; exit 1; }
  echo "build: $image in $(( $(date +%s) - t0 )) s"
}

"$here/base-image.sh"
build light localhost/cryopick-light:latest
for role in picker extractor; do
  build "$role" "localhost/cryopick-$role:latest"
done
if [ "$light" = 0 ]; then
  build base localhost/cryopick-base:latest ${TORCH_INDEX_URL:+--build-arg TORCH_INDEX_URL=$TORCH_INDEX_URL}
  for role in classifier ranker topaz; do
    build "$role" "localhost/cryopick-$role:latest"
  done
fi
podman image prune -f >/dev/null  # drop the untagged images earlier builds left behind
if [ "$smoke" = 1 ]; then
  exec "$here/smoke.sh" --no-build
fi
