"""The layers hold (ARCHITECTURE.md): each rule below is checked on the source, not trusted.

* ``src/cryopick`` imports neither grpc nor prefect;
* numeric packages (arrays in, arrays out) neither read nor write files;
* only ``cryopick.io`` touches starfile, mrcfile and ``default_pipeline.star``;
* only the stage lifecycle (``stages/base.py``) registers jobs and writes exit markers;
* flows and services never write RELION files, and reach stages only through the registry;
* a function-level import is kept only for a module whose import cost ``benchmarks/bench_startup.py``
  measures (or a cryopick module that imports one at its top).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "cryopick"
FLOWS, SERVICES = REPO / "flows", REPO / "services"

#: Arrays in, arrays out.
NUMERIC = ["picking", "extraction", "sim", "classification", "ranking", "ctf.py", "fourier.py", "metrics.py"]
#: File I/O that numeric code must not do (calls by attribute or name).
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "fromfile", "tofile", "save", "load",
              "savez", "loadtxt", "savetxt", "mkdir", "unlink", "touch"}
#: What only cryopick.io may call or import.
PIPELINE_INTERNALS = {"write_pipeline", "read_pipeline", "pipeline_lock", "Pipeline"}
RELION_WRITERS = {"write_star", "write_optics_star", "write_coordinates", "write_coordinate_list", "write_mrc",
                  "register_job", "JobDir"}


def py_files(*roots: Path) -> list[Path]:
    return [p for root in roots for p in sorted(root.rglob("*.py")) if "/gen/" not in str(p)]


def imports_of(path: Path) -> list[tuple[str, list[str], int, bool]]:
    """(module, imported names, line, at function level) of every import statement."""
    tree = ast.parse(path.read_text())
    in_function = {id(n) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                   for n in ast.walk(fn)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno, id(node) in in_function) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, [a.name for a in node.names], node.lineno, id(node) in in_function))
    return out


def called_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else "")
    return names


def _names_pipeline_file(path: Path) -> bool:
    """A string constant in code (not a docstring) naming default_pipeline.star."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
               and n.value.rstrip("/").endswith("default_pipeline.star") for n in ast.walk(tree))


def rel(p: Path) -> str:
    return str(p.relative_to(REPO))


def test_src_does_not_import_grpc_or_prefect():
    bad = {rel(p): m for p in py_files(SRC) for m, *_ in imports_of(p) if m.split(".")[0] in ("grpc", "prefect")}
    assert bad == {}


def test_numeric_code_reads_and_writes_no_files():
    files = [p for name in NUMERIC for p in ([SRC / name] if name.endswith(".py") else py_files(SRC / name))
             if p.exists()]
    assert len(files) > 10
    bad = {}
    for p in files:
        io_imports = [m for m, *_ in imports_of(p)
                      if m.startswith("cryopick.io") or m.split(".")[0] in ("mrcfile", "starfile", "pathlib", "os")]
        calls = called_names(p) & FILE_CALLS
        if io_imports or calls:
            bad[rel(p)] = io_imports + sorted(calls)
    assert bad == {}


def test_only_io_touches_starfile_mrcfile_and_the_pipeline_file():
    bad = {}
    for p in py_files(SRC, FLOWS, SERVICES):
        if p.is_relative_to(SRC / "io"):
            continue
        hits = [m for m, *_ in imports_of(p) if m.split(".")[0] in ("starfile", "mrcfile")]
        hits += [n for m, names, *_ in imports_of(p) if m == "cryopick.io.pipeline" for n in names
                 if n in PIPELINE_INTERNALS]
        if _names_pipeline_file(p):
            hits.append("default_pipeline.star")
        if hits:
            bad[rel(p)] = hits
    assert bad == {}


def test_only_the_lifecycle_registers_jobs_and_marks_them():
    allowed = {SRC / "stages" / "base.py", SRC / "synthetic" / "project.py"}  # the simulator writes finished jobs
    bad = {}
    for p in py_files(SRC):
        if p in allowed or p.is_relative_to(SRC / "io"):
            continue
        hits = [n for m, names, *_ in imports_of(p) for n in names
                if (m, n) in (("cryopick.io.pipeline", "register_job"), ("cryopick.io.jobdir", "JobDir"))]
        hits += sorted(called_names(p) & {"mark", "begin"})
        if hits:
            bad[rel(p)] = hits
    assert bad == {}


