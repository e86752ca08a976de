"""The lattice generator keeps the faster decoder's 1-best as its best path, widening its beam where it must."""

from __future__ import annotations

from pathlib import Path

import kaldifst

from asrflow.decode.decoder import Decoder, DecodeOptions
from asrflow.decode.lattice import LatticeGenerator
from asrflow.graph.hclg import build_graph


def test_a_lattice_that_lost_the_one_best_is_searched_again(yesno_system, tmp_path: Path) -> None:
    yesno_system.model.save(tmp_path / "final.mdl")
    build_graph(yesno_system.lang, yesno_system.g_fst, tmp_path / "final.mdl", tmp_path / "graph")
    hclg = kaldifst.StdVectorFst.read(str(tmp_path / "graph/HCLG.fst"))
    opts = DecodeOptions()
    decoder = Decoder(hclg, yesno_system.model, opts)
    feats = yesno_system.model.load_features(yesno_system.data / "test")
    narrow = LatticeGenerator(hclg, 3.0, 2.0)  # far below decode.sh's 13: it loses the 1-best of some files
    lost = kept = 0
    for f in feats.values():
        ll = yesno_system.model.tid_loglikes(f, opts.acoustic_scale)
        hyp = decoder.decode(ll)
        plain, _ = narrow.lattice(ll, [])
        lost += plain is None or plain.best_paths([(1.0, 0.0)])[0][0] != hyp.words
        lat, (best,) = narrow.lattice(ll, [(1.0, 0.0)], hyp.words)
        kept += lat is not None and best[0] == hyp.words
    assert lost > 0 and narrow.widened == lost
    assert kept == len(feats)
