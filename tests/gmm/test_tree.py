"""Decision trees: Kaldi's binary tree format, greedy splitting, leaf merging, questions and tree statistics."""

from __future__ import annotations

import itertools

import kaldi_hmm_gmm as khg
import numpy as np
import pytest

from asrflow.gmm.model import read_topology
from asrflow.gmm.tree import (ConstantMap, SplitMap, TableMap, TreeStats, accumulate_tree_stats, build_tree,
                              cluster_phones, load_tree, tree_bytes)
from asrflow.lang.langdir import LangDir
from asrflow.lang.prepare import _topo

PHONES = (1, 2, 3, 4)
QUESTIONS = [[1], [2], [3], [4], [1, 2], [3, 4], [1, 2, 3, 4]]


def synthetic_stats(mean_of, classes_of: dict[int, int], ci: tuple[int, ...] = (), frames: int = 200,
                    dim: int = 3, seed: int = 0) -> TreeStats:
    """Tree statistics of `frames` unit-variance samples per triphone event around `mean_of(l, c, r, k)`."""
    rng = np.random.default_rng(seed)
    events = [(0 if c in ci else l, c, 0 if c in ci else r, k)
              for l, c, r in itertools.product(PHONES, repeat=3) for k in range(classes_of[c])]
    events = sorted(set(events))
    means = np.array([mean_of(*e) for e in events], dtype=np.float64).reshape(-1, 1) * np.ones(dim)
    x = means[:, None, :] + rng.standard_normal((len(events), frames, dim))
    e = np.array(events)
    return TreeStats(e[:, :3], e[:, 3], np.full(len(e), float(frames)), x.sum(1), (x ** 2).sum(1))


def context_shift(l: int, c: int, r: int, k: int) -> float:
    """Phone 2's pdf class 1 moves when the right context is 3 or 4; everything else is alike."""
    return 3.0 if (c, k) == (2, 1) and r in (3, 4) else 0.0


def test_binary_tree_round_trips_through_kaldi() -> None:
    to_pdf = TableMap(1, (
        None,
        SplitMap(2, (1, 2), SplitMap(-1, (0,), ConstantMap(0), ConstantMap(1)), ConstantMap(2)),
        ConstantMap(3),
        SplitMap(0, (4, 0), ConstantMap(4), SplitMap(-1, (0, 1), ConstantMap(3), ConstantMap(5))),
    ))
    raw = tree_bytes(to_pdf, 3, 1)
    tree = load_tree(raw)
    assert (tree.context_width, tree.central_position, tree.num_pdfs) == (3, 1, 6)
    assert bytes(b & 0xFF for b in tree.__getstate__()[0]) == raw  # Kaldi writes back the same bytes

    def expected(l: int, c: int, r: int, k: int) -> int | None:
        if c == 1:
            return (0 if k == 0 else 1) if r in (1, 2) else 2
        if c == 2:
            return 3
        if c == 3:
            return 4 if l in (0, 4) else (3 if k in (0, 1) else 5)
        return None

    for l, c, r in itertools.product(range(6), repeat=3):
        for k in range(3):
            want = expected(l, c, r, k)
            assert tree.compute([l, c, r], k) == ((True, want) if want is not None else (False, -1))


def test_first_split_is_the_context_that_moves_the_mean_with_the_gaussian_objective_gain() -> None:
    stats = synthetic_stats(context_shift, {p: 3 for p in PHONES})
    tree, leaves = build_tree(stats, [[p] for p in PHONES], QUESTIONS, {p: 3 for p in PHONES}, num_leaves=5,
                              cluster_thresh=0.0)
    key, yes_set, gain = leaves.splits[0]
    assert key == 2 and set(yes_set) in ({3, 4}, {1, 2})

    def objf(mask: np.ndarray) -> float:
        return khg.GaussClusterable(stats.sums[mask].sum(0), stats.sumsq[mask].sum(0), 0.01,
                                    stats.count[mask].sum()).objf()

    root = stats.windows[:, 1] == 2
    yes = root & np.isin(stats.windows[:, 2], yes_set)
    assert gain == pytest.approx(objf(yes) + objf(root & ~yes) - objf(root), rel=1e-5)
    assert gain > 1000.0
    # the split tells the contexts apart; the boundary (0, never a right context here) takes the no-branch
    pdf = {r: tree.compute([1, 2, r], 1)[1] for r in (0, *PHONES)}
    assert pdf[3] == pdf[4] != pdf[1] == pdf[2]
    assert pdf[0] == (pdf[3] if set(yes_set) == {1, 2} else pdf[1])


