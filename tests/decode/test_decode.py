"""Decoding real yesno test audio: WER bound, lattice sweep agrees with the 1-best decoder, CTM is sane."""

from __future__ import annotations

import json

import kaldialign

from asrflow.decode.decoder import DecodeOptions
from asrflow.decode.run import decode_part
from asrflow.graph.hclg import build_graph


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
