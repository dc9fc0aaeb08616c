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
