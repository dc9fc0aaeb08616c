"""The stage registry: one line per RELION job cryopick runs.

Everything that knows about stages derives from this table: the ``cryopick <stage>``
sub-commands (:mod:`cryopick.cli`), the RPC methods each service exposes
(``cryopick.services``), the flow's job tasks (``cryopick.flows.tasks``) and the tests that
cross-check the request messages, ``Params``, command line and flow forms.

Adding a stage: a numeric module, a stage module (``Params`` + ``run``), a request message and
RPC in ``protos/``, one line here, and one line in the flow's chain.

This module imports no stage: looking a stage up costs nothing; :meth:`StageSpec.module`
imports it on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from cryopick.io import nodes

#: Service roles, each a gRPC service in ``protos/cryopick/v1/<role>.proto`` and a container.
ROLES = ("picker", "extractor", "classifier", "ranker", "topaz")
#: gRPC service name of each role.
SERVICE_NAMES = {
    "picker": "cryopick.v1.PickerService",
    "extractor": "cryopick.v1.ExtractorService",
    "classifier": "cryopick.v1.ClassifierService",
    "ranker": "cryopick.v1.RankerService",
    "topaz": "cryopick.v1.TopazService",
}


@dataclass(frozen=True)
class StageSpec:
    """One RELION job.

    Attributes
    ----------
    name : str
        The sub-command (``cryopick <name>``) and registry key, e.g. ``autopick-log``.
    title : str
        What a person calls the job ("LoG picking"); the flow's task name.
    module_name : str
        ``cryopick.stages.<module>``: defines ``Params`` and ``run``.
    job_type : str
        RELION job directory type: the stage writes ``<job_type>/jobNNN/``.
    process_label : str
        RELION process type label in ``default_pipeline.star`` and ``job.star``.
    role, rpc : str
        The service and its RPC method; the request message is ``<rpc>Request``.
    outputs : tuple of str
        Node type labels of the job's output nodes.
    summary : str
        One line for ``cryopick --help``.
    cli_env : tuple of (str, str)
        Environment defaults the command sets before anything is imported.
    """

    name: str
    title: str
    module_name: str
    job_type: str
    process_label: str
    role: str
    rpc: str
    outputs: tuple[str, ...]
    summary: str
    cli_env: tuple[tuple[str, str], ...] = ()

    @property
    def request(self) -> str:
        """Name of the gRPC request message."""
        return f"{self.rpc}Request"

    @property
    def service_name(self) -> str:
        return SERVICE_NAMES[self.role]

    def module(self) -> ModuleType:
        """The stage module (imported on first use)."""
        return importlib.import_module(self.module_name)

    @property
    def params_class(self) -> type:
        return self.module().Params

    @property
    def implemented(self) -> bool:
        """Whether the stage can run (its module defines ``run``); else its RPC answers UNIMPLEMENTED."""
        return callable(getattr(self.module(), "run", None))


_BLAS_1 = (("OPENBLAS_NUM_THREADS", "1"),)  # per-micrograph threads, single-threaded BLAS

STAGES: tuple[StageSpec, ...] = (
    StageSpec("select", "Subset selection", "cryopick.stages.select", "Select", "relion.select.split",
              "picker", "SelectSubsets", (nodes.MICROGRAPHS, nodes.MOVIES, nodes.PARTICLES),
              "Split a micrographs/particles STAR into subsets (micrographs_split1.star, ...)."),
    StageSpec("select-new", "Select new micrographs", "cryopick.stages.select_new", "Select", "relion.select",
              "picker", "SelectNewMicrographs", (nodes.MICROGRAPHS,),
              "Select the micrographs not in earlier selections (facility processing of new data)."),
    StageSpec("autopick-log", "LoG picking", "cryopick.stages.autopick_log", "AutoPick", "relion.autopick.log",
              "picker", "PickLoG", (nodes.COORDS_AUTOPICK, nodes.AUTOPICK_LOGFILE),
              "Pick particles with a Laplacian-of-Gaussian filter, with RELION's algorithm and outputs.", _BLAS_1),
    StageSpec("extract", "Extraction", "cryopick.stages.extract", "Extract", "relion.extract",
              "extractor", "Extract", (nodes.PARTICLES, nodes.COORDS_REEXTRACT),
              "Extract particles from micrographs (RELION Extract job): stacks, particles.star.", _BLAS_1),
    StageSpec("class2d", "Class2D", "cryopick.stages.class2d", "Class2D", "relion.class2d",
              "classifier", "Classify2D", (nodes.PARTICLES_CLASS2D, nodes.OPTIMISER_CLASS2D),
              "2D classification (RELION Class2D job, EM algorithm)."),
    StageSpec("rank", "Auto-select 2D classes", "cryopick.stages.rank_classes", "Select", "relion.select.class2dauto",
              "ranker", "RankClasses", (nodes.PARTICLES, nodes.CLASS_AVERAGES, nodes.OPTIMISER_AUTOSELECT),
              "Score 2D class averages and select the good classes (RELION's class ranker)."),
    StageSpec("topaz-train", "Topaz training", "cryopick.stages.topaz_train", "AutoPick", "relion.autopick.topaz.train",
              "topaz", "Train", (nodes.COORDS,),
              "Train Topaz's picking network on selected particles."),
    StageSpec("topaz-pick", "Topaz picking", "cryopick.stages.topaz_pick", "AutoPick", "relion.autopick.topaz.pick",
              "topaz", "Pick", (nodes.COORDS_AUTOPICK, nodes.AUTOPICK_LOGFILE),
              "Pick particles with a Topaz network (trained, or Topaz's pretrained one)."),
)

_BY_NAME = {s.name: s for s in STAGES}


def stage(name: str) -> StageSpec:
    """The stage called ``name`` (e.g. ``"autopick-log"``).

    Raises
    ------
    KeyError
        No such stage; the message lists the known ones.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no stage {name!r}; known stages: {', '.join(_BY_NAME)}") from None


def stages_of_role(role: str) -> tuple[StageSpec, ...]:
    """The stages a service role runs, in registry order."""
    if role not in ROLES:
        raise KeyError(f"unknown service role {role!r}; expected one of {', '.join(ROLES)}")
    return tuple(s for s in STAGES if s.role == role)
