"""Content-aware cache keys for job tasks, and the check that a cached job still exists.

Prefect's ``INPUTS`` policy hashes argument values, so a STAR path hashes as its string.
Here a job's key is a hash of

- the step name and its parameters,
- every input file's CONTENT: STAR files by their bytes, plus, recursively, the files they
  name (coordinate STARs by bytes; micrographs, stacks and models by size + mtime_ns),
- the code version: ``cryopick.__version__`` and the source of the stage module together
  with every ``cryopick`` module it imports (transitively), both the flow's and the one the
  service reports (``cryopick.v1.InfoService``): a service restarted with other code gets new
  keys, so its jobs run again in new job directories.

A cache hit whose job directory lost its success marker or an output node is dropped, so
the job runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext
from prefect.logging import get_logger

from cryopick.code_version import code_version
from cryopick.io.paths import ProjectPaths
from cryopick.io.star import referenced_files

#: Where results and cache records live, relative to the project.
RESULTS_DIR = ".cryopick/prefect-results"
#: Where the job directory allocated for a cache key is remembered (retries reuse it).
JOBS_DIR = ".cryopick/jobs"



# --------------------------------------------------------------------------- file content


def _mrc_like_fingerprint(path: Path) -> list:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def file_fingerprint(project_root: str | os.PathLike, rel: str, depth: int = 2) -> list:
    """A JSON-able fingerprint of a project file and of the files it names.

    STAR files are hashed by content and, up to ``depth`` levels, the files listed in them are
    fingerprinted too (STAR by content, anything else by size + mtime_ns). A missing file is
    fingerprinted as missing, so it appearing later changes the key. A name that leaves the
    project (``../x.star``, an absolute path elsewhere) is not read: it is keyed by name, and the
    service refuses it.
    """
    return _fingerprint(ProjectPaths(project_root), rel, depth)


def _fingerprint(project: ProjectPaths, rel: str, depth: int) -> list:
    path = project.root / rel
    if not project.names_inside(rel):
        return [rel, "outside the project"]
    if not path.is_file():
        return [rel, "missing"]
    if not rel.lower().endswith(".star"):
        return [rel, *_mrc_like_fingerprint(path)]
    data = path.read_bytes()
    entry: list = [rel, hashlib.sha256(data).hexdigest()]
    if depth > 0:
        children = []
        for name in referenced_files(path):
            if os.path.isabs(name) or name == rel:
                continue
            children.append(_fingerprint(project, name, depth - 1))
        entry.append(children)
    return entry


# --------------------------------------------------------------------------- cache keys


def job_cache_key(
    step: str,
    stage_module: str,
    project_root: str | os.PathLike,
    input_files: Iterable[str],
    params: Mapping[str, Any],
    service_code: str = "",
) -> str:
    """The cache key of one job (hex sha256); ``service_code`` is the code version the service reports."""
    payload = {
        "step": step,
        "code": code_version(stage_module),
        "service_code": service_code,
        "params": params,
        "inputs": [file_fingerprint(project_root, rel) for rel in input_files if rel],
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def job_outputs_present(project_root: str | os.PathLike, result: Mapping[str, Any]) -> bool:
    """True if a job result's directory is marked successful and every output node exists."""
    root = Path(project_root)
    job_dir = result.get("job_dir") or ""
    if not job_dir or not (root / job_dir / "RELION_JOB_EXIT_SUCCESS").exists():
        return False
    return all((root / path).exists() for path, _label in result.get("output_nodes", []))


def drop_stale_record(project_root: str | os.PathLike, key: str) -> bool:
    """Delete the cached result of ``key`` if its job's outputs are gone; True if dropped."""
    from prefect.results import ResultRecord

    record_path = Path(project_root) / RESULTS_DIR / key
    if not record_path.exists():
        return False
    try:
        result = ResultRecord.deserialize(record_path.read_bytes()).result
        stale = not (isinstance(result, Mapping) and job_outputs_present(project_root, result))
    except Exception:  # unreadable record: treat as stale
        stale = True
    if stale:
        record_path.unlink(missing_ok=True)
    return stale


@dataclass
class JobContentPolicy(CachePolicy):
    """Prefect cache policy for job tasks.

    The task's inputs must contain ``project`` (a :class:`~cryopick.flows.tasks.ProjectRef`),
    ``params`` (a pydantic model) and ``files``: the project-relative input files by field
    name (a field may hold a tuple of files).
    """

    step: str = ""
    stage_module: str = ""
    role: str = ""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> Optional[str]:
        service_code = self._service_code(inputs["project"])
        key = key_for_inputs(self.step, self.stage_module, inputs, service_code)
        if service_code == UNREACHABLE:
            _KEYS_WITHOUT_SERVICE_CODE.add(key)
        project_root = inputs["project"].project_dir
        if drop_stale_record(project_root, key):
            get_logger("cryopick.flows").info(
                "%s: the cached job's outputs are gone from %s; running it again", self.step, project_root
            )
        return key

    def _service_code(self, project: Any) -> str:
        from cryopick.flows.client import ServiceCallError, resolve_address, service_code_version

        if not self.role:
            return ""
        try:
            address = resolve_address(self.role, project.services.model_dump())
        except ServiceCallError:
            return "no-address"  # the task itself reports the missing address
        return service_code_version(address, self.stage_module, timeout_s=project.connect_timeout_s)


#: What :func:`~cryopick.flows.client.service_code_version` says of a service that did not answer.
UNREACHABLE = "unreachable"
_KEYS_WITHOUT_SERVICE_CODE: set[str] = set()


def key_lacks_service_code(key: str) -> bool:
    """True if ``key`` was computed while its service did not answer with its code version.

    Such a key is not the job's: a task must not give it a job directory, but fail transiently,
    so its retry computes the key again once the service answers (a key that changed from one
    attempt to the next would abandon the half-done job directory of the first).
    """
    return key in _KEYS_WITHOUT_SERVICE_CODE


def input_files_of(files: Mapping[str, Any]) -> list[str]:
    """The input files of a task call, in field-name order (tuples of files flattened)."""
    out: list[str] = []
    for _, value in sorted(files.items()):
        out.extend(v for v in (value if isinstance(value, (tuple, list)) else (value,)) if isinstance(v, str) and v)
    return out


def key_for_inputs(step: str, stage_module: str, inputs: Mapping[str, Any], service_code: str = "") -> str:
    """:func:`job_cache_key` from a task's call arguments (``project``, ``params``, ``files``)."""
    params = inputs.get("params")
    params_dict = params.model_dump(mode="json") if hasattr(params, "model_dump") else dict(params or {})
    files = dict(inputs.get("files") or {})
    return job_cache_key(
        step,
        stage_module,
        inputs["project"].project_dir,
        input_files_of(files),
        {"params": params_dict, "files": {k: list(v) if isinstance(v, tuple) else v for k, v in files.items()}},
        service_code,
    )
