"""Where Topaz picking's time goes: the network's forward pass, layer by layer, against the CPU's own peak.

``topaz-pick`` spends ~90 % of a micrograph in the forward pass of the pretrained network
(resnet16_u64, "filled" so that every layer runs at the binned micrograph's full resolution). This
script times that pass on one binned tutorial micrograph (``--shape``, default 464×480: 1856×1920 px
binned by 4), per convolution (multiply-accumulates, milliseconds, GMAC/s), in float32 (the topaz
CLI's arithmetic) and bfloat16 (``--precision auto`` on CPUs with native bfloat16), and compares
each with the CPU's practical peak: a large matrix product in the same precision. When the
convolutions run near that peak, no rearrangement of the same arithmetic makes picking faster;
only less arithmetic or narrower numbers can.

``--int8`` also times the network quantised to 8-bit integers (torch's x86 post-training
quantisation: per-channel weights, per-tensor activations calibrated on two seeded N(0, 1)
images, the last 1×1 layer in float32) and reports how far its scores move from float32's.
cryopick does not pick in int8: its scores move by whole log-likelihood units, so the tutorial's
FOM thresholds (−3, −6) would no longer mean what they mean in topaz and RELION.

Usage: ``python benchmarks/bench_topaz_forward.py [--threads 2] [--shape 464 480] [--repeats 3] [--int8]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import per_call  # noqa: E402


def best_time(fn, repeats: int) -> float:
    """Least wall time (s) of ``repeats`` calls after one warm-up call."""
    return per_call(fn, repeats, summary=min)


def matmul_peak(dtype, repeats: int) -> float:
    """GMAC/s of a 2048×2048 by 2048×2048 matrix product in ``dtype``."""
    import torch

    a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
    return 2048 ** 3 / best_time(lambda: a @ b, repeats) / 1e9


def layer_times(model, x, repeats: int) -> list[tuple[str, float, float]]:
    """(name, GMAC, seconds) of every convolution of ``model`` on ``x`` (best of ``repeats`` passes)."""
    import torch

    rows: dict[str, list] = {}
    start: dict[str, float] = {}

    def before(name):
        return lambda mod, inp: start.__setitem__(name, time.perf_counter())

    def after(name):
        def hook(mod, inp, out):
            dt = time.perf_counter() - start[name]
            macs = out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] / mod.groups
            rows.setdefault(name, [macs / 1e9, []])[1].append(dt)
        return hook

    handles = []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            handles += [mod.register_forward_pre_hook(before(name)), mod.register_forward_hook(after(name))]
    with torch.no_grad():
        for _ in range(repeats + 1):
            model.classifier(model.features(x).to(model.classifier.weight.dtype))
    for h in handles:
        h.remove()
    return [(name, gmac, min(ts[1:])) for name, (gmac, ts) in rows.items()]


def int8_scores(model32, calibration: list[np.ndarray]):
    """A function scoring an image with ``model32`` quantised to int8 (the classifier kept in float32)."""
    import torch
    import torch.nn.functional as F
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    pad = model32.features.width // 2

    class Body(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.f, self.c = m.features.features, m.classifier

        def forward(self, x):
            return self.c(self.f(x))

    def padded(img):
        return F.pad(torch.from_numpy(img)[None, None], (pad,) * 4)

    qconfig = get_default_qconfig_mapping("x86").set_module_name("c", None)
    prepared = prepare_fx(Body(model32).eval(), qconfig, example_inputs=(padded(calibration[0]),))
    with torch.no_grad():
        for img in calibration:
            prepared(padded(img))
        quantised = convert_fx(prepared)
    def scores(img):
        with torch.no_grad():
            return quantised(padded(img))[0, 0].numpy()

    return scores


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", type=int, nargs=2, default=(464, 480), metavar=("NY", "NX"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--int8", action="store_true")
    a = ap.parse_args()
    import torch

    from cryopick.io.topaz_model import load_pretrained
    from cryopick.picking.topaz_score import prepare_model, score_map

    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    image = rng.standard_normal(a.shape).astype(np.float32)
    totals = {}
    for precision, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        model = prepare_model(load_pretrained("resnet16_u64"), precision=precision)
        x = torch.from_numpy(image)[None, None].to(next(model.features.parameters()).dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        peak = matmul_peak(dtype, a.repeats)
        rows = layer_times(model, x, a.repeats)
        whole = best_time(lambda: score_map(model, image), a.repeats)
        print(f"\n{precision}: matrix-product peak {peak:.0f} GMAC/s on {a.threads} threads")
        print(f"{'convolution':32s} {'GMAC':>7s} {'ms':>8s} {'GMAC/s':>7s} {'of peak':>8s}")
        for name, gmac, dt in rows:
            print(f"{name:32s} {gmac:7.2f} {1e3 * dt:8.1f} {gmac / dt:7.0f} {gmac / dt / peak:8.0%}")
        gmac = sum(r[1] for r in rows)
        conv = sum(r[2] for r in rows)
        print(f"{'all convolutions':32s} {gmac:7.1f} {1e3 * conv:8.0f} {gmac / conv:7.0f} {gmac / conv / peak:8.0%}")
        print(f"whole forward pass: {whole:.2f} s (convolutions {conv / whole:.0%})")
        totals[precision] = whole
    print(f"\nbfloat16 / float32 speed-up of the forward pass: {totals['float32'] / totals['bfloat16']:.2f}x")
    if a.int8:
        warnings.filterwarnings("ignore")
        model32 = prepare_model(load_pretrained("resnet16_u64"), precision="float32")
        calibration = [rng.standard_normal(a.shape).astype(np.float32) for _ in range(2)]
        q = int8_scores(model32, calibration)
        dt = best_time(lambda: q(image), a.repeats)
        d = q(image) - score_map(model32, image)
        print(f"int8: forward pass {dt:.2f} s ({totals['bfloat16'] / dt:.2f}x bfloat16); scores minus float32's: "
              f"max |d| {np.abs(d).max():.2f}, rms {np.sqrt((d ** 2).mean()):.2f} log-likelihood units")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
