#!/bin/sh
# Smoke check of a built picker image: start it with --network host on a free port over a scratch
# project, wait for health SERVING, run SelectSubsets from the host, stop it with SIGTERM.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${CONTAINERS_CONF:=$here/podman/containers.conf}"
export CONTAINERS_CONF
proj=$(mktemp -d)
chmod 777 "$proj"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$proj" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "tests/services")
from service_testkit import write_micrographs_star
write_micrographs_star(Path(sys.argv[1]))
PY
cid=$(podman run -d --rm --network host --user "$(id -u)" -v "$proj:/project" localhost/cryopick-picker:latest \
      --port "$port" 2>&1 | tail -1)
# args after the image replace CMD and are appended to the ENTRYPOINT: the later --port wins
trap 'podman stop -t 40 "$cid" >/dev/null 2>&1 || true; rm -rf "$proj"' EXIT
for i in $(seq 60); do
  python3 -m cryopick.services.runtime.healthcheck "127.0.0.1:$port" 2>/dev/null && break
  sleep 1
done
python3 - "$proj" "$port" <<'PY'
import sys, grpc
from cryopick.io.pipeline import allocate_job
from cryopick.services.gen import common_pb2, picker_pb2, picker_pb2_grpc
from cryopick.services.runtime.client import collect_result
proj, port = sys.argv[1], sys.argv[2]
job = allocate_job(proj, "Select")
with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
    r = collect_result(picker_pb2_grpc.PickerServiceStub(ch).SelectSubsets(picker_pb2.SelectSubsetsRequest(
        target=common_pb2.JobTarget(job_dir=job), micrographs_star="CtfFind/job004/micrographs_ctf.star"), timeout=60))
print("smoke: SelectSubsets ->", dict(r.counts))
PY
podman stop -t 40 "$cid" >/dev/null
echo "smoke: ok"
