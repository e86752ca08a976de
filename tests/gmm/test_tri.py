"""Triphone ladder on real yesno audio: tree + convert-ali, tri1 EM, LDA+MLLT, SAT with fMLLR decoding."""

from __future__ import annotations

from pathlib import Path

import kaldifst
import numpy as np
import pytest

from asrflow.decode.decoder import DecodeOptions
from asrflow.decode.run import decode_part
from asrflow.gmm.tri import align_fmllr, convert_alignment, train_tri
from conftest import small_tri
from asrflow.graph.hclg import build_graph, make_hclg
from asrflow.lang.langdir import LangDir
from asrflow.score.wer import score

def test_convert_alignment_keeps_phones_and_frames(yesno_system, yesno_ladder) -> None:
    mono, tri1 = yesno_system.model, yesno_ladder["tri1"].model
    for utt, ali in list(yesno_system.alignments.items())[:5]:
        new = convert_alignment(mono, tri1, ali)
        assert len(new) == len(ali)
        np.testing.assert_array_equal(tri1.tid2phone[new], mono.tid2phone[ali])
        assert [p for p, _, _ in tri1.phone_segments(new)] == [p for p, _, _ in mono.phone_segments(ali)]


def test_tri1_is_a_triphone_system_whose_likelihood_rises(yesno_system, yesno_ladder) -> None:
    tri1 = yesno_ladder["tri1"]
    assert tri1.model.tree.context_width == 3 and tri1.model.tree.central_position == 1
    assert tri1.model.tm.num_pdfs > yesno_system.model.tm.num_pdfs
    likes = [h["loglike_per_frame"] for h in tri1.history]
    assert likes[-1] > likes[0]
    assert 0.0 <= tri1.history[-1]["phone_frames_changed_vs_prev"] < 0.2


def test_triphone_hclg_accepts_a_training_alignment(yesno_system, yesno_ladder) -> None:
    lang = LangDir(yesno_system.lang)
    model = yesno_ladder["tri1"].model
    hclg = make_hclg(lang, kaldifst.StdVectorFst.read(str(yesno_system.g_fst)), model)
    kaldifst.arcsort(hclg, sort_type="ilabel")
    utt, ali = sorted(yesno_ladder["tri1"].alignments.items())[0]
    path = kaldifst.compose(kaldifst.make_linear_acceptor([int(t) for t in ali]), hclg)
    assert path.num_states > 0, "triphone HCLG rejects the training alignment"
    _, _, words, _ = kaldifst.get_linear_symbol_sequence(kaldifst.shortest_path(path))
    assert [lang.id2word[w] for w in words if w] == ["YES" if c == "1" else "NO" for c in utt.split("_")]


def test_lda_mllt_projects_and_mllt_improves_its_objective(yesno_ladder) -> None:
    tri2 = yesno_ladder["tri2"]
    # LDA keeps at most lda_dim (30) and fewer than the number of tri1 pdfs seen in speech
    dim = tri2.model.gmm.dim
    assert tri2.model.transform.shape == (dim, 13 * 7) and 4 <= dim <= min(30, yesno_ladder["tri1"].model.tm.num_pdfs - 1)
    gains = [h["mllt_objf_gain_per_frame"] for h in tri2.history if "mllt_objf_gain_per_frame" in h]
    assert len(gains) == 2 and all(g > 0 for g in gains)


def test_sat_has_speaker_transforms_and_an_alignment_model(yesno_ladder) -> None:
    tri3 = yesno_ladder["tri3"]
    assert set(tri3.speaker_transforms) == {"yesno"}
    w = tri3.speaker_transforms["yesno"]
    dim = tri3.model.gmm.dim
    assert w.shape == (dim, dim + 1) and not np.allclose(w, np.eye(dim, dim + 1))
    assert tri3.si_model is not None and tri3.si_model.gmm.num_gauss == tri3.model.gmm.num_gauss
    assert tri3.model.transform is yesno_ladder["tri2"].model.transform or np.array_equal(
        tri3.model.transform, yesno_ladder["tri2"].model.transform)


def test_same_seed_same_triphone_model(yesno_system, yesno_ladder) -> None:
    again = train_tri(yesno_system.data / "train", yesno_system.lang, yesno_system.model, yesno_system.alignments,
                      small_tri("deltas", "mono"), seed=0)
    np.testing.assert_array_equal(again.model.gmm.means, yesno_ladder["tri1"].model.gmm.means)
    assert all(np.array_equal(again.alignments[u], a) for u, a in yesno_ladder["tri1"].alignments.items())


@pytest.mark.parametrize("stage", ["tri1", "tri3"])
def test_triphone_decoding_of_yesno_test(yesno_system, yesno_ladder, stage: str, tmp_path: Path) -> None:
    system = yesno_ladder[stage]
    model_path, si_path = tmp_path / "final.mdl", None
    system.model.save(model_path)
    if system.si_model is not None:
        si_path = tmp_path / "final.alimdl"
        system.si_model.save(si_path)
    build_graph(yesno_system.lang, yesno_system.g_fst, model_path, tmp_path / "graph")
    test = yesno_system.data / "test"
    info = decode_part(tmp_path / "graph", yesno_system.lang, model_path, test, DecodeOptions(), tmp_path / "decode",
                       si_model_path=si_path)
    refs = dict(line.split(" ", 1) for line in (test / "kaldi/text").read_text().splitlines())
    hyps = {}
    for line in (tmp_path / "decode/hyp.txt").read_text().splitlines():
        utt, *words = line.split()
        hyps[utt] = " ".join(words)
    assert score(refs, hyps, None).total.wer <= 3.0
    assert (tmp_path / "decode/trans.npz").exists() == (si_path is not None)
    assert info["rtf"] < 0.5


def test_align_fmllr_aligns_new_data_to_its_transcripts(yesno_system, yesno_ladder) -> None:
    tri3 = yesno_ladder["tri3"]
    test = yesno_system.data / "test"
    alignments, transforms, failed = align_fmllr(test, yesno_system.lang, tri3.model, tri3.si_model,
                                                 small_tri("sat", "tri2"))
    lang = LangDir(yesno_system.lang)
    assert not failed and len(alignments) == 29 and set(transforms) == {"yesno"}
    for utt, ali in alignments.items():
        speech = [lang.id2phone[p] for p, _, _ in tri3.model.phone_segments(ali) if p not in lang.silence]
        assert speech == ["Y" if c == "1" else "N" for c in utt.split("_")]
