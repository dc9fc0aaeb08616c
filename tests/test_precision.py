"""Choosing the network's arithmetic: explicit choices pass through, ``auto`` follows the CPU's flags."""

import pytest

from cryopick import precision


def test_explicit_precisions_pass_through_and_unknown_ones_are_refused():
    assert precision.resolve_precision("float32", "cpu") == "float32"
    assert precision.resolve_precision("bfloat16", "cuda") == "bfloat16"
    with pytest.raises(ValueError, match="float16"):
        precision.resolve_precision("float16", "cpu")


@pytest.mark.parametrize("flags, native", [("fpu avx512f avx512_bf16 sse", True), ("fpu amx_bf16", True),
                                           ("fpu avx512f avx512_vnni", False)])
def test_auto_is_bfloat16_only_on_cpus_with_native_bfloat16(tmp_path, monkeypatch, flags, native):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    precision.cpu_has_native_bf16.cache_clear()
    assert precision.cpu_has_native_bf16(str(info)) is native
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: native)
    assert precision.resolve_precision("auto", "cpu") == ("bfloat16" if native else "float32")
    assert precision.resolve_precision("auto", "cuda") == "float32"
