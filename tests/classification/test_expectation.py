"""The E-step's posterior-weighted residual sums equal the same sums taken sample by sample."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from cryopick.classification.expectation import IterationSetup, _residual_sums


def test_sparse_residual_sums_equal_the_explicit_per_sample_sums():
    g = torch.Generator().manual_seed(3)
    n, k, r2, t4, ff, shells = 5, 3, 6, 8, 40, 7

    def cplx(*shape):
        return torch.complex(torch.randn(*shape, generator=g, dtype=torch.float64),
                             torch.randn(*shape, generator=g, dtype=torch.float64))

    setup = IterationSetup.__new__(IterationSetup)     # only the fields the sums read
    setup.refs_fine = cplx(k, r2, ff)
    setup.ramps_fine = torch.exp(1j * torch.rand(t4, ff, generator=g, dtype=torch.float64))
    setup.scale_shells = torch.rand(k, shells, generator=g) > 0.4
    setup.fine = SimpleNamespace(shell=torch.randint(0, shells, (ff,), generator=g))
    xf, cf = cplx(n, ff), torch.rand(n, ff, generator=g, dtype=torch.float64)
    s = 60
    sp, sk = torch.randint(0, n, (s,), generator=g), torch.randint(0, k, (s,), generator=g)
    sr, ss = torch.randint(0, r2, (s,), generator=g), torch.randint(0, t4, (s,), generator=g)
    pw = torch.rand(s, generator=g, dtype=torch.float64)
    pairs, pair = torch.unique(sp * t4 + ss, return_inverse=True)
    e, xa, aa = _residual_sums(setup, xf, cf, sp, sk * r2 + sr, pair, pairs // t4, pairs % t4, pw)

    model = cf[sp] * setup.refs_fine[sk, sr]
    xt = xf[sp] * setup.ramps_fine[ss]
    sel = setup.scale_shells[sk][:, setup.fine.shell].to(torch.float64)
    e_ref = torch.zeros(n, ff, dtype=torch.float64).index_add_(0, sp, pw[:, None] * (model - xt).abs() ** 2)
    xa_ref = torch.zeros(n, dtype=torch.float64).index_add_(
        0, sp, pw * ((model * torch.conj(xt)).real * sel).sum(dim=1))
    aa_ref = torch.zeros(n, dtype=torch.float64).index_add_(0, sp, pw * (model.abs() ** 2 * sel).sum(dim=1))
    torch.testing.assert_close(e, e_ref)
    torch.testing.assert_close(xa, xa_ref)
    torch.testing.assert_close(aa, aa_ref)
