"""The expectation step for a batch of particles: coarse scores, significant samples, fine samples.

For particle i, class k at in-plane angle ψ and translation t, the squared difference is

    d2 = Σ_f |CTF_i(f)·s_i·A_kψ(f) − X_i(f)·e^{−2πi f·t/B}|² / (2σ²_i(f))

over the Fourier coefficients f of the current image size. Expanded, it is
``term1[i,kψ] + term2[i] − cross[i,t,kψ]`` with

* ``term1 = Σ CTF²·s²·|A|² / 2σ²`` — a product of a (particles × F) and an (F × classes·angles) matrix;
* ``term2 = Σ |X|² / 2σ²`` — one number per particle;
* ``cross = Re Σ conj(Z_it)·A_kψ`` with ``Z_it = X_i·e^{…t}·CTF_i·s_i/σ²`` — one real matrix
  product of (particles·translations × 2F) by (2F × classes·angles).

The coarse pass scores every (class, angle, translation) this way on the coarse size; the
samples making up ``adaptive_fraction`` of each particle's posterior are significant; the
fine pass (:mod:`cryopick.classification.expectation`) scores their 8 refinements (2 angles ×
4 translations) explicitly on the current size, which also gives the residuals the M-step needs.
"""

from __future__ import annotations

import torch


def coarse_d2(x: torch.Tensor, ctf_scaled: torch.Tensor, inv_sigma2: torch.Tensor, refs: torch.Tensor,
              ramps: torch.Tensor) -> torch.Tensor:
    """Squared differences of every coarse sample.

    Parameters
    ----------
    x : torch.Tensor, shape (N, F), complex
        The masked particles' transforms at the coarse coefficients.
    ctf_scaled : torch.Tensor, shape (N, F)
        CTF · scale correction.
    inv_sigma2 : torch.Tensor, shape (N, F)
        1/σ² (0 where a coefficient does not count).
    refs : torch.Tensor, shape (C, F), complex
        References at every (class, angle), flattened to C = K·R.
    ramps : torch.Tensor, shape (T, F), complex
        Translation phase ramps.

    Returns
    -------
    torch.Tensor, shape (N, T, C)
    """
    n, t = x.shape[0], ramps.shape[0]
    a2 = refs.real**2 + refs.imag**2                                           # (C, F)
    term1 = (ctf_scaled**2 * inv_sigma2 * 0.5) @ a2.T                          # (N, C)
    term2 = ((x.real**2 + x.imag**2) * inv_sigma2).sum(dim=1) * 0.5            # (N,)
    z = (x * (ctf_scaled * inv_sigma2))[:, None, :] * ramps[None, :, :]         # (N, T, F)
    zr = torch.view_as_real(z).reshape(n * t, -1)                              # (N·T, 2F): re, im interleaved
    ar = torch.view_as_real(refs.contiguous()).reshape(refs.shape[0], -1)      # (C, 2F)
    cross = (zr @ ar.T).reshape(n, t, -1)
    return term1[:, None, :] + term2[:, None, None] - cross


def significant(log_w: torch.Tensor, fraction: float, max_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples holding ``fraction`` of each particle's posterior weight (at most ``max_samples``).

    Parameters
    ----------
    log_w : torch.Tensor, shape (N, M)
        Unnormalised log posterior of every coarse sample.

    Returns
    -------
    keep : torch.Tensor, shape (N, M), bool
    count : torch.Tensor, shape (N,), int64
        Significant samples per particle before the cap (RELION's rlnNrOfSignificantSamples).
    """
    w = torch.exp(log_w - log_w.max(dim=1, keepdim=True).values)
    total = w.sum(dim=1, keepdim=True)
    # A sample below (1 − fraction)·total / M cannot be significant: all samples at or below it
    # hold less than the remaining (1 − fraction) of the weight. Only the others are ranked.
    floor = (1.0 - fraction) * total / w.shape[1]
    n_rank = max(1, int((w >= floor).sum(dim=1).max()))
    sorted_w, order = torch.topk(w, n_rank, dim=1, sorted=True)
    cum = torch.cumsum(sorted_w, dim=1)
    # a sample is significant while the weight before it is still short of the fraction
    before = cum - sorted_w
    take = before < fraction * total
    count = take.sum(dim=1)
    take &= torch.arange(n_rank, device=take.device)[None, :] < max_samples
    keep = torch.zeros_like(w, dtype=torch.bool)
    keep.scatter_(1, order, take)
    return keep, count


def posterior(log_w: torch.Tensor, particle: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalise sample weights per particle.

    Parameters
    ----------
    log_w : torch.Tensor, shape (S,)
        Unnormalised log posterior of each sample.
    particle : torch.Tensor, shape (S,), int64
    n : int
        Number of particles.

    Returns
    -------
    p : torch.Tensor, shape (S,)
        Normalised posterior of each sample.
    log_sum : torch.Tensor, shape (n,)
        log Σ w per particle.
    best : torch.Tensor, shape (n,), int64
        Index (into the samples) of each particle's most probable sample.
    """
    peak = torch.full((n,), -torch.inf, dtype=log_w.dtype, device=log_w.device)
    peak = peak.scatter_reduce(0, particle, log_w, reduce="amax", include_self=True)
    w = torch.exp(log_w - peak[particle])
    total = torch.zeros(n, dtype=log_w.dtype, device=log_w.device).index_add_(0, particle, w)
    p = w / total[particle]
    log_sum = torch.log(total) + peak
    # the first sample reaching each particle's peak
    at_peak = (log_w == peak[particle])
    idx = torch.arange(log_w.numel(), device=log_w.device)
    big = torch.full((n,), log_w.numel(), dtype=torch.int64, device=log_w.device)
    best = big.scatter_reduce(0, particle[at_peak], idx[at_peak], reduce="amin", include_self=True)
    return p, log_sum, best
