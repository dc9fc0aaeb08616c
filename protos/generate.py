"""Generate the Python gRPC code for ``protos/cryopick/v1/*.proto`` into ``services/gen/``.

The protos live in the package ``cryopick.v1``, so protoc's output imports
``from cryopick.v1 import common_pb2`` — which would collide with our Python package
``cryopick``. The generated modules are therefore written flat into one folder and their
imports rewritten to ``cryopick.services.gen``. Run via ``make protos``; the output is
committed, and ``tests/services/test_protos.py`` checks that it is up to date.

Usage: ``python protos/generate.py [--out services/gen]``
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PROTO_PACKAGE = "cryopick/v1"
TARGET_MODULE = "cryopick.services.gen"
HEADER = '"""Generated gRPC/protobuf code for cryopick.v1 — do not edit; run ``make protos``."""\n'


def proto_files() -> list[Path]:
    """The .proto files, sorted."""
    return sorted((PROTO_ROOT / PROTO_PACKAGE).glob("*.proto"))


def _rewrite(text: str) -> str:
    # from cryopick.v1 import common_pb2 as ...  ->  from cryopick.services.gen import common_pb2 as ...
    return re.sub(r"^from cryopick\.v1 import ", f"from {TARGET_MODULE} import ", text, flags=re.M)


def generate(out: Path) -> list[Path]:
    """Run protoc (grpc_tools) and write the rewritten modules into ``out``; return the files written."""
    from grpc_tools import protoc

    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_ROOT}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *[str(p.relative_to(PROTO_ROOT)) for p in proto_files()],
        ]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed: " + " ".join(args))
        for src in sorted((Path(tmp) / PROTO_PACKAGE).iterdir()):
            if src.suffix not in (".py", ".pyi"):
                continue
            dst = out / src.name
            dst.write_text(_rewrite(src.read_text()))
            written.append(dst)
    init = out / "__init__.py"
    init.write_text(HEADER)
    written.append(init)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROTO_ROOT.parent / "services" / "gen")
    args = parser.parse_args(argv)
    if args.out.exists():
        for old in args.out.glob("*_pb2*.py*"):
            old.unlink()
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
