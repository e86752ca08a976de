"""Hybrid TDNN-HMM on real yesno audio: trained on the SAT stage's alignments, decoded on its HCLG."""

from __future__ import annotations

from pathlib import Path

import kaldifst  # noqa: F401  # Kaldi wheels before torch
import numpy as np
import pytest

from asrflow.common import read_kaldi_table
from asrflow.data.corpus import speed_copy_id
from asrflow.decode.decoder import DecodeOptions
from asrflow.decode.run import decode_part
from asrflow.gmm.tri import align_fmllr
from asrflow.graph.hclg import build_graph
from asrflow.nnet.hybrid import HybridConfig, split_ids, train_hybrid, valid_speakers
from asrflow.nnet.train import save_model
from asrflow.score.wer import score
from conftest import small_tri


def test_valid_speakers_holds_out_whole_speakers_never_all() -> None:
    spk = [f"s{i}" for i in range(20)]
    held = valid_speakers(spk, 0.1, seed=0)
    assert len(held) == 2 and held <= set(spk) and held == valid_speakers(spk, 0.1, seed=0)
    assert valid_speakers(["a", "b"], 0.9, 0) in ({"a"}, {"b"}) and valid_speakers(["a"], 0.5, 0) == set()


@pytest.mark.parametrize("speakers", [[f"s{i}" for i in range(10)], ["one"]])
def test_speed_perturbed_copies_follow_their_original_out_of_training(speakers: list[str]) -> None:
    utts = [(f"{s}_{i}", s) for s in speakers for i in range(20 // len(speakers))]
    copies = [(speed_copy_id(u, f), speed_copy_id(s, f)) for f in (0.9, 1.1) for u, s in utts]
    train, valid, held = split_ids(utts + copies, 0.1, seed=0)
    plain_train, plain_valid, _ = split_ids(utts, 0.1, seed=0)
    assert valid == plain_valid and len(valid) == 2  # validation: the unperturbed originals only
    assert not {u.split("-", 1)[-1] for u in train} & set(valid)  # no copy of a validation utterance trains
    assert len(train) == 3 * len(plain_train) and len(held) == (1 if len(speakers) > 1 else 0)


@pytest.fixture(scope="module")
def hybrid(yesno_system, yesno_ladder, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small TDNN trained on tri3's align_fmllr alignments of yesno's training part, saved with the GMM."""
    tri3 = yesno_ladder["tri3"]
    train = yesno_system.data / "train"
    ali, trans, _ = align_fmllr(train, yesno_system.lang, tri3.model, tri3.si_model, small_tri("sat", "tri2"))
    cfg = HybridConfig.from_dict({"hidden_dim": 128, "epochs": 12, "patience": 3, "average_last": 2,
                                  "batch_frames": 1500, "lr": 0.003, "contexts": [[1, 1], [1, 2], [1, 3], [1, 3]]})
    result, prior = train_hybrid(train, tri3.model, ali, trans, cfg)
    out = tmp_path_factory.mktemp("hybrid")
    save_model(result.model, cfg.nnet, out / "final.pt")
    np.save(out / "prior.npy", prior)
    tri3.model.save(out / "gmm.mdl")
    tri3.si_model.save(out / "gmm.alimdl")
    assert result.history[-1]["valid_acc"] > 0.5
    assert abs(np.exp(prior).sum() - 1) < 1e-6
    return out, out / "gmm.mdl"


def test_hybrid_decodes_yesno_test(yesno_system, hybrid, tmp_path: Path) -> None:
    net_dir, gmm = hybrid
    build_graph(yesno_system.lang, yesno_system.g_fst, gmm, tmp_path / "graph")
    test = yesno_system.data / "test"
    # the SAT decode supplies the test speaker's fMLLR, as in the DAG
    decode_part(tmp_path / "graph", yesno_system.lang, gmm, test, DecodeOptions(), tmp_path / "sat",
                si_model_path=net_dir / "gmm.alimdl")
    info = decode_part(tmp_path / "graph", yesno_system.lang, gmm, test, DecodeOptions(acoustic_scale=0.5),
                       tmp_path / "hybrid",
                       nnet_dir=net_dir, transforms_path=tmp_path / "sat/trans.npz")
    result = score(read_kaldi_table(test / "kaldi/text"), read_kaldi_table(tmp_path / "hybrid/hyp.txt"), None)
    # 31 training files are little for a network: the bound is looser than the GMMs' (measured 4.3%)
    assert result.total.wer <= 8.0
    assert info["rtf"] < 0.5