def test_flows_and_services_write_no_relion_files_and_reach_stages_through_the_registry():
    bad = {}
    for p in py_files(FLOWS, SERVICES):
        hits = []
        for m, names, *_ in imports_of(p):
            if m.startswith("cryopick.io"):
                hits += [n for n in names if n in RELION_WRITERS]
            if m.startswith("cryopick.stages.") and m not in ("cryopick.stages.registry", "cryopick.stages.fields",
                                                                 "cryopick.stages.presets", "cryopick.stages.base"):
                hits.append(m)
        if hits:
            bad[rel(p)] = hits
    assert bad == {}


def _top_level_imports(module: str) -> list[str]:
    path = SRC / Path(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    if module.startswith("cryopick.flows."):
        path = FLOWS / (module.split(".", 2)[2].replace(".", "/") + ".py")
    if not path.exists():
        return []
    return [m for m, _, _, lazy in imports_of(path) if not lazy]


def _imports_heavy(module: str, heavy: set[str], seen: set[str]) -> bool:
    if module in seen:
        return False
    seen.add(module)
    for m in _top_level_imports(module):
        if m.split(".")[0] in heavy:
            return True
        if m.startswith("cryopick.") and _imports_heavy(m, heavy, seen):
            return True
    return False


def test_function_level_imports_only_of_modules_whose_cost_the_startup_benchmark_measures():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from bench_startup import MEASURED
    finally:
        sys.path.pop(0)
    heavy = {m.split(".")[0] for m in MEASURED}
    bad = {}
    for p in py_files(SRC, FLOWS, SERVICES):
        for m, _, line, lazy in imports_of(p):
            if not lazy or m.split(".")[0] in heavy:
                continue
            if m.startswith("cryopick.") and _imports_heavy(m, heavy, set()):
                continue
            bad[f"{rel(p)}:{line}"] = m
    assert bad == {}


def _run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return eval(out.strip().splitlines()[-1])  # noqa: S307 - our own subprocess's printed list


def test_picking_command_does_not_import_pandas_scipy_or_matplotlib(tmp_path):
    """LoG picking start-up stays light: runs the whole command on a tiny project."""
    from micrograph_factory import blob_micrograph, separated_centres, write_project

    shape = (200, 220)
    star = write_project(tmp_path, [blob_micrograph(shape, separated_centres(shape, 5, 50, 30, 1), 10, -1.0, 1.0, 1)], 3.0)
    code = (
        "import sys; from cryopick.cli import main;"
        f"rc = main(['autopick-log', '--i', {star!r}, '--o', 'AutoPick/job005/', '--diam-min', '60', '--diam-max', '80',"
        f" '--project-root', {str(tmp_path)!r}, '--quiet']);"
        "assert rc == 0;"
        "print(sorted(m for m in ('pandas','scipy','matplotlib','torch','starfile') if m in sys.modules))"
    )
    assert _run(code) == []
    assert (tmp_path / "AutoPick/job005/autopick.star").exists()


def test_extract_command_does_not_import_pandas_scipy_matplotlib_tqdm_or_torch(tmp_path):
    """Extraction start-up stays light: runs the whole command (lazy imports included) on a tiny project."""
    from cryopick.synthetic.extraction import write_synthetic_project

    p = write_synthetic_project(tmp_path, n_micrographs=2, picks_per_micrograph=3, seed=2)
    code = (
        "import sys; from cryopick.cli import main;"
        f"rc = main(['extract', '--i', {p.micrographs_star!r}, '--coords', {p.coords_star!r}, '--o', 'Extract/job007/',"
        f" '--box', '32', '--rescale', '16', '--threads', '2', '--project-root', {str(p.root)!r}, '--quiet']);"
        "assert rc == 0;"
        "print(sorted(m for m in ('pandas','scipy','matplotlib','torch','tqdm','starfile') if m in sys.modules))"
    )
    assert _run(code) == []
    assert (p.root / "Extract/job007/particles.star").exists()


@pytest.mark.parametrize("module", ["cryopick.stages.registry", "cryopick.cli"])
def test_registry_and_cli_import_no_stage(module):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.startswith('cryopick.stages.') and m not in ('cryopick.stages.registry', 'cryopick.stages.fields', 'cryopick.stages.base')))"
    assert _run(code) == []
