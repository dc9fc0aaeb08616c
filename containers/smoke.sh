#!/bin/sh
# Smoke test of the CPU service images (picker, extractor) with podman, end to end:
#   1. build (or reuse, through podman's layer cache) localbase, cryopick-light, -picker, -extractor
#   2. simulate a 3-micrograph project on the host (python -m cryopick simulate)
#   3. start the picker and extractor containers: --network host on 127.0.0.1 free ports, the
#      project mounted at the same path, --user "$(id -u):$(id -g)" so what they write is the host user's
#   4. wait for gRPC health SERVING (python -m cryopick.services.runtime.healthcheck)
#   5. from the host: Select -> LoG picking -> Extract over gRPC (containers/smoke_rpc.py), then
#      (unless --no-flow) `python -m cryopick run` with CRYOPICK_PICKER/EXTRACTOR_ADDRESS pointing
#      at the containers: the flow runs its own Select, AutoPick and Extract jobs through them
#      (the classifier, ranker and topaz services it starts on the host) and finishes the chapter
#      with short settings (5 classes x 3 iterations, one short Topaz epoch)
#   6. check AutoPick/job*/autopick.star and Extract/job*/particles.star exist, are non-empty and
#      every file in the project is owned by and readable/writable for the host user
#   7. stop the containers (SIGTERM; the services drain and must exit 0), remove them
#   8. when run as root (where step 6 proves little): steps 3-7 again with services and client
#      (in the light image) as uid:gid $CRYOPICK_SMOKE_NONROOT (default 1000:1000) over a project
#      owned by it (skip with --no-nonroot)
#
#   containers/smoke.sh [--no-build] [--no-flow] [--no-nonroot] [--keep]
# Environment: CRYOPICK_CONTAINER_SCRATCH (default /tmp/cryopick-containers: podman storage and
# the scratch project), PYTHON (default python3; must have cryopick installed, as on the dev machines).
# Needs root (rootful podman) and: apt-get install -y podman runc debootstrap
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
PYTHON=${PYTHON:-python3}
build=1 flow=1 keep=0 nonroot=1
for arg in "$@"; do
  case $arg in
    --no-build) build=0 ;;
    --no-flow) flow=0 ;;
    --keep) keep=1 ;;
    --no-nonroot) nonroot=0 ;;
    *) echo "usage: $0 [--no-build] [--no-flow] [--no-nonroot] [--keep]" >&2; exit 2 ;;
  esac
done
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

command -v podman >/dev/null || fail "podman is not installed (apt-get install -y podman runc debootstrap)"

# 1. images
if [ "$build" = 1 ]; then
  t=$(now)
  "$here/build.sh" --light
  echo "smoke: images ready in $(since "$t") s"
fi
for role in picker extractor; do
  podman image exists "localhost/cryopick-$role:latest" || fail "image localhost/cryopick-$role:latest missing (run containers/build.sh --light)"
done

