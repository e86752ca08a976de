"""Phone CTC and LF-MMI on real yesno audio: targets through L.fst, training, HLG decoding by kaldi-decoder and k2 agree."""

from __future__ import annotations

import math
from pathlib import Path

import kaldifst  # Kaldi wheels before torch
import pytest

from asrflow.common import AsrflowError, read_kaldi_table
from asrflow.decode.ctc import CtcDecodeOptions, decode_ctc_part
from asrflow.graph.ctc import build_ctc_graphs
from asrflow.lang.langdir import LangDir
from asrflow.nnet.ctc import CtcConfig, PhoneTargets, train_ctc_model
from asrflow.nnet.train import save_model
from asrflow.score.wer import score
from conftest import toy_lang


def test_phone_targets_follow_the_lexicon_with_edge_silences(yesno_system) -> None:
    lang = LangDir(yesno_system.lang)
    p = lang.phones
    assert PhoneTargets(lang)("NO YES").tolist() == [p["N"], p["Y"]]
    assert PhoneTargets(lang, edge_silence=True)("NO YES").tolist() == [p["SIL"], p["N"], p["Y"], p["SIL"]]


def test_phone_acceptor_takes_every_silence_path_of_the_lexicon(tmp_path: Path) -> None:
    """The `optional` targets accept the words' phones with or without silence at the edges and between them."""
    lang = LangDir(toy_lang(tmp_path)[0])
    p = lang.phones
    acceptor = PhoneTargets(lang).acceptor("CAT AT")
    word = {"CAT": [p["K"], p["AE"], p["T"]], "AT": [p["AE"], p["T"]]}

    def cost(phones: list[int]) -> float:
        """Cost of the acceptor's path for `phones` (inf when it rejects them)."""
        path = kaldifst.compose(acceptor, kaldifst.make_linear_acceptor(phones))
        if not path.num_states:
            return float("inf")
        best = kaldifst.shortest_path(path)
        states = list(kaldifst.StateIterator(best))
        return (sum(arc.weight.value for s in states for arc in kaldifst.ArcIterator(best, s))
                + min(best.final(s).value for s in states))

    sil = [p["SIL"]]
    # L's optional silence (prob 0.5) costs ln 2 at each of the three places, taken or skipped
    for phones in (word["CAT"] + word["AT"], sil + word["CAT"] + word["AT"], word["CAT"] + sil + word["AT"] + sil):
        assert cost(phones) == pytest.approx(3 * math.log(2), abs=1e-4)
    for phones in (word["CAT"], word["AT"] + word["CAT"], word["CAT"] + [p["SPN"]] + word["AT"]):
        assert cost(phones) == float("inf")


def test_unknown_silence_mode_is_a_config_error() -> None:
    with pytest.raises(AsrflowError, match="silence must be one of none, edges, optional"):
        CtcConfig.from_dict({"silence": "sometimes"})


# objective -> (extra config, test WER bound): measured 3.02% (CTC) and 0.86% (MMI) at the stage defaults
OBJECTIVES = {"ctc": ({}, 10.0), "mmi": ({"ctc_weight": 0.1, "epochs": 80, "patience": 80}, 5.0)}


@pytest.fixture(scope="module", params=sorted(OBJECTIVES))
def ctc_dir(request, yesno_system, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """A small phone TDNN trained with CTC or LF-MMI on yesno's training part, saved as the stage does; its bound."""
    extra, bound = OBJECTIVES[request.param]
    cfg = CtcConfig.from_dict({"silence": "edges", "hidden_dim": 64, "contexts": [[1, 1], [2, 2], [2, 4]],
                               "dropout": 0.0, "epochs": 60, "patience": 60, "lr": 0.01, "final_lr": 0.0005,
                               "batch_frames": 700, "objective": request.param, **extra})
    result = train_ctc_model(yesno_system.data / "train", yesno_system.lang, cfg)
    out = tmp_path_factory.mktemp(request.param)
    save_model(result.model, cfg.nnet, out / "final.pt")
    (out / "features.json").write_text('{"deltas": 2, "cmvn": "speaker", "norm_vars": false}\n')
    first, last = result.history[0]["train_loss"], result.history[-1]["train_loss"]
    assert last < 0.1 * first
    return out, bound


def test_ctc_hlg_decoding_kaldi_and_k2_agree(yesno_system, ctc_dir: tuple[Path, float], tmp_path: Path) -> None:
    ctc_dir, bound = ctc_dir
    build_ctc_graphs(yesno_system.lang, yesno_system.g_fst, tmp_path / "graph")
    test = yesno_system.data / "test"
    hyps = {}
    for decoder in ("kaldi", "k2"):
        decode_ctc_part(tmp_path / "graph", yesno_system.lang, ctc_dir, test, CtcDecodeOptions(),
                        tmp_path / decoder, decoder)
        hyps[decoder] = read_kaldi_table(tmp_path / decoder / "hyp.txt")
    assert hyps["kaldi"] == hyps["k2"]
    assert score(read_kaldi_table(test / "kaldi/text"), hyps["kaldi"], None).total.wer <= bound


def test_ctc_lm_weight_sweep_contains_the_decoders_one_best(yesno_system, ctc_dir: tuple[Path, float],
                                                            tmp_path: Path) -> None:
    """Kaldi's chain-model convention: LM weight 10 with no penalty is the decoding weight itself."""
    build_ctc_graphs(yesno_system.lang, yesno_system.g_fst, tmp_path / "graph")
    opts = CtcDecodeOptions(lmwt_search=(7.0, 10.0, 17.0), wip_search=(0.0, 1.0))
    decode_ctc_part(tmp_path / "graph", yesno_system.lang, ctc_dir[0], yesno_system.data / "test", opts,
                    tmp_path / "dec", "kaldi")
    sweep = tmp_path / "dec/scoring"
    assert sorted(p.name for p in sweep.iterdir()) == sorted(f"{w}_{p}.txt" for w in (7, 10, 17) for p in (0, 1))
    assert (sweep / "10_0.txt").read_text() == (tmp_path / "dec/hyp.txt").read_text()
    words = {f: sum(len(line.split()) - 1 for line in (sweep / f).read_text().splitlines())
             for f in ("7_0.txt", "17_1.txt")}
    assert words["17_1.txt"] <= words["7_0.txt"]  # a heavier LM and a penalty favour fewer words


def test_restarts_keep_the_lowest_validation_loss(yesno_system, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each restart trains from its own seed; the run whose best epoch validates lowest is returned."""
    import asrflow.nnet.ctc as ctc_module
    from asrflow.nnet.train import TrainResult

    losses = {0: 0.05, 1000: 0.004, 2000: 0.009}  # seed -> best validation loss (restart 2 wins)
    seeds = []

    def fake_train(train, valid, num_outputs, cfg, mmi=None) -> TrainResult:
        seeds.append(cfg.seed)
        return TrainResult(model=None, history=[{"epoch": 1, "valid_loss": losses[cfg.seed] + 0.1},
                                                {"epoch": 2, "valid_loss": losses[cfg.seed]}])

    monkeypatch.setattr(ctc_module, "train_ctc", fake_train)
    cfg = CtcConfig.from_dict({"restarts": 3, "seed": 0})
    result = train_ctc_model(yesno_system.data / "train", yesno_system.lang, cfg)
    assert seeds == [0, 1000, 2000] and result.history[-1]["valid_loss"] == 0.004
