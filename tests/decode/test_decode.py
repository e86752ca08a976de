"""Decoding real yesno test audio: WER bound, lattice sweep agrees with the 1-best decoder, CTM is sane, fMLLR
adapts a speaker-independent model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import kaldifst  # noqa: F401  # Kaldi wheels before k2 and torch
import k2
import kaldialign
import numpy as np

from asrflow.common import load_arrays, read_kaldi_table
from asrflow.data.features import load_utterances
from asrflow.decode.decoder import Decoder, DecodeOptions
from asrflow.decode.lattice import RawLattice, lattices_from_arrays
from asrflow.decode.rescore import rescore_part
from asrflow.decode.run import decode_part, fmllr_passes
from asrflow.gmm.adapt import adapt
from asrflow.graph.hclg import build_graph
from asrflow.graph.k2graph import best_words, raw_lattice_to_k2
from asrflow.lang.langdir import LangDir
from asrflow.lm.grammar import arpa_to_G
from conftest import REPO


def test_decode_yesno_test_set(yesno_system, tmp_path) -> None:
    yesno_system.model.save(tmp_path / "final.mdl")
    build_graph(yesno_system.lang, yesno_system.g_fst, tmp_path / "final.mdl", tmp_path / "graph")
    opts = DecodeOptions(lmwt_search=(12.0, 17.0), wip_search=(0.0, 1.0))
    info = decode_part(tmp_path / "graph", yesno_system.lang, tmp_path / "final.mdl", yesno_system.data / "test",
                       opts, tmp_path / "decode", {"lm": "unigram"})
    hyps = dict(line.split(maxsplit=1) for line in (tmp_path / "decode/hyp.txt").read_text().splitlines())
    refs = {u: " ".join("YES" if c == "1" else "NO" for c in u.split("_")) for u in hyps}
    errors = sum(kaldialign.edit_distance(refs[u].split(), hyps[u].split())["total"] for u in refs)
    assert len(hyps) == 29 and errors / 232 <= 0.03
    assert info["rtf"] < 0.5 and json.loads((tmp_path / "decode/decode_info.json").read_text())["lm"] == "unigram"
    # the sweep at the decoding weight (LM weight 1/0.083333 = 12, no penalty) is the decoder's own 1-best
    swept = (tmp_path / "decode/scoring/12_0.txt").read_text()
    assert swept == (tmp_path / "decode/hyp.txt").read_text()
    for line in (tmp_path / "decode/ctm").read_text().splitlines():
        utt, channel, start, dur, word = line.split()
        assert channel == "1" and float(dur) > 0 and float(start) >= 0 and word in ("YES", "NO")


def unigram_best_path(lat: RawLattice, word_cost: dict[int, float], end_cost: float) -> list[int]:
    """Reference rescoring by hand: the lattice's best path with its graph costs replaced by unigram costs."""
    graph = np.array([word_cost.get(int(w), 0.0) for w in lat.olabel])
    return replace(lat, graph=graph, final_graph=np.full(len(lat.final_graph), end_cost)).best_paths([(1.0, 0.0)])[0][0]


def test_lattices_are_kept_and_rescored(yesno_system, tmp_path: Path) -> None:
    """Saved lattices converted to k2 give the decoder's 1-best, and k2 rescoring with a unigram that makes YES
    10^4 times rarer picks the paths a by-hand rescoring of the same lattices picks (low acoustic scale, so the
    lattices hold alternatives and some YESes turn into NOs)."""
    yesno_system.model.save(tmp_path / "final.mdl")
    build_graph(yesno_system.lang, yesno_system.g_fst, tmp_path / "final.mdl", tmp_path / "graph")
    test = yesno_system.data / "test"
    decode_part(tmp_path / "graph", yesno_system.lang, tmp_path / "final.mdl", test,
                DecodeOptions(acoustic_scale=0.02, lattice_beam=10.0, lmwt_search=(50.0,), wip_search=(0.0,)),
                tmp_path / "decode")
    lattices = lattices_from_arrays(load_arrays(tmp_path / "decode/lattices.npz"))
    hyps = read_kaldi_table(tmp_path / "decode/hyp.txt")
    lang = LangDir(yesno_system.lang)
    assert set(lattices) == set(hyps)
    for utt, lat in lattices.items():
        best = best_words(k2.shortest_path(k2.create_fsa_vec([raw_lattice_to_k2(lat)]), use_double_scores=True))
        assert best[0] == lang.word_ids(hyps[utt]), utt
    arpa = (REPO / "lang/yesno/lm_unigram.arpa").read_text()
    (tmp_path / "no.arpa").write_text(arpa.replace("-1.0000000\tYES", "-5.0000000\tYES"))
    arpa_to_G(tmp_path / "no.arpa", yesno_system.lang / "words.txt", tmp_path / "G_no.fst")
    info = rescore_part(tmp_path / "decode", yesno_system.lang, tmp_path / "G_no.fst", test, tmp_path / "no",
                        {"lm": "no"})
    assert info["lm"] == "no" and info["utterances"] == 29
    rescored = read_kaldi_table(tmp_path / "no/hyp.txt")
    ln10 = float(np.log(10))
    costs = {lang.words["YES"]: 5 * ln10, lang.words["NO"]: ln10}
    for utt, lat in lattices.items():
        assert lang.word_ids(rescored[utt]) == unigram_best_path(lat, costs, ln10), utt
    assert sum(h.count("YES") for h in rescored.values()) < sum(h.count("YES") for h in hyps.values())


def test_fmllr_on_the_monophones_undoes_a_speakers_linear_distortion(yesno_system, tmp_path: Path) -> None:
    """decode_fmllr.sh on a speaker-independent model (its own first-pass model): test features scaled per dimension
    and shifted in the static cepstra, as a new speaker or channel would, cost many errors; the two fMLLR passes
    estimated from the decoder's own output win them back."""
    model = yesno_system.model
    model.save(tmp_path / "final.mdl")
    build_graph(yesno_system.lang, yesno_system.g_fst, tmp_path / "final.mdl", tmp_path / "graph")
    hclg = kaldifst.StdVectorFst.read(str(tmp_path / "graph/HCLG.fst"))
    test = yesno_system.data / "test"
    utts, lang, opts = load_utterances(test), LangDir(yesno_system.lang), DecodeOptions()
    rng = np.random.default_rng(0)
    dim = model.gmm.dim
    scale, shift = 1 + 0.5 * rng.standard_normal(dim), np.zeros(dim)
    shift[:13] = 5 * rng.standard_normal(13)
    distorted = {u: (f * scale + shift).astype(np.float32) for u, f in model.load_features(test).items()}

    def errors(feats: dict[str, np.ndarray]) -> int:
        decoder = Decoder(hclg, model, opts)
        hyps = {u.id: decoder.decode(model.tid_loglikes(feats[u.id], opts.acoustic_scale)).words for u in utts}
        return sum(kaldialign.edit_distance(lang.word_ids(u.text), hyps[u.id])["total"] for u in utts)

    transforms = fmllr_passes(hclg, model, model, distorted, utts, lang, opts)
    assert set(transforms) == {"yesno"} and transforms["yesno"].shape == (dim, dim + 1)
    before, after = errors(distorted), errors(adapt(distorted, {u.id: u.speaker for u in utts}, transforms))
    assert before >= 8 and after <= 3, (before, after)