# 2. project
mkdir -p "$CRYOPICK_CONTAINER_SCRATCH"
proj=$(mktemp -d "$CRYOPICK_CONTAINER_SCRATCH/smoke-project.XXXXXX")
cids=""
cleanup() {
  for cid in $cids; do podman rm -f -t 5 "$cid" >/dev/null 2>&1 || true; done
  if [ "$keep" = 1 ]; then echo "smoke: project kept: $proj"; else rm -rf "$proj"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$PYTHON" -m cryopick simulate --o "$proj" --n-mics 3 >/dev/null

# 3./4. containers
blas_env=""
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  eval "val=\${$v:-}"
  if [ -n "$val" ]; then blas_env="$blas_env -e $v=$val"; fi
done
start_role() {  # role user project -> prints "container-id port"
  port=$(free_port)
  # shellcheck disable=SC2086
  cid=$(podman run -d --name "cryopick-smoke-$1-$$-$(echo "$2" | tr : -)" --network host --user "$2" \
        -v "$3:$3" $blas_env "localhost/cryopick-$1:latest" \
        --host 127.0.0.1 --port "$port" --project-root "$3" --grace-seconds 20)
  echo "$cid $port"
}
wait_serving() {  # role cid port start-time
  i=0
  until "$PYTHON" -m cryopick.services.runtime.healthcheck "127.0.0.1:$3" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 300 ] || [ "$(podman inspect -f '{{.State.Running}}' "$2" 2>/dev/null)" != "true" ]; then
      podman logs "$2" >&2 || true
      fail "$1 container did not become SERVING on 127.0.0.1:$3"
    fi
    sleep 0.2
  done
  echo "smoke: $1 container SERVING on 127.0.0.1:$3 $(since "$4") s after podman run"
}
start_both() {  # user project: sets picker_cid picker_port extractor_cid extractor_port
  t=$(now); set -- "$1" "$2" $(start_role picker "$1" "$2")
  [ $# = 4 ] || fail "could not start the picker container"
  picker_cid=$3 picker_port=$4; cids="$cids $picker_cid"
  wait_serving picker "$picker_cid" "$picker_port" "$t"
  t=$(now); set -- "$1" "$2" $(start_role extractor "$1" "$2")
  [ $# = 4 ] || fail "could not start the extractor container"
  extractor_cid=$3 extractor_port=$4; cids="$cids $extractor_cid"
  wait_serving extractor "$extractor_cid" "$extractor_port" "$t"
  [ "$(podman exec "$picker_cid" id -u):$(podman exec "$picker_cid" id -g)" = "$1" ] || fail "the picker container does not run as $1"
}
stop_both() {  # SIGTERM: the services drain and must exit 0
  t=$(now)
  for cid in $picker_cid $extractor_cid; do
    podman stop -t 30 "$cid" >/dev/null
    code=$(podman inspect -f '{{.State.ExitCode}}' "$cid")
    [ "$code" = 0 ] || { podman logs "$cid" >&2; fail "container $cid exited with $code after SIGTERM"; }
    podman rm "$cid" >/dev/null
  done
  cids=""
  echo "smoke: containers stopped (exit 0) in $(since "$t") s"
}
check_outputs() {  # project uid gid
  n=0
  for f in "$1"/AutoPick/job*/autopick.star "$1"/Extract/job*/particles.star; do
    [ -s "$f" ] || fail "missing or empty: $f"
    n=$((n + 1))
  done
  [ "$n" -ge 2 ] || fail "expected AutoPick/job*/autopick.star and Extract/job*/particles.star in $1"
  for d in "$1"/AutoPick/job*/ "$1"/Extract/job*/; do
    [ -e "$d/RELION_JOB_EXIT_SUCCESS" ] || fail "job not marked successful: $d"
  done
  foreign=$(find "$1" \( ! -user "$2" -o ! -group "$3" \) -print | head -5)
  [ -z "$foreign" ] || fail "files not owned by $2:$3: $foreign"
  # what the owner cannot read or write (mode bits: root would pass an access(2) test anyway)
  closed=$(find "$1" \( ! -perm -u=rw -o \( -type d ! -perm -u=x \) \) -print | head -5)
  [ -z "$closed" ] || fail "files their owner cannot read/write: $closed"
  echo "smoke: outputs OK ($n STAR files; every file owned by $2:$3 and u+rw)"
}
uid=$(id -u) gid=$(id -g)
start_both "$uid:$gid" "$proj"

# 5. jobs through the containers
t=$(now)
"$PYTHON" "$here/smoke_rpc.py" "$proj" "127.0.0.1:$picker_port" "127.0.0.1:$extractor_port" || fail "gRPC jobs (see above)"
echo "smoke: Select + AutoPick + Extract over gRPC in $(since "$t") s"
if [ "$flow" = 1 ]; then
  t=$(now)
  log=$CRYOPICK_CONTAINER_SCRATCH/smoke-flow-$$.log
  short=$CRYOPICK_CONTAINER_SCRATCH/smoke-params-$$.json
  printf '%s\n' '{"class2d": {"nr_classes": 5, "nr_iter": 3}, "auto_select": {"select_min_nr_classes": 1},
    "topaz_training": {"nr_epochs": 1, "epoch_size": 4, "minibatch_size": 32, "nr_particles_per_micrograph": 30}}' > "$short"
  if ! CRYOPICK_PICKER_ADDRESS="127.0.0.1:$picker_port" CRYOPICK_EXTRACTOR_ADDRESS="127.0.0.1:$extractor_port" \
       "$PYTHON" -m cryopick run --project "$proj" --preset tutorial-cpu --params "$short" --quiet > "$log" 2>&1; then
    cat "$log" >&2; fail "cryopick run against the containers (log: $log)"
  fi
  sed -n '/^cryopick run: flow/,/^$/p' "$log"
  grep -q "^cryopick run: flow Completed" "$log" || { cat "$log" >&2; fail "the flow did not finish the chapter"; }
  echo "smoke: cryopick run (services picker/extractor in containers) in $(since "$t") s"; rm -f "$log" "$short"
fi

# 6. outputs and ownership
check_outputs "$proj" "$uid" "$gid"

# 7. stop
stop_both

# 8. as root, the ownership check above proves little: repeat the jobs with the services and
#    the client (in the light image) all running as a non-root uid over a project owned by it
if [ "$uid" = 0 ] && [ "$nonroot" = 1 ]; then
  nr=${CRYOPICK_SMOKE_NONROOT:-1000:1000}
  proj2=$proj/nonroot
  "$PYTHON" -m cryopick simulate --o "$proj2" --n-mics 3 >/dev/null
  chown -R "$nr" "$proj2" && chmod 700 "$proj2"
  start_both "$nr" "$proj2"
  podman run --rm --network host --user "$nr" -v "$proj2:$proj2" -v "$here/smoke_rpc.py:/opt/smoke_rpc.py:ro" \
    localhost/cryopick-light:latest python /opt/smoke_rpc.py "$proj2" "127.0.0.1:$picker_port" "127.0.0.1:$extractor_port" \
    || fail "gRPC jobs as $nr (see above)"
  check_outputs "$proj2" "${nr%%:*}" "${nr##*:}"
  stop_both
fi
echo "smoke: ok"
