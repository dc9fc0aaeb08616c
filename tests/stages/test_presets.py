"""The tutorial preset holds the RELION tutorial's values, and every value names a real field.

The expected values are the tutorial chapter "Particle picking" as this project follows it
(the issue tracker's reading of it, relion_spec.md §4.1 for the Class2D GUI): EM, not VDAM.
"""

from __future__ import annotations

import pytest

from cryopick.stages.fields import fields_of
from cryopick.stages.presets import TUTORIAL
from cryopick.stages.registry import stage

#: What the tutorial chapter sets, step by step.
CHAPTER = {
    "subsets": ("select", {"split_size": 10}),
    "log_picking": ("autopick-log", {"diameter_min_angstrom": 150, "diameter_max_angstrom": 180, "particles_white": False,
                                     "max_resolution_angstrom": 20, "threshold_stddev": 0, "upper_threshold_stddev": 5}),
    "extract": ("extract", {"box_size_px": 256, "invert_contrast": True, "normalise": True, "bg_diameter_px": 200,
                            "rescale_px": 64, "float16": True}),
    "class2d": ("class2d", {"nr_classes": 50, "tau2_fudge": 2, "nr_iter": 25, "mask_diameter_angstrom": 200,
                            "zero_mask": True, "center_classes": True, "ctf": True, "ctf_intact_first_peak": False,
                            "psi_step_degrees": 6, "offset_range_px": 5, "offset_step_px": 1,
                            "highres_limit_angstrom": -1}),
    "auto_select": ("rank", {"min_score": 0.5}),
    "topaz_training": ("topaz-train", {"particle_diameter_angstrom": 180, "nr_particles_per_micrograph": 300}),
    "topaz_picking": ("topaz-pick", {"particle_diameter_angstrom": 180}),
    "final_extract": ("extract", {"box_size_px": 256, "rescale_px": 64, "min_fom": -3}),
}


def test_the_chapter_has_these_steps_in_this_order():
    assert list(TUTORIAL) == list(CHAPTER)


@pytest.mark.parametrize("key", list(CHAPTER))
def test_each_step_has_the_tutorials_values(key):
    stage_name, values = CHAPTER[key]
    step = TUTORIAL[key]
    assert step.stage == stage_name
    params = step.params(**{f.name: "x.star" for f in fields_of(stage(stage_name).params_class) if f.required and f.is_input})
    for name, value in values.items():
        assert getattr(params, name) == value, f"{key}.{name}"


def test_class2d_is_em_not_vdam():
    names = {f.name for f in fields_of(stage("class2d").params_class)}
    assert "nr_iter" in names and not {"use_vdam", "nr_minibatches"} & names
    # the job.star option names RELION's GUI uses for an EM Class2D job (relion_spec.md §7.4)
    assert {f.info.job_option for f in fields_of(stage("class2d").params_class)} >= {"nr_classes", "tau_fudge", "nr_iter_em"}


@pytest.mark.parametrize("key", list(TUTORIAL))
def test_preset_values_name_real_fields_and_pass_the_field_checks(key):
    from cryopick.stages.fields import check_fields

    step = TUTORIAL[key]
    cls = stage(step.stage).params_class
    assert set(step.values) <= {f.name for f in fields_of(cls)}
    check_fields(step.params(**{f.name: "x.star" for f in fields_of(cls) if f.required and f.is_input}))


def test_the_cpu_preset_changes_only_topaz_training_length():
    from cryopick.stages.presets import CPU_TOPAZ_TRAINING, TUTORIAL, TUTORIAL_CPU, preset_overrides

    assert preset_overrides("tutorial") == {}
    assert preset_overrides("tutorial-cpu") == {"topaz_training": dict(CPU_TOPAZ_TRAINING)}
    assert {k for k in TUTORIAL if TUTORIAL[k] != TUTORIAL_CPU[k]} == {"topaz_training"}
    cpu = TUTORIAL_CPU["topaz_training"].params(micrographs_star="m.star", coords_star="c.star")
    assert cpu.particle_diameter_angstrom == 180.0 and cpu.nr_particles_per_micrograph == 300
    assert cpu.nr_epochs * cpu.epoch_size * cpu.minibatch_size <= 0.01 * 10 * 1000 * 256  # 1% of the crops
    with pytest.raises(KeyError, match="tutorial-cpu"):
        preset_overrides("gpu-please")
