"""Numpy GMMs against an independent density computation and Kaldi's own GMM update; EM and seeded mix-up."""

from __future__ import annotations

import kaldi_hmm_gmm as khg
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


def test_loglikes_of_a_pdf_subset_equal_the_full_ones_there() -> None:
    rng = np.random.default_rng(1)
    gmm = random_set(rng)
    x = rng.normal(size=(6, 4))
    part = gmm.loglikes(x, np.array([1]))
    np.testing.assert_allclose(part[:, 1], gmm.loglikes(x)[:, 1], rtol=1e-12)
    assert (part[:, 0] < -1e9).all()


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


def kaldi_am(gmm: DiagGmmSet) -> "khg.AmDiagGmm":
    """The same GMMs as Kaldi's AmDiagGmm (kaldi-hmm-gmm)."""
    am = khg.AmDiagGmm()
    for p in range(gmm.num_pdfs):
        sel = gmm.pdf_of == p
        pdf = khg.DiagGmm(int(sel.sum()), gmm.dim)
        pdf.set_weights(gmm.weights[sel].astype(np.float32))
        pdf.set_invvars_and_means((1 / gmm.vars[sel]).astype(np.float32), gmm.means[sel].astype(np.float32))
        pdf.compute_gconsts()
        am.add_pdf(pdf)
    return am


def test_accumulation_and_update_match_kaldis_gmm_est() -> None:
    """One Viterbi EM step (gmm-acc-stats-ali + gmm-est) in numpy against Kaldi's own AccumAmDiagGmm and
    MleAmDiagGmmUpdate on the same frames: likelihood, weights, means, variances, and the dropped Gaussian."""
    rng = np.random.default_rng(3)
    gmm = random_set(rng)
    x = rng.normal(size=(400, 4))
    pdfs = np.r_[np.zeros(150, dtype=int), np.ones(250, dtype=int)]
    gmm.means[4] = 25.0  # far from every frame: about no occupancy, so gmm-est removes it
    ours = gmm.accumulate(x, pdfs)
    updated = gmm.update(ours, var_floor=1e-3, min_occ=10.0)
    am = kaldi_am(gmm)
    acc = khg.AccumAmDiagGmm()
    acc.init(am, int(khg.GmmUpdateFlags.kGmmAll))
    kaldi_like = sum(acc.accumulate_for_gmm(am, f.astype(np.float32), int(p), 1.0) for f, p in zip(x, pdfs))
    opts = khg.MleDiagGmmOptions()
    opts.min_gaussian_occupancy, opts.min_variance = 10.0, 1e-3
    khg.mle_am_diag_gmm_update(opts, acc, int(khg.GmmUpdateFlags.kGmmAll), am)
    assert np.isclose(ours.loglike, kaldi_like, rtol=1e-5)
    assert np.bincount(updated.pdf_of).tolist() == [am.get_pdf(p).num_gauss for p in range(2)] == [2, 2]
    for p in range(2):
        sel = updated.pdf_of == p
        kaldi = am.get_pdf(p)
        np.testing.assert_allclose(updated.weights[sel], np.asarray(kaldi.weights).ravel(), rtol=1e-4)
        np.testing.assert_allclose(updated.means[sel], np.asarray(kaldi.means), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(updated.vars[sel], np.asarray(kaldi.vars), rtol=1e-4)
