"""Splicing, LDA, MLLT, fMLLR and transform composition against direct computations on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from asrflow.common import AsrflowError
from asrflow.gmm import transforms
from asrflow.gmm.diag_gmm import DiagGmmSet
from asrflow.gmm.transforms import (FmllrStats, LdaStats, MlltStats, apply_affine, compose_affine, estimate_fmllr,
                                    estimate_lda, estimate_mllt, splice, transform_gmm_means)


def small_gmm(rng: np.random.Generator, dim: int) -> DiagGmmSet:
    """Three pdfs with 1, 2 and 3 Gaussians."""
    pdf_of = np.array([0, 1, 1, 2, 2, 2])
    weights = np.array([1.0, 0.4, 0.6, 0.2, 0.3, 0.5])
    return DiagGmmSet(weights, rng.normal(scale=2.0, size=(6, dim)), rng.uniform(0.5, 2.0, size=(6, dim)), pdf_of)


def sample(rng: np.random.Generator, gmm: DiagGmmSet, num_frames: int,
           cov_root: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frames and their Gaussian labels; noise is diagonal per Gaussian, or x cov_root^T for a shared covariance."""
    labels = rng.choice(gmm.num_gauss, size=num_frames, p=gmm.weights / gmm.weights.sum())
    noise = rng.standard_normal((num_frames, gmm.dim))
    noise = noise * np.sqrt(gmm.vars[labels]) if cov_root is None else noise @ cov_root.T
    return gmm.means[labels] + noise, labels


def own_pdf_posteriors(gmm: DiagGmmSet, x: np.ndarray, pdfs: np.ndarray) -> np.ndarray:
    """(T, G) Gaussian posteriors, zero outside each frame's pdf, from the dense log-likelihoods."""
    ll = np.where(gmm.pdf_of[None, :] == pdfs[:, None], gmm.gauss_loglikes(x), -np.inf)
    post = np.exp(ll - ll.max(1, keepdims=True))
    return post / post.sum(1, keepdims=True)


def own_pdf_loglike(gmm: DiagGmmSet, x: np.ndarray, pdfs: np.ndarray) -> float:
    """Total log-likelihood of frames under their aligned pdfs."""
    return float(gmm.loglikes(x)[np.arange(len(x)), pdfs].sum())


def test_splice_matches_a_loop_including_edges() -> None:
    rng = np.random.default_rng(0)
    for num_frames, context in [(7, 2), (3, 4), (1, 1), (5, 0)]:
        feats = rng.normal(size=(num_frames, 3))
        expected = np.array([np.concatenate([feats[min(max(t + o, 0), num_frames - 1)]
                                             for o in range(-context, context + 1)])
                             for t in range(num_frames)])
        out = splice(feats, context)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_lda_stats_weights_count_like_repeated_frames() -> None:
    rng = np.random.default_rng(1)
    x, classes = rng.normal(size=(20, 3)), rng.integers(0, 4, size=20)
    reps = rng.integers(0, 3, size=20)
    weighted, repeated = LdaStats.zeros(4, 3), LdaStats.zeros(4, 3)
    weighted.accumulate(x, classes, reps.astype(float))
    repeated.accumulate(np.repeat(x, reps, axis=0), np.repeat(classes, reps))
    for name in ("count", "sums", "scatter"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), atol=1e-12)