@pytest.mark.parametrize("cluster_thresh", [0.0, -1.0])
def test_leaf_budget_is_kept_and_leaf_stats_match_the_tree(cluster_thresh: float) -> None:
    # pdf classes 0 and 2 alike: prefix questions must split them apart, merging joins them again
    stats = synthetic_stats(lambda l, c, r, k: float(k == 1), {p: 3 for p in PHONES})
    tree, leaves = build_tree(stats, [[p] for p in PHONES], QUESTIONS, {p: 3 for p in PHONES}, num_leaves=12,
                              cluster_thresh=cluster_thresh)
    assert len(leaves.splits) == 12 - len(PHONES) and all(key == -1 for key, _, _ in leaves.splits)
    assert len(leaves.count) == tree.num_pdfs == (12 if cluster_thresh == 0 else 8)
    assert (cluster_thresh == 0) == (leaves.cluster_change == 0) and leaves.cluster_change <= 0
    pdfs = np.array([tree.compute(w.tolist(), int(k))[1] for w, k in zip(stats.windows, stats.pdf_class)])
    np.testing.assert_allclose(np.bincount(pdfs, stats.count), leaves.count)
    for pdf in range(tree.num_pdfs):
        np.testing.assert_allclose(stats.sums[pdfs == pdf].sum(0), leaves.sums[pdf])

    # the leaves' likelihood is the roots' plus every split's gain plus the merging change
    def objf(count: float, sums: np.ndarray, sumsq: np.ndarray) -> float:
        return khg.GaussClusterable(sums, sumsq, 0.01, count).objf()

    roots = sum(objf(stats.count[m].sum(), stats.sums[m].sum(0), stats.sumsq[m].sum(0))
                for m in (stats.windows[:, 1] == p for p in PHONES))
    after = sum(objf(*leaf) for leaf in zip(leaves.count, leaves.sums, leaves.sumsq))
    assert after == pytest.approx(roots + sum(g for _, _, g in leaves.splits) + leaves.cluster_change, rel=1e-6)
    means, variances = leaves.gaussians(0.01)
    np.testing.assert_allclose(means, leaves.sums / leaves.count[:, None])
    assert means.shape == variances.shape == (tree.num_pdfs, 3) and (variances >= 0.01).all()


def test_transition_model_builds_and_every_phone_state_has_a_pdf_in_any_context() -> None:
    classes = {1: 5, 2: 3, 3: 3, 4: 3}  # phone 1 is a 5-state, context-independent silence
    stats = synthetic_stats(lambda l, c, r, k: c + k + 0.4 * (l == 3) - 0.4 * (r == 2), classes, ci=(1,))
    topo = khg.HmmTopology()
    topo.read(_topo([2, 3, 4], [1], 3, 5))
    tree, leaves = build_tree(stats, [[1], [2, 3], [4]], QUESTIONS, classes, num_leaves=30)
    assert 1 in {key for key, _, _ in leaves.splits}  # the shared root {2, 3} is split on its central phone
    tm = khg.TransitionModel(tree, topo)
    assert tm.num_pdfs == tree.num_pdfs == len(leaves.count)
    assert sorted({t.__getstate__()[2] for t in tm.tuples}) == list(range(tree.num_pdfs))
    for c in PHONES:
        for k in range(classes[c]):
            answers = {tree.compute([l, c, r], k) for l, r in itertools.product(range(6), repeat=2)}
            assert all(ok for ok, _ in answers)
            assert c != 1 or len(answers) == 1  # silence never depends on context


def test_cluster_phones_groups_similar_sets_and_keeps_every_set() -> None:
    stats = synthetic_stats(lambda l, c, r, k: 4.0 * (c >= 3) + 0.1 * c, {p: 3 for p in PHONES})
    stats.windows[stats.windows == 4] = 5  # phone 5 takes phone 4's data; phone 4 is unseen
    sets = [[1], [2], [3], [5], [4]]
    questions = cluster_phones(stats, sets, 1)
    assert questions == sorted(questions) and all(q == sorted(q) for q in questions)
    assert len({tuple(q) for q in questions}) == len(questions)
    assert all(s in questions for s in sets) and [1, 2, 3, 4, 5] in questions
    assert [1, 2] in questions and [3, 5] in questions and [1, 2, 3, 5] in questions
    assert cluster_phones(stats, sets, 1, pdf_class=None) == questions


def test_tree_stats_of_a_real_model_count_every_frame(yesno_system) -> None:
    lang = LangDir(yesno_system.lang)
    model, ali = yesno_system.model, yesno_system.alignments
    feats = model.load_features(yesno_system.data / "train")
    stats = accumulate_tree_stats(model, ali, feats, ci_phones=lang.silence)
    frames = sum(len(a) for a in ali.values())
    assert stats.count.sum() == frames
    x = np.concatenate([feats[u] for u in ali]).astype(np.float64)
    np.testing.assert_allclose(stats.sums.sum(0), x.sum(0), atol=1e-6 * frames)
    np.testing.assert_allclose(stats.sumsq.sum(0), (x ** 2).sum(0), rtol=1e-9)
    assert len(np.unique(np.column_stack([stats.windows, stats.pdf_class]), axis=0)) == len(stats.count)
    classes = read_topology(lang).get_phone_to_num_pdf_classes()
    assert (stats.pdf_class < np.array(classes)[stats.windows[:, 1]]).all()
    sil = np.isin(stats.windows[:, 1], lang.silence)
    assert (stats.windows[sil][:, [0, 2]] == 0).all() and (stats.windows[~sil][:, [0, 2]] > 0).any()

    questions = cluster_phones(stats, lang.sets, 1)
    tree, leaves = build_tree(stats, lang.sets, questions, {p: classes[p] for s in lang.sets for p in s},
                              num_leaves=16, min_count=50.0)
    tm = khg.TransitionModel(tree, read_topology(lang))
    assert tm.num_pdfs == tree.num_pdfs == len(leaves.count) and 11 < tree.num_pdfs <= 16
    assert leaves.count.sum() == frames
