"""Monophone training on real yesno audio: likelihood rises, alignments spell the transcripts, seeds reproduce."""

from __future__ import annotations

import numpy as np

from asrflow.data.features import load_features, load_utterances
from asrflow.gmm.align import AlignOptions, GraphCompiler, viterbi_align
from asrflow.gmm.mono import MonoConfig, train_mono
from asrflow.gmm.shards import Utt
from asrflow.lang.langdir import LangDir


def test_log_likelihood_rises_over_training(yesno_system) -> None:
    likes = [h["loglike_per_frame"] for h in yesno_system.history]
    assert likes[-1] > likes[0] + 10.0
    assert yesno_system.model.gmm.num_gauss > yesno_system.model.tm.num_pdfs
    assert all(h["align_failed"] == 0 for h in yesno_system.history)


def test_alignments_spell_the_transcripts(yesno_system) -> None:
    lang = LangDir(yesno_system.lang)
    utts = load_utterances(yesno_system.data / "train")
    assert set(yesno_system.alignments) == {u.id for u in utts}
    pron = {"YES": "Y", "NO": "N"}
    for u in utts:
        segs = yesno_system.model.phone_segments(yesno_system.alignments[u.id])
        assert segs[0][1] == 0 and segs[-1][2] == len(yesno_system.alignments[u.id])
        speech = [lang.id2phone[p] for p, _, _ in segs if p not in lang.silence]
        assert speech == [pron[w] for w in u.text.split()]


def test_same_seed_same_model(yesno_system) -> None:
    feats = load_features(yesno_system.data / "train")
    utts = Utt.of_part(yesno_system.data / "train", feats)[:10]
    cfg = MonoConfig(num_iters=4, max_iter_inc=3, totgauss=40, realign_iters=(1, 2, 3))
    a, ali_a, _ = train_mono(utts, yesno_system.lang, cfg, seed=3)
    b, ali_b, _ = train_mono(utts, yesno_system.lang, cfg, seed=3)
    np.testing.assert_array_equal(a.gmm.means, b.gmm.means)
    assert all(np.array_equal(ali_a[u], ali_b[u]) for u in ali_a)


def test_two_worker_processes_give_the_same_model(yesno_system) -> None:
    feats = load_features(yesno_system.data / "train")
    utts = Utt.of_part(yesno_system.data / "train", feats)[:10]
    cfg = MonoConfig(num_iters=3, max_iter_inc=2, totgauss=30, realign_iters=(1, 2))
    one, _, _ = train_mono(utts, yesno_system.lang, cfg, seed=1, num_jobs=1)
    two, _, _ = train_mono(utts, yesno_system.lang, cfg, seed=1, num_jobs=2)
    assert one.gmm.num_gauss == two.gmm.num_gauss
    np.testing.assert_allclose(one.gmm.means, two.gmm.means, atol=1e-6)


def test_aligning_on_the_graphs_pdfs_only_changes_nothing(yesno_system) -> None:
    model, lang = yesno_system.model, LangDir(yesno_system.lang)
    feats = load_features(yesno_system.data / "train")
    utt = next(u for u in load_utterances(yesno_system.data / "train") if u.text.startswith("NO"))
    first_word_end = model.phone_segments(yesno_system.alignments[utt.id])[1][2]  # SIL, N, ...
    graph = GraphCompiler(model, lang).compile("NO")
    pdfs = model.graph_pdfs(graph)
    assert 0 < len(pdfs) < model.tm.num_pdfs  # YES's pdfs are unreachable
    x = feats[utt.id][:first_word_end + 5]
    full, full_like = viterbi_align(model, graph, x, AlignOptions())
    part, part_like = viterbi_align(model, graph, x, AlignOptions(), pdfs=pdfs)
    assert full is not None
    np.testing.assert_array_equal(full, part)
    assert abs(full_like - part_like) < 1e-4 * abs(full_like)