def test_lda_matches_the_generalized_eigenproblem_and_separates_classes() -> None:
    rng = np.random.default_rng(2)
    num_classes, dim, per_class = 5, 6, 800
    direction = rng.normal(size=dim)
    class_means = np.arange(num_classes)[:, None] * 4.0 * direction / np.linalg.norm(direction)
    class_means += rng.normal(scale=0.5, size=(num_classes, dim))
    root = 0.5 * rng.normal(size=(dim, dim))
    classes = np.repeat(np.arange(num_classes), per_class)
    x = class_means[classes] + rng.standard_normal((len(classes), dim)) @ root.T
    stats = LdaStats.zeros(num_classes, dim)
    half = LdaStats.zeros(num_classes, dim)
    stats.accumulate(x[::2], classes[::2])
    half.accumulate(x[1::2], classes[1::2])
    stats += half

    means = np.array([x[classes == c].mean(0) for c in range(num_classes)])
    within = sum(np.cov(x[classes == c].T, bias=True) for c in range(num_classes)) / num_classes
    between = np.cov(means.T, bias=True)
    vals, vecs = scipy.linalg.eigh(between, within)
    top_vals, top_vecs = vals[::-1][:3], vecs[:, ::-1][:, :3]

    M = estimate_lda(stats, 3)
    assert M.shape == (3, dim)
    np.testing.assert_allclose(M @ within @ M.T, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(M @ between @ M.T, np.diag(top_vals), atol=1e-9)
    signs = np.sign(np.sum(M * top_vecs.T, axis=1))
    np.testing.assert_allclose(M, signs[:, None] * top_vecs.T, atol=1e-9)

    def accuracy(v: np.ndarray) -> float:
        """Nearest-class-mean accuracy of the data projected onto one direction."""
        projected = x @ v
        centres = np.array([projected[classes == c].mean() for c in range(num_classes)])
        return float((np.argmin(np.abs(projected[:, None] - centres[None, :]), axis=1) == classes).mean())

    best = accuracy(M[0])
    assert best > 0.95
    assert best > max(accuracy(v) for v in [*np.eye(dim), direction])


def test_lda_rejects_impossible_requests() -> None:
    rng = np.random.default_rng(3)
    stats = LdaStats.zeros(3, 4)
    stats.accumulate(rng.normal(size=(100, 4)), rng.integers(0, 3, size=100))
    with pytest.raises(AsrflowError):
        estimate_lda(stats, 5)
    with pytest.raises(AsrflowError):
        estimate_lda(stats, 3)  # 3 classes give at most 2 discriminant directions
    one_class = LdaStats.zeros(3, 4)
    one_class.accumulate(rng.normal(size=(100, 4)), np.zeros(100, dtype=int))
    with pytest.raises(AsrflowError):
        estimate_lda(one_class, 1)


def test_mllt_stats_match_a_direct_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transforms, "BLOCK_CELLS", 5)  # several posterior blocks per pdf
    rng = np.random.default_rng(4)
    gmm = small_gmm(rng, 3)
    x, labels = sample(rng, gmm, 60)
    pdfs = gmm.pdf_of[labels]
    stats = MlltStats.zeros(3)
    stats.accumulate(x, gmm, pdfs)
    post = own_pdf_posteriors(gmm, x, pdfs)
    expected = np.zeros((3, 3, 3))
    for t in range(len(x)):
        for g in range(gmm.num_gauss):
            diff = x[t] - gmm.means[g]
            for i in range(3):
                expected[i] += post[t, g] / gmm.vars[g, i] * np.outer(diff, diff)
    assert stats.beta == pytest.approx(len(x))
    np.testing.assert_allclose(stats.G, expected, rtol=1e-6)


def test_mllt_raises_objective_monotonically_and_likelihood() -> None:
    rng = np.random.default_rng(5)
    dim = 4
    gmm = small_gmm(rng, dim)
    root = np.linalg.qr(rng.normal(size=(dim, dim)))[0] @ np.diag([2.0, 1.0, 0.6, 0.3])
    x, labels = sample(rng, gmm, 6000, cov_root=root)
    pdfs = gmm.pdf_of[labels]
    gmm = DiagGmmSet(gmm.weights, gmm.means, np.tile(np.diag(root @ root.T), (gmm.num_gauss, 1)), gmm.pdf_of)
    stats = MlltStats.zeros(dim)
    stats.accumulate(x, gmm, pdfs)

    A = np.eye(dim)
    objectives = [stats.objective(A)]
    for _ in range(15):
        A = estimate_mllt(stats, A, num_iters=1)
        objectives.append(stats.objective(A))
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(objectives, objectives[1:]))
    assert objectives[-1] > objectives[0] + 0.05 * stats.beta

    def refit_loglike(transform: np.ndarray) -> float:
        """Log-likelihood (with the Jacobian) after moving the means and re-estimating the variances."""
        y = x @ transform.T
        moved = transform_gmm_means(gmm, transform)
        np.testing.assert_allclose(moved.means, gmm.means @ transform.T)
        np.testing.assert_array_equal(moved.vars, gmm.vars)
        refit = moved.update(moved.accumulate(y, pdfs), var_floor=1e-6, min_occ=0.0)
        return own_pdf_loglike(refit, y, pdfs) + len(x) * np.linalg.slogdet(transform)[1]

    A = estimate_mllt(stats)
    assert refit_loglike(A) > refit_loglike(np.eye(dim)) + 0.05 * len(x)


