"""The arithmetic precision of network scoring: ``float32``, or ``bfloat16`` where the CPU has it.

bfloat16 keeps float32's exponent and 8 bits of mantissa. CPUs with native bfloat16
dot products (``avx512_bf16`` or ``amx_bf16``) run a convolution in it about twice as
fast as in float32; elsewhere it is emulated and no faster, so ``auto`` chooses it only on
those CPUs. Topaz scores computed in bfloat16 differ from float32 ones by a few hundredths
of a log-likelihood unit (up to ~0.2); a flat peak can move by a pixel and picks near the
threshold can come or go. ``float32`` gives the topaz CLI's scores to float
tolerance.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

Precision = Literal["auto", "float32", "bfloat16"]
#: CPU flags (``/proc/cpuinfo``) of native bfloat16 dot products.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 dot products natively (Linux; False where unknown)."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in BF16_CPU_FLAGS)
    except OSError:
        pass
    return False


def resolve_precision(precision: str, device: str) -> str:
    """``float32`` or ``bfloat16`` for ``precision`` on ``device`` (``cpu`` or ``cuda``).

    ``auto`` is ``bfloat16`` on a CPU with native bfloat16, otherwise ``float32`` (also on
    CUDA, where topaz itself computes in float32).
    """
    if precision not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"unknown precision {precision!r} (auto, float32 or bfloat16)")
    if precision != "auto":
        return precision
    return "bfloat16" if device == "cpu" and cpu_has_native_bf16() else "float32"
