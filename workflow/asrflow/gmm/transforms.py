"""Feature-space transforms for LDA+MLLT and SAT training: splicing, LDA, MLLT, fMLLR, and composing them.

Numpy versions of Kaldi's splice-feats, est-lda, est-mllt, gmm-est-fmllr (full update) and compose-transforms,
accumulated from Viterbi alignments with posteriors restricted to each frame's own pdf, like DiagGmmSet.accumulate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
from scipy import sparse
from scipy.linalg import solve_triangular

from asrflow.common import AsrflowError
from asrflow.gmm.diag_gmm import POST_FLOOR, DiagGmmSet

BLOCK_CELLS = 1 << 16  # frames x Gaussians per posterior block: bounds working memory for big pdfs
FRAME_BLOCK = 2048  # frames per block of fMLLR outer products, (FRAME_BLOCK, (D+1)^2) doubles


def splice(feats: np.ndarray, context: int) -> np.ndarray:
    """Stack frames t-context..t+context (edges replicated) into one vector per frame, as splice-feats."""
    if context < 0:
        raise AsrflowError(f"splice context must be >= 0, got {context}: fix the splice setting in the config")
    x = np.asarray(feats, dtype=np.float32)
    num_frames = len(x)
    idx = np.clip(np.arange(num_frames)[:, None] + np.arange(-context, context + 1), 0, num_frames - 1)
    return x[idx].reshape(num_frames, x.shape[1] * (2 * context + 1))


def _own_pdf_posteriors(feats: np.ndarray, gmm: DiagGmmSet,
                        pdfs: np.ndarray) -> Iterator[tuple[slice, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (Gaussian slice, frame indices, float64 frames, posteriors) blocks of frames aligned to one pdf.

    Posteriors cover only that pdf's Gaussians, so the cost is frames x Gaussians-per-pdf.
    """
    if len(feats) != len(pdfs):
        raise AsrflowError(f"{len(feats)} feature frames but {len(pdfs)} aligned pdfs: re-align these features")
    if len(pdfs) == 0:
        return
    gconst, lin, quad = gmm._linear_params
    starts = gmm._starts()
    ends = np.r_[starts[1:], gmm.num_gauss]
    order = np.argsort(pdfs, kind="stable")
    sorted_pdfs = pdfs[order]
    cuts = np.flatnonzero(np.diff(sorted_pdfs)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(order)]):
        p = sorted_pdfs[lo]
        g = slice(starts[p], ends[p])
        step = max(1, BLOCK_CELLS // (ends[p] - starts[p]))
        for first in range(lo, hi, step):
            idx = order[first:min(first + step, hi)]
            x = feats[idx].astype(np.float64)
            ll = gconst[g] + x @ lin[:, g] + (x * x) @ quad[:, g]
            post = np.exp(np.maximum(ll - ll.max(1, keepdims=True), POST_FLOOR))
            post /= post.sum(1, keepdims=True)
            yield g, idx, x, post


def _spd_inverses(mats: np.ndarray, what: str) -> np.ndarray:
    """Inverses of a stack of statistics matrices, which must be positive definite for the row updates."""
    try:
        np.linalg.cholesky(mats)
    except np.linalg.LinAlgError:
        raise AsrflowError(f"{what} statistics are singular (too few or degenerate frames): "
                           "accumulate more data or check the features for constant dimensions") from None
    return np.linalg.inv(mats)


@dataclass
class LdaStats:
    """Per-class occupancy and sums plus the total scatter, enough for est-lda."""

    count: np.ndarray  # (C,)
    sums: np.ndarray  # (C, D)
    scatter: np.ndarray  # (D, D) sum of x x^T over all frames

    @classmethod
    def zeros(cls, num_classes: int, dim: int) -> "LdaStats":
        """Empty statistics."""
        return cls(np.zeros(num_classes), np.zeros((num_classes, dim)), np.zeros((dim, dim)))

    def accumulate(self, feats: np.ndarray, classes: np.ndarray, weights: np.ndarray | None = None) -> None:
        """Add frames labelled with their class (pdf), optionally weighted."""
        x = feats.astype(np.float64)
        w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
        onehot = sparse.csr_matrix((w, (classes, np.arange(len(x)))), shape=(len(self.count), len(x)))
        self.count += np.bincount(classes, weights=w, minlength=len(self.count))
        self.sums += onehot @ x
        self.scatter += (x * w[:, None]).T @ x

    def __iadd__(self, other: "LdaStats") -> "LdaStats":
        self.count += other.count
        self.sums += other.sums
        self.scatter += other.scatter
        return self


def estimate_lda(stats: LdaStats, dim: int) -> np.ndarray:
    """(dim, D) LDA matrix: top eigenvectors of B v = lambda W v, scaled to unit within-class variance."""
    full_dim = stats.scatter.shape[0]
    seen = stats.count > 0
    total = stats.count.sum()
    if not 0 < dim <= full_dim:
        raise AsrflowError(f"LDA dimension {dim} must be in 1..{full_dim} (the spliced feature dimension): "
                           "lower the LDA dim or widen the splice context")
    if dim >= seen.sum():
        raise AsrflowError(f"LDA dimension {dim} needs more than {dim} classes with data, got {seen.sum()}: "
                           "lower the LDA dim or train a tree with more leaves")
    if total <= full_dim:
        raise AsrflowError(f"LDA needs more than {full_dim} frames, got {total:g}: use more training data")
    mean = stats.sums.sum(0) / total
    total_cov = stats.scatter / total - np.outer(mean, mean)
    offsets = stats.sums[seen] / stats.count[seen, None] - mean
    between = (offsets.T * (stats.count[seen] / total)) @ offsets
    try:
        chol = np.linalg.cholesky(total_cov - between)
    except np.linalg.LinAlgError:
        raise AsrflowError("LDA within-class covariance is singular: check the features for constant "
                           "dimensions or use more training data") from None
    inv_chol = solve_triangular(chol, np.eye(full_dim), lower=True)
    _, vecs = np.linalg.eigh(inv_chol @ between @ inv_chol.T)
    return vecs[:, ::-1][:, :dim].T @ inv_chol


@dataclass
class MlltStats:
    """Kaldi's MlltAccs: total occupancy and, per dimension i, the inverse-variance-weighted scatter G_i."""

    beta: float
    G: np.ndarray  # (D, D, D)

    @classmethod
    def zeros(cls, dim: int) -> "MlltStats":
        """Empty statistics."""
        return cls(0.0, np.zeros((dim, dim, dim)))

    def accumulate(self, feats: np.ndarray, gmm: DiagGmmSet, pdfs: np.ndarray) -> None:
        """Add aligned frames: each Gaussian's scatter around its mean, weighted by 1/var_i into G_i."""
        for g, _, x, post in _own_pdf_posteriors(feats, gmm, pdfs):
            diff = x[None] - gmm.means[g][:, None]  # (k, n, D)
            scatter = np.matmul((post.T[:, :, None] * diff).transpose(0, 2, 1), diff)  # (k, D, D)
            self.G += np.tensordot(1.0 / gmm.vars[g], scatter, axes=(0, 0))
            self.beta += float(post.sum())

    def __iadd__(self, other: "MlltStats") -> "MlltStats":
        self.beta += other.beta
        self.G += other.G
        return self

    def objective(self, A: np.ndarray) -> float:
        """Auxiliary function beta log|det A| - 1/2 sum_i a_i G_i a_i^T, maximised by estimate_mllt."""
        return float(self.beta * np.linalg.slogdet(A)[1] - 0.5 * np.einsum("ij,ijk,ik->", A, self.G, A))


def estimate_mllt(stats: MlltStats, A: np.ndarray | None = None, num_iters: int = 100) -> np.ndarray:
    """Improve the (D, D) MLLT matrix by Gales' row-by-row updates (Kaldi MlltAccs::Update)."""
    dim = stats.G.shape[0]
    A = np.eye(dim) if A is None else np.array(A, dtype=np.float64)
    if stats.beta <= 0:
        raise AsrflowError("MLLT statistics are empty: check that the alignments match the features")
    g_inv = _spd_inverses(stats.G, "MLLT")
    for _ in range(num_iters):
        for i in range(dim):
            # row i of the cofactor matrix, up to a scale that cancels below
            cofactor = np.linalg.inv(A)[:, i]
            direction = g_inv[i] @ cofactor
            A[i] = direction * np.sqrt(stats.beta / (direction @ cofactor))
    return A


def _affine(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Rows of x mapped by a linear (out, D) or affine (out, D+1) matrix, in float64."""
    dim = x.shape[1]
    if W.shape[1] == dim:
        return x @ W.T
    if W.shape[1] == dim + 1:
        return x @ W[:, :dim].T + W[:, dim]
    raise AsrflowError(f"a {W.shape[0]}x{W.shape[1]} transform cannot apply to {dim}-dimensional features: "
                       "check that the transform belongs to these features")


def transform_gmm_means(gmm: DiagGmmSet, A: np.ndarray) -> DiagGmmSet:
    """Move the means into a transformed feature space (gmm-transform-means); variances are kept."""
    if A.shape[0] != gmm.dim:
        raise AsrflowError(f"a {A.shape[0]}x{A.shape[1]} transform cannot map {gmm.dim}-dimensional means "
                           "onto themselves: use the MLLT matrix of this model")
    return DiagGmmSet(gmm.weights.copy(), _affine(gmm.means, A), gmm.vars.copy(), gmm.pdf_of.copy())


@dataclass
class FmllrStats:
    """Kaldi's FmllrDiagGmmAccs for one speaker: occupancy beta, K (D, D+1) and G_i (D, D+1, D+1)."""

    beta: float
    K: np.ndarray  # (D, D+1)
    G: np.ndarray  # (D, D+1, D+1)

    @classmethod
    def zeros(cls, dim: int) -> "FmllrStats":
        """Empty statistics."""
        return cls(0.0, np.zeros((dim, dim + 1)), np.zeros((dim, dim + 1, dim + 1)))

    def accumulate(self, feats: np.ndarray, gmm: DiagGmmSet, pdfs: np.ndarray,
                   weights: np.ndarray | None = None) -> None:
        """Add aligned frames, each scaled by its weight (e.g. a small one for silence)."""
        if weights is not None:
            keep = np.asarray(weights) != 0
            feats, pdfs, weights = feats[keep], pdfs[keep], np.asarray(weights, dtype=np.float64)[keep]
        num_frames, dim = feats.shape
        frame_w = np.ones(num_frames) if weights is None else weights
        inv_var = np.zeros((num_frames, dim))  # sum_g gamma_tg / var_g, times the frame weight
        mean_inv_var = np.zeros((num_frames, dim))  # sum_g gamma_tg mu_g / var_g, times the frame weight
        for g, idx, _, post in _own_pdf_posteriors(feats, gmm, pdfs):
            post *= frame_w[idx, None]
            inv_var[idx] = post @ (1.0 / gmm.vars[g])
            mean_inv_var[idx] = post @ (gmm.means[g] / gmm.vars[g])
        ext = np.hstack([feats.astype(np.float64), np.ones((num_frames, 1))])
        self.beta += float(frame_w.sum())
        self.K += mean_inv_var.T @ ext
        for first in range(0, num_frames, FRAME_BLOCK):
            block = ext[first:first + FRAME_BLOCK]
            outer = (block[:, :, None] * block[:, None, :]).reshape(len(block), -1)
            self.G += (inv_var[first:first + FRAME_BLOCK].T @ outer).reshape(self.G.shape)

    def __iadd__(self, other: "FmllrStats") -> "FmllrStats":
        self.beta += other.beta
        self.K += other.K
        self.G += other.G
        return self

    def objective(self, W: np.ndarray) -> float:
        """Auxiliary function beta log|det A| + tr(W K^T) - 1/2 sum_i w_i G_i w_i^T for W = [A b]."""
        dim = self.K.shape[0]
        return float(self.beta * np.linalg.slogdet(W[:, :dim])[1] + np.sum(W * self.K)
                     - 0.5 * np.einsum("ij,ijk,ik->", W, self.G, W))


def estimate_fmllr(stats: FmllrStats, W: np.ndarray | None = None, num_iters: int = 40,
                   min_count: float = 0.0) -> np.ndarray:
    """Improve the (D, D+1) fMLLR matrix row by row (Kaldi's full update); [I 0] if the speaker has < min_count."""
    dim = stats.K.shape[0]
    identity = np.hstack([np.eye(dim), np.zeros((dim, 1))])
    if stats.beta <= 0 or stats.beta < min_count:
        return identity
    W = identity if W is None else np.array(W, dtype=np.float64)
    g_inv = _spd_inverses(stats.G, f"fMLLR (count {stats.beta:g}; raise min_count above {dim + 1})")
    cofactor = np.zeros(dim + 1)
    for _ in range(num_iters):
        for i in range(dim):
            # row i of A's cofactor matrix up to scale, extended with 0 for the offset
            cofactor[:dim] = np.linalg.inv(W[:, :dim])[:, i]
            direction = g_inv[i] @ cofactor
            quad, lin = direction @ cofactor, direction @ stats.K[i]
            # the row is G_i^-1 (alpha c + k_i); alpha solves quad alpha^2 + lin alpha = beta, pick the better root
            disc = np.sqrt(lin * lin + 4.0 * quad * stats.beta)
            roots = (-lin + np.array([disc, -disc])) / (2.0 * quad)
            auxf = stats.beta * np.log(np.abs(roots * quad + lin)) - 0.5 * roots**2 * quad
            W[i] = g_inv[i] @ (roots[np.argmax(auxf)] * cofactor + stats.K[i])
    return W


def apply_affine(feats: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Transform features by x -> A x + b (W = [A b]) or x -> A x (transform-feats); float32 out."""
    return _affine(np.asarray(feats, dtype=np.float64), W).astype(np.float32)


def compose_affine(outer: np.ndarray, inner: np.ndarray, inner_is_affine: bool | None = None) -> np.ndarray:
    """Matrix applying `inner` then `outer` (compose-transforms).

    Only an affine `outer` needs to know whether `inner` ends in an offset column (Kaldi's --b-is-affine);
    by default `inner` is affine iff it is (n, n+1), so say so for a non-square affine one (LDA with offset).
    """
    rows = inner.shape[0]
    if outer.shape[1] == rows:
        return outer @ inner
    if outer.shape[1] != rows + 1:
        raise AsrflowError(f"cannot compose a {outer.shape[0]}x{outer.shape[1]} transform after a "
                           f"{rows}x{inner.shape[1]} one: their dimensions do not chain")
    linear = outer[:, :rows] @ inner
    if inner_is_affine is None:
        inner_is_affine = inner.shape[1] == rows + 1
    if inner_is_affine:
        linear[:, -1] += outer[:, rows]
        return linear
    return np.hstack([linear, outer[:, rows:]])
