"""RELION pipeline node type labels (``src/pipeline_jobs.h``; relion_spec.md §7.3).

A node is a file another job can consume; its label tells RELION's GUI what it holds. The
text before the first ``.`` names the ``.Nodes/<Type>/`` folder the GUI browses.
"""

from __future__ import annotations

MICROGRAPHS = "MicrographsData.star.relion"
MICROGRAPHS_CTF = "MicrographsData.star.relion.ctf"
MICROGRAPHS_MOTIONCORR = "MicrographsData.star.relion.motioncorr"
MOVIES = "MicrographMoviesData.star.relion"
COORDS_AUTOPICK = "MicrographsCoords.star.relion.autopick"
COORDS = "MicrographsCoords.star.relion"
COORDS_REEXTRACT = "MicrographsCoords.star.relion.reextract"
AUTOPICK_LOGFILE = "LogFile.pdf.relion.autopick"
PARTICLES = "ParticlesData.star.relion"
PARTICLES_CLASS2D = "ParticlesData.star.relion.class2d"
OPTIMISER_CLASS2D = "ProcessData.star.relion.optimiser.class2d"
OPTIMISER_AUTOSELECT = "ProcessData.star.relion.optimiser.autoselect"
CLASS_AVERAGES = "ImagesData.star.relion.classaverages"


def node_folder(label: str) -> str:
    """The ``.Nodes/<folder>/`` a node of this type is listed under (text before the first dot)."""
    return label.split(".", 1)[0]
