"""E-step pieces: squared differences as matrix products, significant samples, posteriors."""

from __future__ import annotations

import math

import numpy as np
import torch

from cryopick.classification.estep import coarse_d2, posterior, significant


def _complex(rng, *shape):
    return torch.complex(torch.as_tensor(rng.normal(size=shape)), torch.as_tensor(rng.normal(size=shape)))


def test_coarse_d2_equals_the_direct_sum_over_coefficients():
    rng = np.random.default_rng(0)
    n, f, c, t = 3, 20, 5, 4
    x, refs, ramps = _complex(rng, n, f), _complex(rng, c, f), _complex(rng, t, f)
    ramps = ramps / ramps.abs()
    ctf = torch.as_tensor(rng.uniform(-1, 1, (n, f)))
    inv = torch.as_tensor(rng.uniform(0.5, 2, (n, f)))
    inv[:, 0] = 0.0                                        # a coefficient that does not count
    got = coarse_d2(x, ctf, inv, refs, ramps)
    want = torch.empty(n, t, c, dtype=torch.float64)
    for i in range(n):
        for j in range(t):
            for k in range(c):
                want[i, j, k] = (0.5 * (ctf[i] * refs[k] - x[i] * ramps[j]).abs() ** 2 * inv[i]).sum()
    assert torch.allclose(got, want)


def test_significant_keeps_the_samples_holding_the_fraction_of_the_weight():
    w = torch.tensor([[0.5, 0.3, 0.15, 0.05], [1.0, 0.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float64)
    keep, count = significant(torch.log(w.clamp_min(1e-300)), 0.9, max_samples=10)
    assert count.tolist() == [3, 1, 4]
    assert keep[0].tolist() == [True, True, True, False] and keep[1].tolist() == [True, False, False, False]
    capped, count = significant(torch.log(w[2:]), 0.9, max_samples=2)
    assert int(capped.sum()) == 2 and count.tolist() == [4]


def test_posterior_normalises_per_particle_and_finds_each_best_sample():
    log_w = torch.tensor([0.0, math.log(3.0), 5.0, 5.0 + math.log(4.0), -2.0], dtype=torch.float64)
    particle = torch.tensor([0, 0, 1, 1, 1])
    p, log_sum, best = posterior(log_w, particle, 2)
    assert torch.allclose(p[:2], torch.tensor([0.25, 0.75], dtype=torch.float64))
    assert torch.allclose(p[2:].sum(), torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(log_sum, torch.tensor([math.log(4.0), math.log(math.exp(5) * 5 + math.exp(-2))], dtype=torch.float64))
    assert best.tolist() == [1, 3]
