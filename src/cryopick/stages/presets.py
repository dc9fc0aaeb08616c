"""Named parameter presets: the tutorial's values, in one place.

``Params`` defaults are RELION's GUI defaults. The RELION tutorial's "Particle picking" chapter
changes some of them; :data:`TUTORIAL` lists exactly those changes, per step of the chapter
(the flow's defaults come from here, and ``tests/stages/test_presets.py`` checks them against
the tutorial's text):

1. Select: split the CTF-corrected micrographs into subsets of 10; the first trains the pickers.
2. AutoPick, LoG: 150–180 Å, dark particles, maximum resolution 20 Å, threshold 0, upper 5.
3. Extract: box 256, invert, normalise on a 200 px background circle, rescale to 64, float16.
4. Class2D: 50 classes, T = 2, EM with 25 iterations (not VDAM), 200 Å mask with zeros,
   centred class averages, CTF correction, 6°/5 px/1 px sampling.
5. Select: automatic class selection with a minimum score of 0.5.
6. AutoPick, Topaz training on the selected particles of the 10 micrographs: 180 Å,
   300 particles per micrograph; then Topaz picking of every micrograph at 180 Å.
7. Extract the Topaz picks with FOM above -3 (box 256 rescaled to 64, as in step 3).
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any, Mapping

from cryopick.stages.registry import stage


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of a preset: a stage and the fields that differ from its defaults."""

    stage: str
    values: Mapping[str, Any]

    def params(self, **files: Any) -> Any:
        """The stage's ``Params`` with these values and the given input files."""
        return stage(self.stage).params_class(**files, **self.values)


def _step(stage_name: str, **values: Any) -> Step:
    return Step(stage_name, MappingProxyType(values))


_EXTRACT = dict(box_size_px=256, invert_contrast=True, normalise=True, bg_diameter_px=200.0,
                white_dust_sigma=-1.0, black_dust_sigma=-1.0, rescale_px=64, float16=True)

#: The RELION tutorial's particle-picking chapter, step by step (flow parameter name -> step).
TUTORIAL: Mapping[str, Step] = MappingProxyType({
    "subsets": _step("select", split_size=10, nr_split=-1, random_order=False),
    "log_picking": _step("autopick-log", diameter_min_angstrom=150.0, diameter_max_angstrom=180.0,
                         particles_white=False, max_resolution_angstrom=20.0, threshold_stddev=0.0,
                         upper_threshold_stddev=5.0),
    "extract": _step("extract", **_EXTRACT),
    "class2d": _step("class2d", nr_classes=50, tau2_fudge=2.0, nr_iter=25, mask_diameter_angstrom=200.0,
                     zero_mask=True, highres_limit_angstrom=-1.0, center_classes=True, ctf=True,
                     ctf_intact_first_peak=False, psi_step_degrees=6.0, offset_range_px=5.0, offset_step_px=1.0),
    "auto_select": _step("rank", min_score=0.5),
    "topaz_training": _step("topaz-train", particle_diameter_angstrom=180.0, nr_particles_per_micrograph=300),
    "topaz_picking": _step("topaz-pick", particle_diameter_angstrom=180.0),
    "final_extract": _step("extract", **_EXTRACT, min_fom=-3.0),
})

#: Topaz training settings for a CPU (two cores): fine-tune the pretrained resnet8 for 5 short epochs
#: of 40 updates of 128 crops (about a minute for 10 micrographs, against hours for the tutorial's
#: 10 x 1,000 x 256 on a CPU); benchmarks/bench_topaz.py measures what they reach.
CPU_TOPAZ_TRAINING: Mapping[str, Any] = MappingProxyType(dict(nr_epochs=5, epoch_size=40, minibatch_size=128))

#: The tutorial with CPU settings for Topaz training (``make demo``; machines without a GPU).
TUTORIAL_CPU: Mapping[str, Step] = MappingProxyType({
    **TUTORIAL,
    "topaz_training": _step("topaz-train", **TUTORIAL["topaz_training"].values, **CPU_TOPAZ_TRAINING),
})

PRESETS: Mapping[str, Mapping[str, Step]] = MappingProxyType({"tutorial": TUTORIAL, "tutorial-cpu": TUTORIAL_CPU})


def preset_overrides(name: str) -> dict[str, dict[str, Any]]:
    """The flow-parameter values of preset ``name`` that differ from the tutorial's (step key -> field -> value).

    Raises
    ------
    KeyError
        Unknown preset; the message lists the known ones.
    """
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}")
    out = {}
    for key, step in PRESETS[name].items():
        changed = {k: v for k, v in step.values.items() if TUTORIAL[key].values.get(k, object()) != v}
        if changed:
            out[key] = changed
    return out
