"""LM rescoring of saved HCLG lattices (Kaldi's lmrescore step, done whole-lattice with k2 as icefall does)."""

from __future__ import annotations

import json
import time
from pathlib import Path

# kaldifst before k2 and torch: other orders can deadlock at import with these wheels.
import kaldifst
import k2

from asrflow.common import AsrflowError, atomic_path, get_logger, load_arrays, progress
from asrflow.data.features import load_utterances
from asrflow.decode.lattice import lattices_from_arrays
from asrflow.graph.k2graph import k2_word_lm, raw_lattice_to_k2, rescore_lattices
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.decode")


def rescore_part(decode_dir: Path, lang_dir: Path, g_fst: Path, data_dir: Path, out_dir: Path,
                 extra_info: dict | None = None) -> dict:
    """Rescore a decode dir's lattices.npz with `g_fst`; write hyp.txt and decode_info.json to `out_dir` atomically.

    The lattices' graph costs (first-pass LM, lexicon, transitions) are replaced by the new LM's; acoustic costs
    keep the decoding acoustic scale, so the new LM enters with the LM weight of the first pass. An utterance
    without a lattice, or whose lattice the new LM cannot accept, gets an empty hypothesis (and a warning).
    """
    lattice_file = decode_dir / "lattices.npz"
    if not lattice_file.is_file():
        raise AsrflowError(f"{lattice_file} is missing: decode with an LM-weight sweep (decode.lmwt_search "
                           f"non-empty) to keep lattices for rescoring")
    lang = LangDir(lang_dir)
    lattices = lattices_from_arrays(load_arrays(lattice_file))
    word_lm = k2_word_lm(kaldifst.StdVectorFst.read(str(g_fst)), lang.words["#0"])
    utts = load_utterances(data_dir)
    start = time.perf_counter()
    hyps, empty = [], []
    for u in progress(utts, len(utts), log, f"rescoring {decode_dir.name} with {g_fst}"):
        words = (rescore_lattices(k2.create_fsa_vec([raw_lattice_to_k2(lattices[u.id])]), word_lm)[0]
                 if u.id in lattices else [])
        if not words:
            empty.append(u.id)
        hyps.append(" ".join([u.id, *(lang.id2word[w] for w in words)]))
    if empty:
        log.warning("%d utterance(s) have no rescored path: %s", len(empty), " ".join(empty[:10]))
    seconds = time.perf_counter() - start
    audio = sum(u.duration for u in utts)
    first = json.loads((decode_dir / "decode_info.json").read_text())
    info = {"rtf": first["rtf"] + seconds / max(audio, 1e-9), "rescore_seconds": seconds, "audio_seconds": audio,
            "utterances": len(utts), "rescored_from": str(decode_dir), **(extra_info or {})}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        (tmp / "hyp.txt").write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
        (tmp / "decode_info.json").write_text(json.dumps(info, indent=1) + "\n")
    return info
