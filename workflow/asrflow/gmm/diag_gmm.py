"""Diagonal-covariance GMMs for all pdfs at once, in numpy: likelihoods, EM statistics, update, mix-up.

kaldi-hmm-gmm's per-frame accumulation is ~40x slower from Python and its Gaussian splitting
is unseeded, so the acoustic model's numbers live here; the bindings keep HMMs, graphs, decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

LOG_2PI = float(np.log(2.0 * np.pi))
POST_FLOOR = -30.0  # log-likelihoods this far below a frame's best are treated as zero posterior
UNSEEN = -1.0e10  # log-likelihood given to pdfs left out of a partial computation (no path can use them)


@dataclass
class GmmStats:
    """Zeroth, first and second order statistics per Gaussian plus the data log-likelihood."""

    occ: np.ndarray  # (G,)
    x: np.ndarray  # (G, D)
    xx: np.ndarray  # (G, D)
    loglike: float = 0.0
    frames: int = 0

    @classmethod
    def zeros(cls, num_gauss: int, dim: int) -> "GmmStats":
        """Empty statistics."""
        return cls(np.zeros(num_gauss), np.zeros((num_gauss, dim)), np.zeros((num_gauss, dim)))

    def __iadd__(self, other: "GmmStats") -> "GmmStats":
        self.occ += other.occ
        self.x += other.x
        self.xx += other.xx
        self.loglike += other.loglike
        self.frames += other.frames
        return self


@dataclass
class DiagGmmSet:
    """Every pdf's GMM, Gaussians stored flat and grouped by pdf (`pdf_of` is non-decreasing)."""

    weights: np.ndarray  # (G,) mixture weight within its pdf
    means: np.ndarray  # (G, D)
    vars: np.ndarray  # (G, D)
    pdf_of: np.ndarray  # (G,) int

    @classmethod
    def single(cls, num_pdfs: int, mean: np.ndarray, var: np.ndarray) -> "DiagGmmSet":
        """One Gaussian per pdf at the global mean and variance (Kaldi's gmm-init-mono)."""
        return cls(
            np.ones(num_pdfs),
            np.tile(mean, (num_pdfs, 1)).astype(np.float64),
            np.tile(var, (num_pdfs, 1)).astype(np.float64),
            np.arange(num_pdfs),
        )

    @property
    def num_pdfs(self) -> int:
        """Number of pdfs."""
        return int(self.pdf_of[-1]) + 1

    @property
    def num_gauss(self) -> int:
        """Total number of Gaussians."""
        return len(self.weights)

    @property
    def dim(self) -> int:
        """Feature dimension."""
        return self.means.shape[1]

    def _starts(self) -> np.ndarray:
        """Index of each pdf's first Gaussian."""
        return np.searchsorted(self.pdf_of, np.arange(self.num_pdfs))

    @cached_property
    def _linear_params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-Gaussian constant and the x and x^2 coefficient matrices of the log-density."""
        inv = 1.0 / self.vars
        gconst = (np.log(self.weights) - 0.5 * (self.dim * LOG_2PI + np.log(self.vars).sum(1)
                                                + (self.means**2 * inv).sum(1)))
        return gconst, (self.means * inv).T, (-0.5 * inv).T

    def gauss_loglikes(self, feats: np.ndarray, sel: np.ndarray | None = None) -> np.ndarray:
        """Weighted log-likelihood of every frame under every Gaussian (or the Gaussians `sel`), (T, G)."""
        gconst, a, b = self._linear_params
        if sel is not None:
            gconst, a, b = gconst[sel], a[:, sel], b[:, sel]
        x = feats.astype(np.float64)
        return gconst + x @ a + (x * x) @ b

    def pdf_loglikes(self, gauss_ll: np.ndarray, pdf_of: np.ndarray | None = None) -> np.ndarray:
        """Log-sum-exp of Gaussian log-likelihoods within each pdf, (T, P).

        `pdf_of` gives the pdfs of `gauss_ll`'s columns when they are a subset of the Gaussians
        (grouped by pdf as stored); pdfs without a column get `UNSEEN`.
        """
        pdf_of = self.pdf_of if pdf_of is None else pdf_of
        starts = np.flatnonzero(np.r_[True, pdf_of[1:] != pdf_of[:-1]])
        peak = np.maximum.reduceat(gauss_ll, starts, axis=1)
        rel = np.maximum(gauss_ll - np.repeat(peak, np.diff(np.r_[starts, len(pdf_of)]), axis=1), POST_FLOOR)
        out = np.full((len(gauss_ll), self.num_pdfs), UNSEEN)
        out[:, pdf_of[starts]] = peak + np.log(np.add.reduceat(np.exp(rel), starts, axis=1))
        return out

    def loglikes(self, feats: np.ndarray, pdfs: np.ndarray | None = None) -> np.ndarray:
        """Log-likelihood of every frame under every pdf, (T, P); with `pdfs`, only those (the rest `UNSEEN`).

        An alignment only visits the pdfs of its utterance's training graph, so computing just
        those (as Kaldi's decodables do lazily) saves most of the work of a realignment pass.
        """
        if pdfs is None:
            return self.pdf_loglikes(self.gauss_loglikes(feats))
        sel = np.flatnonzero(np.isin(self.pdf_of, pdfs))
        return self.pdf_loglikes(self.gauss_loglikes(feats, sel), self.pdf_of[sel])

    def accumulate(self, feats: np.ndarray, pdfs: np.ndarray, stats_feats: np.ndarray | None = None) -> GmmStats:
        """EM statistics for frames with known pdfs (Viterbi alignment): posteriors only over each frame's own pdf.

        Frames are grouped by pdf, so the cost is frames x Gaussians-per-pdf, not frames x all Gaussians.
        With `stats_feats`, posteriors come from `feats` but the statistics from `stats_feats`
        (Kaldi's gmm-acc-stats-twofeats, for SAT's speaker-independent alignment model).
        """
        gconst, a, b = self._linear_params
        stats = GmmStats.zeros(self.num_gauss, self.dim if stats_feats is None else stats_feats.shape[1])
        stats.frames = len(feats)
        order = np.argsort(pdfs, kind="stable")
        sorted_pdfs = pdfs[order]
        starts = self._starts()
        ends = np.r_[starts[1:], self.num_gauss]
        cuts = np.flatnonzero(np.diff(sorted_pdfs)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(order)]):
            p = sorted_pdfs[lo]
            g = slice(starts[p], ends[p])
            x = feats[order[lo:hi]].astype(np.float64)
            ll = gconst[g] + x @ a[:, g] + (x * x) @ b[:, g]
            if stats_feats is not None:
                x = stats_feats[order[lo:hi]].astype(np.float64)
            peak = ll.max(1, keepdims=True)
            post = np.exp(np.maximum(ll - peak, POST_FLOOR))
            total = post.sum(1, keepdims=True)
            post /= total
            stats.occ[g] += post.sum(0)
            stats.x[g] += post.T @ x
            stats.xx[g] += post.T @ (x * x)
            stats.loglike += float((peak[:, 0] + np.log(total[:, 0])).sum())
        return stats

    def update(self, stats: GmmStats, var_floor: float, min_occ: float) -> "DiagGmmSet":
        """Maximum-likelihood re-estimate; drops Gaussians with occupancy < `min_occ` (never a pdf's last)."""
        occ = stats.occ
        pdf_occ = np.bincount(self.pdf_of, weights=occ, minlength=self.num_pdfs)
        seen = occ > 0
        means = np.where(seen[:, None], stats.x / np.maximum(occ, 1e-10)[:, None], self.means)
        vars_ = np.where(seen[:, None], stats.xx / np.maximum(occ, 1e-10)[:, None] - means**2, self.vars)
        vars_ = np.maximum(vars_, var_floor)
        trained = pdf_occ[self.pdf_of] > 0
        weights = np.where(trained, occ / np.maximum(pdf_occ[self.pdf_of], 1e-10), self.weights)
        keep = ~trained | (occ >= min_occ)
        # a pdf whose Gaussians all fall below min_occ keeps its best one
        order = np.lexsort((-occ, self.pdf_of))
        best = order[self._starts()]
        keep[best] = True
        weights, pdf_of = weights[keep], self.pdf_of[keep]
        return DiagGmmSet(weights / np.bincount(pdf_of, weights=weights)[pdf_of], means[keep], vars_[keep], pdf_of)

    def split(self, targets: np.ndarray, rng: np.random.Generator, perturb: float = 0.01) -> "DiagGmmSet":
        """Grow each pdf to `targets[p]` Gaussians by splitting its heaviest one (Kaldi's DiagGmm::Split, seeded)."""
        weights, means, vars_, pdfs = [], [], [], []
        for p in range(self.num_pdfs):
            sel = self.pdf_of == p
            w, m, v = list(self.weights[sel]), list(self.means[sel]), list(self.vars[sel])
            while len(w) < targets[p]:
                i = int(np.argmax(w))
                step = perturb * rng.standard_normal(self.dim) * np.sqrt(v[i])
                w[i] /= 2.0
                w.append(w[i])
                m.append(m[i] + step)
                v.append(v[i].copy())
                m[i] = m[i] - step
            weights += w
            means += m
            vars_ += v
            pdfs += [p] * len(w)
        return DiagGmmSet(np.array(weights), np.array(means), np.array(vars_), np.array(pdfs))


def split_targets(pdf_occ: np.ndarray, current: np.ndarray, total: int, power: float, min_count: float) -> np.ndarray:
    """Gaussians per pdf for a mix-up to `total`: proportional to occupancy**power, capped by occ/min_count."""
    targets = current.copy()
    cap = np.maximum(current, np.floor(pdf_occ / max(min_count, 1e-10))).astype(int)
    share = np.power(np.maximum(pdf_occ, 0.0), power)
    while targets.sum() < total:
        room = targets < cap
        if not room.any():
            break
        # give the next Gaussian to the pdf whose share per Gaussian is largest
        score = np.where(room, share / targets, -np.inf)
        targets[int(np.argmax(score))] += 1
    return targets
