# Sourced by the scripts in containers/ (which set $here to this directory first):
# podman settings for the development machines.
#
# Everything podman keeps (images, layers, container state, the base rootfs) goes under
# $CRYOPICK_CONTAINER_SCRATCH (default /tmp/cryopick-containers), never into the repository:
#   storage.conf   graphroot/runroot under the scratch dir (CONTAINERS_STORAGE_CONF)
#   containers.conf  containers/podman/containers.conf (runc, cgroupfs, ulimits) plus a
#                    network_config_dir under the scratch dir (CONTAINERS_CONF)
# Set CONTAINERS_CONF / CONTAINERS_STORAGE_CONF yourself to use other files.
# shellcheck shell=sh
: "${CRYOPICK_CONTAINER_SCRATCH:=/tmp/cryopick-containers}"
export CRYOPICK_CONTAINER_SCRATCH
mkdir -p "$CRYOPICK_CONTAINER_SCRATCH/storage" "$CRYOPICK_CONTAINER_SCRATCH/run" "$CRYOPICK_CONTAINER_SCRATCH/networks"
if [ -z "${CONTAINERS_STORAGE_CONF:-}" ]; then
  CONTAINERS_STORAGE_CONF=$CRYOPICK_CONTAINER_SCRATCH/storage.conf
  cat > "$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "overlay"
graphroot = "$CRYOPICK_CONTAINER_SCRATCH/storage"
runroot = "$CRYOPICK_CONTAINER_SCRATCH/run"
CONF
fi
if [ -z "${CONTAINERS_CONF:-}" ]; then
  CONTAINERS_CONF=$CRYOPICK_CONTAINER_SCRATCH/containers.conf
  { cat "$here/podman/containers.conf"; printf '\n[network]\nnetwork_config_dir = "%s"\n' "$CRYOPICK_CONTAINER_SCRATCH/networks"; } \
    > "$CONTAINERS_CONF"
fi
export CONTAINERS_CONF CONTAINERS_STORAGE_CONF
