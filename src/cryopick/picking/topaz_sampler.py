"""Minibatches for Topaz's positive-unlabelled training, drawn in memory from one seeded generator.

What topaz's training data loader draws, without its pitfalls: each crop is labelled
positive with probability ``balance`` (topaz's ``--minibatch-balance``, 1/16; but every
minibatch holds at least one positive and one unlabelled crop: a batch without positives
makes topaz's GE-binomial loss NaN, which ruins the network, and small CPU minibatches would
meet one every few thousand updates) and is then
centred on a random labelled pixel (any pixel within the training radius of a training
particle, all micrographs pooled); otherwise it is centred on a random pixel of a random
micrograph that is not labelled. Crops are rotated by a random angle (nearest neighbour,
as torchvision's default) and flipped at random, then cut to the network's window.

topaz draws from unseeded generators (``np.random.default_rng()`` per image and per
dataset, pandas' global state for positives) and, with DataLoader workers, every worker
starts from the same state, so batches repeat. Here one ``numpy.random.Generator`` draws
everything, in the main process: the same seed gives the same batches.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cryopick.errors import BadInputError
from cryopick.picking.nms import disc_offsets


def positive_mask(shape: tuple[int, int], xy: np.ndarray, radius_px: int) -> np.ndarray:
    """Pixels within ``radius_px`` of any centre (topaz's ``as_mask``).

    Parameters
    ----------
    shape : (H, W)
    xy : np.ndarray, shape (n, 2)
        Integer centres (x = column, y = row) in the image's pixels; those outside are ignored.

    Returns
    -------
    np.ndarray, shape (H, W), bool
    """
    mask = np.zeros(shape, dtype=bool)
    if len(xy) == 0:
        return mask
    dy, dx = disc_offsets(radius_px)
    rows = (np.asarray(xy[:, 1], dtype=np.int64)[:, None] + dy[None]).ravel()
    cols = (np.asarray(xy[:, 0], dtype=np.int64)[:, None] + dx[None]).ravel()
    keep = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    mask[rows[keep], cols[keep]] = True
    return mask


class CropSampler:
    """Random labelled crops of binned micrographs.

    Parameters
    ----------
    images : sequence of np.ndarray, each shape (H_i, W_i), float32
        Binned, normalised training micrographs.
    masks : sequence of np.ndarray, each shape (H_i, W_i), bool
        Their positive (labelled) pixels (:func:`positive_mask`).
    crop_px : int
        The network's window (its receptive field, odd).
    balance : float
        Probability that a crop is positive.
    rng : np.random.Generator
    """

    def __init__(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], crop_px: int, balance: float,
                 rng: np.random.Generator):
        self.crop_px = int(crop_px)
        self.half = int(np.ceil(crop_px * np.sqrt(2))) // 2 + 1  # half-width of a window any rotation fits in
        self.pad = self.half
        self.images = [np.pad(np.asarray(im, np.float32), self.pad) for im in images]
        self.shapes = [im.shape for im in images]
        self.negatives = [np.flatnonzero(~m.ravel()) for m in masks]
        pos = [np.flatnonzero(m.ravel()) for m in masks]
        self.positives = np.concatenate([np.column_stack([np.full(len(p), k), p]) for k, p in enumerate(pos)]) \
            if pos else np.zeros((0, 2), np.int64)
        if len(self.positives) == 0:
            raise BadInputError("no training particles on the training micrographs")
        self.balance = float(balance)
        self.rng = rng

    def _centres(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = self.rng
        n_pos = int(np.clip(rng.binomial(n, self.balance), 1 if self.balance > 0 else 0, n - 1 if self.balance < 1 else n))
        label = np.zeros(n, dtype=bool)
        label[rng.choice(n, n_pos, replace=False)] = True
        image = np.empty(n, np.int64)
        flat = np.empty(n, np.int64)
        pos = self.positives[rng.integers(0, len(self.positives), int(label.sum()))]
        image[label], flat[label] = pos[:, 0], pos[:, 1]
        neg_images = rng.integers(0, len(self.images), int((~label).sum()))
        image[~label] = neg_images
        flat[~label] = [self.negatives[k][rng.integers(0, len(self.negatives[k]))] for k in neg_images]
        return image, flat, label

    def batch(self, n: int):
        """``n`` crops and labels.

        Returns
        -------
        crops : torch.Tensor, shape (n, crop_px, crop_px), float32
        labels : torch.Tensor, shape (n,), float32
            1 for positive crops, 0 for unlabelled ones.
        """
        import torch
        import torch.nn.functional as F

        image, flat, label = self._centres(n)
        half = self.half
        size = 2 * half + 1
        big = np.empty((n, size, size), np.float32)
        for i in range(n):
            w = self.shapes[image[i]][1]
            r, c = divmod(int(flat[i]), w)
            r, c = r + self.pad, c + self.pad
            big[i] = self.images[image[i]][r - half : r + half + 1, c - half : c + half + 1]
        angle = self.rng.uniform(0, 2 * np.pi, n)
        flip_x = np.where(self.rng.random(n) < 0.5, -1.0, 1.0)
        flip_y = np.where(self.rng.random(n) < 0.5, -1.0, 1.0)
        cos, sin = np.cos(angle), np.sin(angle)
        scale = self.crop_px / size  # output window spans crop_px of the big crop's pixels
        theta = np.zeros((n, 2, 3), np.float32)
        theta[:, 0, 0], theta[:, 0, 1] = cos * scale * flip_x, -sin * scale * flip_y
        theta[:, 1, 0], theta[:, 1, 1] = sin * scale * flip_x, cos * scale * flip_y
        src = torch.from_numpy(big)[:, None]
        grid = F.affine_grid(torch.from_numpy(theta), [n, 1, self.crop_px, self.crop_px], align_corners=False)
        crops = F.grid_sample(src, grid, mode="nearest", align_corners=False)[:, 0]
        return crops.contiguous(), torch.from_numpy(label.astype(np.float32))
