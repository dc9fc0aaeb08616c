"""The library stays free of transport and orchestration (ARCHITECTURE.md)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "cryopick"
FORBIDDEN = {"grpc", "prefect"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_src_does_not_import_grpc_or_prefect():
    offenders = {str(p.relative_to(SRC)): imported_roots(p) & FORBIDDEN for p in SRC.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_picking_command_does_not_import_pandas_scipy_or_matplotlib():
    """LoG picking start-up stays light: these imports cost ~0.5 s each."""
    import subprocess
    import sys

    code = (
        "import sys, cryopick.cli, cryopick.stages.autopick_log, cryopick.cli.autopick_log;"
        "print(sorted(m for m in ('pandas','scipy','matplotlib','torch','mrcfile') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_extract_command_does_not_import_pandas_scipy_matplotlib_tqdm_or_torch(tmp_path):
    """Extraction start-up stays light: runs the whole command (lazy imports included) on a tiny project."""
    import subprocess
    import sys

    from cryopick.extraction.synthetic import write_synthetic_project

    p = write_synthetic_project(tmp_path, n_micrographs=2, picks_per_micrograph=3, seed=2)
    code = (
        "import sys; from cryopick.cli import main;"
        f"rc = main(['extract', '--i', {p.micrographs_star!r}, '--coords', {p.coords_star!r}, '--o', 'Extract/job007/',"
        f" '--box', '32', '--rescale', '16', '--norm', '--invert', '--threads', '2', '--project-root', {str(p.root)!r}]);"
        "assert rc == 0;"
        "print(sorted(m for m in ('pandas','scipy','matplotlib','torch','tqdm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert (p.root / "Extract/job007/particles.star").exists()
    assert out.strip().splitlines()[-1] == "[]"