def test_fmllr_stats_match_a_direct_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transforms, "BLOCK_CELLS", 5)
    monkeypatch.setattr(transforms, "FRAME_BLOCK", 7)
    rng = np.random.default_rng(6)
    gmm = small_gmm(rng, 3)
    x, labels = sample(rng, gmm, 50)
    pdfs = gmm.pdf_of[labels]
    weights = rng.choice([0.0, 0.01, 1.0, 2.0], size=len(x))
    stats = FmllrStats.zeros(3)
    stats.accumulate(x, gmm, pdfs, weights)
    post = own_pdf_posteriors(gmm, x, pdfs) * weights[:, None]
    K, G = np.zeros((3, 4)), np.zeros((3, 4, 4))
    for t in range(len(x)):
        ext = np.append(x[t], 1.0)
        for g in range(gmm.num_gauss):
            K += post[t, g] * np.outer(gmm.means[g] / gmm.vars[g], ext)
            for i in range(3):
                G[i] += post[t, g] / gmm.vars[g, i] * np.outer(ext, ext)
    assert stats.beta == pytest.approx(weights.sum())
    np.testing.assert_allclose(stats.K, K, rtol=1e-9)
    np.testing.assert_allclose(stats.G, G, rtol=1e-9)


def test_fmllr_recovers_a_known_distortion() -> None:
    rng = np.random.default_rng(7)
    dim, num_gauss = 4, 8
    gmm = DiagGmmSet(np.ones(num_gauss), rng.normal(scale=3.0, size=(num_gauss, dim)),
                     rng.uniform(0.3, 1.5, size=(num_gauss, dim)), np.arange(num_gauss))
    x, labels = sample(rng, gmm, 20000)
    A0 = np.eye(dim) + 0.3 * rng.normal(size=(dim, dim))
    b0 = rng.normal(size=dim)
    distorted = x @ A0.T + b0
    stats = FmllrStats.zeros(dim)
    stats.accumulate(distorted[:7000], gmm, labels[:7000])
    rest = FmllrStats.zeros(dim)
    rest.accumulate(distorted[7000:], gmm, labels[7000:])
    stats += rest

    W = None
    identity = np.hstack([np.eye(dim), np.zeros((dim, 1))])
    objectives = [stats.objective(identity)]
    for _ in range(10):
        W = estimate_fmllr(stats, W, num_iters=1)
        objectives.append(stats.objective(W))
    assert all(b >= a - 1e-9 * abs(a) for a, b in zip(objectives, objectives[1:]))

    W = estimate_fmllr(stats)
    inv = np.linalg.inv(A0)
    np.testing.assert_allclose(W, np.hstack([inv, -(inv @ b0)[:, None]]), atol=0.03)

    def loglike(transform: np.ndarray) -> float:
        """Log-likelihood of the adapted frames, with the Jacobian of the transform."""
        y = distorted @ transform[:, :dim].T + transform[:, dim]
        return own_pdf_loglike(gmm, y, labels) + len(x) * np.linalg.slogdet(transform[:, :dim])[1]

    gain = loglike(W) - loglike(identity)
    assert gain > 0.1 * len(x)
    # with one Gaussian per pdf the auxiliary function is the log-likelihood up to a constant
    assert stats.objective(W) - stats.objective(identity) == pytest.approx(gain, rel=1e-6)
    assert np.array_equal(estimate_fmllr(stats, min_count=stats.beta + 1), identity)


def test_compose_affine_equals_applying_twice() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(10, 6))
    lda = rng.normal(size=(4, 6))
    lda_offset = rng.normal(size=(4, 7))
    square = rng.normal(size=(4, 4))
    affine = rng.normal(size=(4, 5))
    for outer, inner, inner_is_affine in [(square, lda, None), (affine, lda, None), (square, lda_offset, True),
                                          (affine, lda_offset, True)]:
        twice = apply_affine(apply_affine(x, inner), outer)
        composed = compose_affine(outer, inner, inner_is_affine)
        np.testing.assert_allclose(apply_affine(x, composed), twice, rtol=1e-4, atol=1e-4)
    y = x[:, :4]
    for outer, inner in [(square, square), (affine, square), (square, affine), (affine, affine)]:
        twice = apply_affine(apply_affine(y, inner), outer)
        np.testing.assert_allclose(apply_affine(y, compose_affine(outer, inner)), twice, rtol=1e-4, atol=1e-4)
    with pytest.raises(AsrflowError):
        compose_affine(rng.normal(size=(4, 3)), square)
