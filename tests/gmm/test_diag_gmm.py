"""Numpy GMMs against an independent density computation; EM and seeded mix-up behaviour."""

from __future__ import annotations

import numpy as np
from scipy.stats import multivariate_normal

from asrflow.gmm.diag_gmm import DiagGmmSet, split_targets


def random_set(rng: np.random.Generator) -> DiagGmmSet:
    """Two pdfs with 2 and 3 Gaussians in 4 dimensions."""
    weights = np.array([0.3, 0.7, 0.2, 0.5, 0.3])
    return DiagGmmSet(weights, rng.normal(size=(5, 4)), rng.uniform(0.5, 2.0, size=(5, 4)),
                      np.array([0, 0, 1, 1, 1]))


def test_loglikes_match_scipy() -> None:
    rng = np.random.default_rng(0)
    gmm = random_set(rng)
    x = rng.normal(size=(7, 4))
    expected = np.stack([
        np.log(sum(gmm.weights[g] * multivariate_normal(gmm.means[g], np.diag(gmm.vars[g])).pdf(x)
                   for g in np.flatnonzero(gmm.pdf_of == p)))
        for p in range(2)
    ], axis=1)
    np.testing.assert_allclose(gmm.loglikes(x), expected, rtol=1e-10)


def test_em_raises_likelihood_and_recovers_the_mixture() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-3.0, 1.0, size=(2000, 2)), rng.normal(3.0, 0.5, size=(1000, 2))])
    pdfs = np.zeros(len(x), dtype=int)
    gmm = DiagGmmSet.single(1, x.mean(0), x.var(0)).split(np.array([2]), rng, perturb=0.5)
    likes = []
    for _ in range(15):
        stats = gmm.accumulate(x, pdfs)
        likes.append(stats.loglike / stats.frames)
        gmm = gmm.update(stats, var_floor=1e-3, min_occ=3.0)
    assert all(b >= a - 1e-9 for a, b in zip(likes, likes[1:]))
    order = np.argsort(gmm.means[:, 0])
    np.testing.assert_allclose(gmm.means[order, 0], [-3.0, 3.0], atol=0.1)
    np.testing.assert_allclose(gmm.weights[order], [2 / 3, 1 / 3], atol=0.02)


def test_split_is_seeded_and_keeps_weights_normalised() -> None:
    gmm = random_set(np.random.default_rng(2))
    a = gmm.split(np.array([4, 6]), np.random.default_rng(7))
    b = gmm.split(np.array([4, 6]), np.random.default_rng(7))
    np.testing.assert_array_equal(a.means, b.means)
    assert np.bincount(a.pdf_of).tolist() == [4, 6]
    np.testing.assert_allclose(np.bincount(a.pdf_of, weights=a.weights), [1.0, 1.0])


def test_split_targets_follow_occupancy_power_and_min_count() -> None:
    targets = split_targets(np.array([1000.0, 10.0, 100.0]), np.ones(3, dtype=int), 12, power=1.0, min_count=20)
    assert targets.sum() == 12 and targets[1] == 1 and targets[0] > targets[2]
    flat = split_targets(np.array([1000.0, 1000.0]), np.ones(2, dtype=int), 6, power=0.25, min_count=20)
    assert flat.tolist() == [3, 3]
