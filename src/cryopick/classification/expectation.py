"""One batch through the E-step, with the weighted sums the M-step needs (RELION's ``storeWeightedSums``).

For each particle of a batch: the coarse pass over every class, angle and translation on the
coarse size; the significant samples' fine refinements on the current size; their posterior;
then, from the fine samples that hold ``adaptive_fraction`` of it, the back-projection sums
per (class, fine angle), the noise power per shell, the norm and scale statistics, the class
and offset priors' sums, the best sample and the log-likelihood.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from cryopick.classification.estep import (
    coarse_d2,
    posterior,
    significant,
)
from cryopick.classification.grid import Coefficients, FourierGrid
from cryopick.classification.prepare import Batch
from cryopick.classification.sampling import Sampling
from cryopick.classification.state import ParticleState


@dataclass
class IterationSetup:
    """What stays fixed across the batches of one iteration.

    Attributes
    ----------
    grid : FourierGrid
    sampling : Sampling
    coarse, fine : Coefficients
    refs_coarse : torch.Tensor, shape (K·R, Fc), complex
    refs_fine : torch.Tensor, shape (K, 2R, Ff), complex
    ramps_coarse : torch.Tensor, shape (T, Fc), complex
    ramps_fine : torch.Tensor, shape (4T, Ff), complex
    inv_sigma2_coarse, inv_sigma2_fine : torch.Tensor, shape (G, Fc) / (G, Ff)
        1/σ² per optics group, 0 at the origin (the E-step's).
    inv_sigma2_sums : torch.Tensor, shape (G, Ff)
        The same with the origin (the M-step's).
    log2pi_sigma2 : torch.Tensor, shape (G,)
        Σ log(2πσ²) over the fine coefficients (for the log-likelihood).
    log_class_prior : torch.Tensor, shape (K,)
        −inf for empty classes.
    prior_offsets_angstrom : torch.Tensor, shape (K, 2)
    sigma2_offset_angstrom2 : float
    pixel_size_angstrom : float
    scale : torch.Tensor, shape (n_groups,)
    scale_shells : torch.Tensor, shape (K, n_shells), bool
        Where the class's data-versus-prior exceeds 3 (the scale statistics' shells).
    fine_shells : torch.Tensor, shape (Ff, n_shells)
        One-hot shell of each fine coefficient (sums per shell as a matrix product).
    adaptive_fraction : float
    max_significant : int
    """

    grid: FourierGrid
    sampling: Sampling
    coarse: Coefficients
    fine: Coefficients
    refs_coarse: torch.Tensor
    refs_fine: torch.Tensor
    ramps_coarse: torch.Tensor
    ramps_fine: torch.Tensor
    inv_sigma2_coarse: torch.Tensor
    inv_sigma2_fine: torch.Tensor
    inv_sigma2_sums: torch.Tensor
    log2pi_sigma2: torch.Tensor
    log_class_prior: torch.Tensor
    prior_offsets_angstrom: torch.Tensor
    sigma2_offset_angstrom2: float
    pixel_size_angstrom: float
    scale: torch.Tensor
    scale_shells: torch.Tensor
    fine_shells: torch.Tensor
    adaptive_fraction: float
    max_significant: int

    @cached_property
    def fine_power(self) -> torch.Tensor:
        """|A|² of the references at the fine angles, shape (K·2R, Ff)."""
        k, r2, ff = self.refs_fine.shape
        return (self.refs_fine.real**2 + self.refs_fine.imag**2).reshape(k * r2, ff)

    @cached_property
    def fine_scale_mask(self) -> torch.Tensor:
        """1 where the (class, angle)'s shell counts for the scale statistics, shape (K·2R, Ff)."""
        r2 = self.refs_fine.shape[1]
        return self.scale_shells[:, self.fine.shell].repeat_interleave(r2, dim=0).to(self.fine_power.dtype)

    @cached_property
    def residual_basis(self) -> torch.Tensor:
        """References and their scale-masked copies as real rows (re, im interleaved), shape (K·2R, 4Ff)."""
        k, r2, ff = self.refs_fine.shape
        refs = self.refs_fine.reshape(k * r2, ff)
        return torch.cat([torch.view_as_real(refs).reshape(k * r2, -1),
                          torch.view_as_real(refs * self.fine_scale_mask).reshape(k * r2, -1)], dim=1)

    @cached_property
    def residual_power(self) -> torch.Tensor:
        """|A|² and scale-masked |A|², shape (K·2R, 2Ff)."""
        return torch.cat([self.fine_power, self.fine_power * self.fine_scale_mask], dim=1)


class WeightedSums:
    """Accumulators of one iteration (over all batches).

    Attributes
    ----------
    data : torch.Tensor, shape (K, 2R, Ff), complex
    weight : torch.Tensor, shape (K, 2R, Ff)
    sigma2 : torch.Tensor, shape (G, n_shells)
    sumw_optics : torch.Tensor, shape (G,)
    class_weight : torch.Tensor, shape (K,)
    offset_sum_angstrom : torch.Tensor, shape (K, 2)
    sigma2_offset : float
    xa, aa : torch.Tensor, shape (n_groups,)
    norm_sum : float
    log_likelihood, pmax_sum : float
    """

    def __init__(self, setup: IterationSetup, n_optics: int, n_groups: int):
        g = setup.grid
        k, r2, ff = setup.refs_fine.shape
        self.data = torch.zeros(k * r2, ff, dtype=g.cdtype, device=g.device)
        self.weight = torch.zeros(k * r2, ff, dtype=g.dtype, device=g.device)
        self.sigma2 = torch.zeros(n_optics, g.n_shells, dtype=g.dtype, device=g.device)
        self.sumw_optics = torch.zeros(n_optics, dtype=g.dtype, device=g.device)
        self.class_weight = torch.zeros(k, dtype=g.dtype, device=g.device)
        self.offset_sum_angstrom = torch.zeros(k, 2, dtype=g.dtype, device=g.device)
        self.sigma2_offset = 0.0
        self.xa = torch.zeros(n_groups, dtype=torch.float64, device=g.device)
        self.aa = torch.zeros(n_groups, dtype=torch.float64, device=g.device)
        self.norm_sum = 0.0
        self.log_likelihood = 0.0
        self.pmax_sum = 0.0
        self.n_fine = ff
        self.n_rot = r2


def _offset_log_prior(setup: IterationSetup, rounded: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """log P(offset) of (particle, translation, class), shape (n, T, K) — in Å, as RELION intends."""
    pos = (rounded[:, None, :] + shifts[None, :, :]) * setup.pixel_size_angstrom          # (n, T, 2)
    d = pos[:, :, None, :] - setup.prior_offsets_angstrom[None, None, :, :]               # (n, T, K, 2)
    return -(d**2).sum(dim=-1) / (2.0 * setup.sigma2_offset_angstrom2)


def _fine_significant(p: torch.Tensor, particle: torch.Tensor, n: int, fraction: float) -> torch.Tensor:
    """Mask of the fine samples making up ``fraction`` of each particle's (normalised) posterior."""
    key = particle.to(torch.float64) * 4.0 + (1.0 - p.to(torch.float64))   # by particle, then by descending p
    order = torch.argsort(key)
    ps, part = p[order], particle[order]
    csum = torch.cumsum(ps, dim=0)
    counts = torch.bincount(part, minlength=n)
    seg_start = torch.cumsum(counts, 0) - counts
    base = torch.cat([torch.zeros(1, dtype=csum.dtype, device=csum.device), csum])[seg_start]
    before = csum - ps - base[part]
    keep = torch.zeros_like(part, dtype=torch.bool)
    keep[order] = before < fraction
    return keep


def _fine_d2(setup: IterationSetup, xf: torch.Tensor, cf: torch.Tensor, inv_e: torch.Tensor, part: torch.Tensor,
             tc: torch.Tensor, kc: torch.Tensor, rc: torch.Tensor, chunk: int) -> torch.Tensor:
    """Squared differences of the 8 fine samples of each significant coarse sample, shape (8·Nc,).

    As in the coarse pass (:func:`~cryopick.classification.estep.coarse_d2`), expanded into
    ``term1 + term2 − cross``; the cross terms of one coarse sample's 4 translations × 2 angles
    are one small matrix product, so a batch of them is one ``bmm``. Sample ``8c + j`` is fine
    angle ``2·rc + j // 4`` and fine translation ``4·tc + j % 4``.
    """
    k, r2, ff = setup.refs_fine.shape
    t4 = setup.ramps_fine.shape[0]
    n = xf.shape[0]
    term1 = ((cf**2 * inv_e * 0.5) @ setup.fine_power.T).reshape(n, k, r2)                 # (n, K, 2R)
    term2 = ((xf.real**2 + xf.imag**2) * inv_e).sum(dim=1) * 0.5                          # (n,)
    w = (xf * cf * inv_e)[:, None, :] * setup.ramps_fine[None]                             # (n, 4T, Ff)
    w = torch.view_as_real(w).reshape(n, t4 // 4, 4, 2 * ff)                               # re, im interleaved
    refs = torch.view_as_real(setup.refs_fine.contiguous()).reshape(k, r2 // 2, 2, 2 * ff)
    out = torch.empty(part.numel(), 2, 4, dtype=xf.real.dtype, device=xf.device)
    for a in range(0, part.numel(), chunk):
        sl = slice(a, a + chunk)
        cross = torch.bmm(refs[kc[sl], rc[sl]], w[part[sl], tc[sl]].transpose(1, 2))         # (c, 2 angles, 4 shifts)
        t1 = term1[part[sl], kc[sl]].reshape(-1, r2 // 2, 2)[torch.arange(cross.shape[0], device=xf.device), rc[sl]]
        out[sl] = t1[:, :, None] + term2[part[sl], None, None] - cross
    return out.reshape(-1)


def _sparse(rows: torch.Tensor, cols: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """A (rows × cols) sparse matrix with duplicates summed (indices are valid by construction)."""
    return torch.sparse_coo_tensor(torch.stack([rows, cols]), values, shape, check_invariants=False).coalesce()


def _residual_sums(setup: IterationSetup, xf: torch.Tensor, cf: torch.Tensor, sp: torch.Tensor, bins: torch.Tensor,
                   pair: torch.Tensor, pair_part: torch.Tensor, pair_shift: torch.Tensor, pw: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Posterior-weighted residual statistics of each particle of a batch, without per-sample vectors.

    With ``r_s = CTF·s·A_s − X·ramp_s`` for the kept samples ``s`` of particle ``i`` (weights p_s),

    * ``E_i(f) = Σ_s p_s |r_s(f)|² = CTF²·Σ p|A|² + Σp·|X|² − 2 Re(conj(X)·CTF·Σ p·conj(ramp)·A)``,
    * ``xa_i = Σ_s p_s Σ_{f∈sel} Re(CTF·A_s·conj(X·ramp_s))`` and ``aa_i = Σ_s p_s Σ_{f∈sel} |CTF·A_s|²``
      over the shells where the sample's class has data-versus-prior above 3;

    the sums over samples are sparse matrix products with the references.

    Parameters
    ----------
    xf, cf : torch.Tensor, shape (n, Ff)
        Masked particles and CTF·scale.
    sp, bins : torch.Tensor, shape (S,)
        Particle and (class·2R + fine angle) of each kept sample.
    pair : torch.Tensor, shape (S,)
        Index of the sample's (particle, fine translation) pair in ``pair_part``/``pair_shift`` (U,).
    pw : torch.Tensor, shape (S,)

    Returns
    -------
    E : torch.Tensor, shape (n, Ff)
    xa, aa : torch.Tensor, shape (n,)
    """
    k, r2, ff = setup.refs_fine.shape
    n = xf.shape[0]
    b = torch.sparse.mm(_sparse(pair, bins, pw, (len(pair_part), k * r2)), setup.residual_basis)      # (U, 4Ff)
    b = torch.view_as_complex(b.reshape(-1, 2 * ff, 2))                                               # (U, 2Ff)
    ramp = torch.conj(setup.ramps_fine[pair_shift])                                                    # (U, Ff)
    m_all = torch.zeros(n, ff, dtype=xf.dtype, device=xf.device).index_add_(0, pair_part, ramp * b[:, :ff])
    m_sel = torch.zeros_like(m_all).index_add_(0, pair_part, ramp * b[:, ff:])
    q = torch.sparse.mm(_sparse(sp, bins, pw, (n, k * r2)), setup.residual_power)                      # (n, 2Ff)
    psum = torch.zeros(n, dtype=pw.dtype, device=pw.device).index_add_(0, sp, pw)
    cx = torch.conj(xf) * cf
    e = cf**2 * q[:, :ff] + psum[:, None] * (xf.real**2 + xf.imag**2) - 2.0 * (cx * m_all).real
    return e, (cx * m_sel).real.sum(dim=1), (cf**2 * q[:, ff:]).sum(dim=1)


def expectation_batch(setup: IterationSetup, batch: Batch, sums: WeightedSums, norm_old: np.ndarray, avg_norm: float,
                      chunk: int = 1024) -> ParticleState:
    """The E-step of one batch; adds its weighted sums to ``sums`` (see the module docstring).

    Returns the batch's particles' new state: best class, ψ and offset (rounded previous offset
    + best fine translation), P_max, log-likelihood, significant samples, and the new norm
    correction (before the division by the new average).
    """
    g = setup.grid
    n = len(batch.index)
    k, r2, _ff = setup.refs_fine.shape
    r = r2 // 2
    t = setup.ramps_coarse.shape[0]
    og, grp = batch.optics_group, batch.group
    mctf = batch.ctf * setup.scale[grp][:, None]
    # ---- coarse pass
    xc = batch.masked[:, setup.coarse.index]
    d2 = coarse_d2(xc, mctf[:, setup.coarse.index], setup.inv_sigma2_coarse[og], setup.refs_coarse, setup.ramps_coarse)
    off_prior = _offset_log_prior(setup, batch.rounded_offsets_px, setup.sampling.shifts_px)         # (n, T, K)
    log_prior = setup.log_class_prior[None, None, :, None] + off_prior[..., None]                 # (n, T, K, 1)
    log_w = (-d2.reshape(n, t, k, r) + log_prior).reshape(n, -1)
    keep, n_sig = significant(log_w, setup.adaptive_fraction, setup.max_significant)
    part, flat = torch.nonzero(keep, as_tuple=True)
    tc, rem = flat // (k * r), flat % (k * r)
    kc, rc = rem // r, rem % r
    prior_c = log_prior.reshape(n, t, k)[part, tc, kc]
    # ---- fine samples: 2 angles x 4 translations per significant coarse sample
    j = torch.arange(8, device=g.device)
    s_part = part.repeat_interleave(8)
    s_k = kc.repeat_interleave(8)
    s_rot = (2 * rc).repeat_interleave(8) + (j // 4).repeat(part.numel())
    s_shift = (4 * tc).repeat_interleave(8) + (j % 4).repeat(part.numel())
    s_prior = prior_c.repeat_interleave(8)
    xf = batch.masked[:, setup.fine.index]
    cf = mctf[:, setup.fine.index]
    d2f = _fine_d2(setup, xf, cf, setup.inv_sigma2_fine[og], part, tc, kc, rc, chunk)
    log_wf = -d2f + s_prior
    p, log_sum, best = posterior(log_wf, s_part, n)
    use = _fine_significant(p, s_part, n, setup.adaptive_fraction)
    # ---- per-particle results
    highres = batch.power[:, setup.fine.size // 2 + 1:].sum(dim=1)
    ll = log_sum - 0.5 * highres - setup.log2pi_sigma2[og]
    pmax = p[best]
    fine_psi = setup.sampling.fine_psi_deg
    fine_shift = setup.sampling.fine_shifts_px
    result = ParticleState(
        klass=s_k[best].cpu().numpy(),
        psi_deg=torch.remainder(fine_psi[s_rot[best]], 360.0).cpu().numpy().astype(np.float64),
        offsets_px=(batch.rounded_offsets_px + fine_shift[s_shift[best]]).cpu().numpy().astype(np.float64),
        norm=np.zeros(n),
        pmax=pmax.cpu().numpy().astype(np.float64),
        log_likelihood=ll.cpu().numpy().astype(np.float64),
        n_significant=n_sig.cpu().numpy(),
    )
    # ---- weighted sums from the significant fine samples
    sp, sk, sr, ss, pw = s_part[use], s_k[use], s_rot[use], s_shift[use], p[use]
    n_t4 = setup.ramps_fine.shape[0]
    bins = sk * r2 + sr
    pairs, pair = torch.unique(sp * n_t4 + ss, return_inverse=True)
    pair_part, pair_shift = pairs // n_t4, pairs % n_t4
    # back-projection sums: (bin × particle·translation) and (bin × particle) sparse products
    inv_m = setup.inv_sigma2_sums[og]
    xu = batch.unmasked[:, setup.fine.index] * cf * inv_m                                        # (n, Ff)
    shifted = xu[pair_part] * setup.ramps_fine[pair_shift]                                      # (U, Ff)
    n_bins = sums.data.shape[0]
    data = torch.sparse.mm(_sparse(bins, pair, pw, (n_bins, len(pairs))), torch.view_as_real(shifted).reshape(len(pairs), -1))
    sums.data += torch.view_as_complex(data.reshape(n_bins, -1, 2))
    sums.weight += torch.sparse.mm(_sparse(bins, sp, pw, (n_bins, n)), cf**2 * inv_m)
    e, xa, aa = _residual_sums(setup, xf, cf, sp, bins, pair, pair_part, pair_shift, pw)
    sums.sigma2.index_add_(0, og, e @ setup.fine_shells)
    wdiff = e.sum(dim=1)
    s_old = setup.scale[grp].to(torch.float64)
    sums.xa.index_add_(0, grp, xa.to(torch.float64) / s_old)
    sums.aa.index_add_(0, grp, aa.to(torch.float64) / s_old**2)
    sums.class_weight.index_add_(0, sk, pw)
    pos = (batch.rounded_offsets_px[sp] + fine_shift[ss]) * setup.pixel_size_angstrom
    sums.offset_sum_angstrom.index_add_(0, sk, pw[:, None] * pos)
    sums.sigma2_offset += float((pw * ((setup.prior_offsets_angstrom[sk] - pos) ** 2).sum(dim=1)).sum())
    s_part, p = sp, pw
    sums.sumw_optics.index_add_(0, og, torch.zeros(n, dtype=g.dtype, device=g.device).index_add_(0, s_part, p))
    beyond = batch.power.clone()
    beyond[:, : setup.fine.size // 2 + 1] = 0
    sums.sigma2.index_add_(0, og, beyond)
    wdiff = wdiff + beyond.sum(dim=1)
    result.norm = (norm_old[batch.index] / avg_norm) * np.sqrt(2.0 * wdiff.cpu().numpy().astype(np.float64))
    sums.norm_sum += float(result.norm.sum())
    sums.log_likelihood += float(ll.sum())
    sums.pmax_sum += float(pmax.sum())
    return result


def log_2pi_sigma2(inv_sigma2: torch.Tensor) -> torch.Tensor:
    """Σ log(2πσ²) over the counted coefficients of each optics group, shape (G,)."""
    counted = inv_sigma2 > 0
    return torch.where(counted, torch.log(2.0 * math.pi / inv_sigma2.clamp_min(1e-30)), torch.zeros_like(inv_sigma2)).sum(dim=1)
