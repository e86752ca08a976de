"""CTC decoding: Viterbi beam search over H/HL/HLG with kaldi-decoder's FasterDecoder, and greedy decoding.

The graphs come from `asrflow.graph.ctc`: input label = network output index + 1, which is what kaldi_decoder's
`DecodableCtc` expects (it scores input label `i` on frame `t` with `log_probs[t, i - 1]`, unchecked).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import kaldi_decoder
import kaldifst
import numpy as np

from asrflow.common import AsrflowError, atomic_path, get_logger, progress
from asrflow.data.features import load_features, load_utterances
from asrflow.decode.lattice import LatticeGenerator, write_sweep
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.decode")


@dataclass(frozen=True)
class CtcDecodeOptions:
    """Beam-search knobs for CTC decoding (FasterDecoder); CTC posteriors are peaky, so the beam can stay moderate."""

    beam: float = 15.0  # prune tokens whose cost exceeds the frame's best by more than this
    max_active: int = 7000  # at most this many active states per frame (tightens the beam)
    min_active: int = 200  # at least this many active states per frame (widens the beam)
    acoustic_scale: float = 1.0  # multiplies the log-probs; relative to graph (LM and lexicon) weights of 1
    lattice_beam: float = 6.0  # lattices for the LM-weight sweep (kaldi-decoder only)
    lmwt_search: tuple[float, ...] = ()  # Kaldi's chain-model sweep: LM weight L scales the log-probs by 10 / L
    wip_search: tuple[float, ...] = (0.0,)


SWEEP_UNIT = 10.0  # the LM weight that reproduces the decoding scales (Kaldi chain models' post-decode-acwt 10)


@dataclass(frozen=True)
class CtcHypothesis:
    """Best path of one utterance: its nonzero output labels, total cost, and whether it ends in a final state."""

    labels: list[int]  # word ids for HL/HLG, phone ids for H
    cost: float  # graph cost − acoustic_scale · Σ log-probs along the path (k2's total score, negated)
    final: bool  # False: no final state was active at the end, the path is partial (Kaldi's behaviour)


def max_input_label(graph: kaldifst.StdVectorFst) -> int:
    """Largest input label of `graph`: the log-probs need at least this many columns (one pass over the arcs)."""
    return max((a.ilabel for s in kaldifst.StateIterator(graph) for a in kaldifst.ArcIterator(graph, s)), default=0)


class CtcDecoder:
    """Decodes utterances on one CTC graph; checks the network's output size against the graph once."""

    def __init__(self, graph: kaldifst.StdVectorFst, opts: CtcDecodeOptions = CtcDecodeOptions()) -> None:
        cfg = kaldi_decoder.FasterDecoderOptions(beam=opts.beam, max_active=opts.max_active,
                                                 min_active=opts.min_active)
        self._graph = graph  # the decoder keeps a reference; keep the FST alive
        self._decoder = kaldi_decoder.FasterDecoder(graph, cfg)
        self._num_outputs = max_input_label(graph)
        self._scale = opts.acoustic_scale

    def decode(self, log_probs: np.ndarray) -> CtcHypothesis:
        """Best path for one utterance's (frames, outputs) log-probs, output 0 = blank."""
        if log_probs.ndim != 2 or log_probs.shape[1] < self._num_outputs:
            raise AsrflowError(f"CTC log-probs of shape {log_probs.shape} do not fit the graph, which needs "
                               f"(frames, >= {self._num_outputs}); the network's output size must be "
                               "num_ctc_outputs() of the lang dir the graph was built from")
        scaled = np.ascontiguousarray(log_probs * self._scale, dtype=np.float32)
        self._decoder.decode(kaldi_decoder.DecodableCtc(scaled))
        final = self._decoder.reached_final()
        if not final:
            log.warning("no final state active after %d frames: partial hypothesis", len(scaled))
        _, best = self._decoder.get_best_path()
        _, _, labels, weight = kaldifst.get_linear_symbol_sequence(best)
        return CtcHypothesis([int(x) for x in labels], float(weight.value1 + weight.value2), final)


def decode_ctc(graph: kaldifst.StdVectorFst, log_probs: np.ndarray,
               opts: CtcDecodeOptions = CtcDecodeOptions()) -> list[int]:
    """1-best output labels (words for HL/HLG, phones for H) of one utterance; for many, reuse a `CtcDecoder`."""
    return CtcDecoder(graph, opts).decode(log_probs).labels


def greedy_ctc(log_probs: np.ndarray) -> list[int]:
    """Best token per frame, repeats collapsed and blanks (0) dropped: token ids (phone ids), no graph."""
    best = np.asarray(log_probs).argmax(axis=1)
    new = np.ones(len(best), dtype=bool)
    new[1:] = best[1:] != best[:-1]
    return [int(t) for t in best[new & (best != 0)]]


def decode_ctc_part(graph_dir: Path, lang_dir: Path, nnet_dir: Path, data_dir: Path, opts: CtcDecodeOptions,
                    out_dir: Path, decoder: str = "kaldi", extra_info: dict | None = None,
                    rescore_g: Path | None = None) -> dict:
    """Decode a part with a CTC network on HLG (kaldi-decoder, or k2's pruned intersection of the same graph).

    With `rescore_g` (k2 only) the lattices are rescored with that G (`rescore_lattices`) and the hypotheses are the
    rescored best paths. Writes hyp.txt, decode_info.json and greedy.txt (best phone per frame, repeats and blanks
    removed) atomically.
    """
    from asrflow.nnet.ctc import CtcConfig  # torch only here, after the Kaldi wheels
    from asrflow.nnet.train import load_model, pseudo_loglikes

    if decoder not in ("kaldi", "k2"):
        raise AsrflowError(f"unknown CTC decoder {decoder!r}: use kaldi or k2")
    if rescore_g is not None and decoder != "k2":
        raise AsrflowError("lattice rescoring needs the k2 decoder (kaldi-decoder's CTC search keeps no lattice)")
    lang = LangDir(lang_dir)
    graph = kaldifst.StdVectorFst.read(str(graph_dir / "HLG.fst"))
    net = load_model(nnet_dir / "final.pt")
    cfg = CtcConfig.from_dict(json.loads((nnet_dir / "features.json").read_text()))
    feats = load_features(data_dir, **cfg.features)
    utts = load_utterances(data_dir)
    start = time.perf_counter()
    log_probs = [opts.acoustic_scale * pseudo_loglikes(net, feats[u.id], None)
                 for u in progress(utts, len(utts), log, f"CTC network on {data_dir.name}")]
    swept: dict[tuple[float, float], list[str]] = {}
    if decoder == "kaldi":
        search = CtcDecoder(graph, replace(opts, acoustic_scale=1.0))  # the log-probs above are scaled already
        hyps = [search.decode(lp) for lp in log_probs]
        words = [h.labels for h in hyps]
        if opts.lmwt_search:
            swept = sweep(graph, log_probs, hyps, [u.id for u in utts], lang, opts)
    elif rescore_g is None:
        from asrflow.graph.k2graph import k2_decode, to_k2

        words = k2_decode(to_k2(graph), log_probs, search_beam=opts.beam)
    else:
        from asrflow.graph.k2graph import k2_lattices, k2_word_lm, rescore_lattices, to_k2

        word_lm = k2_word_lm(kaldifst.StdVectorFst.read(str(rescore_g)), lang.words["#0"])
        words = rescore_lattices(k2_lattices(to_k2(graph), log_probs, search_beam=opts.beam), word_lm)
    seconds = time.perf_counter() - start
    audio = sum(u.duration for u in utts)
    info = {"rtf": seconds / max(audio, 1e-9), "decode_seconds": seconds, "audio_seconds": audio,
            "utterances": len(utts), "decoder": decoder, **(extra_info or {})}
    log.info("CTC (%s) decoded %d utterances, RTF %.4f", decoder, len(utts), info["rtf"])
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        (tmp / "hyp.txt").write_text("".join(" ".join([u.id, *(lang.id2word[w] for w in ws)]) + "\n"
                                             for u, ws in zip(utts, words)), encoding="utf-8")
        (tmp / "greedy.txt").write_text("".join(" ".join([u.id, *(lang.id2phone[p] for p in greedy_ctc(lp))]) + "\n"
                                                for u, lp in zip(utts, log_probs)), encoding="utf-8")
        (tmp / "decode_info.json").write_text(json.dumps(info, indent=1) + "\n")
        if swept:
            write_sweep(tmp / "scoring", swept)
    return info


def sweep(graph: kaldifst.StdVectorFst, log_probs: list[np.ndarray], hyps: list[CtcHypothesis], ids: list[str],
          lang: LangDir, opts: CtcDecodeOptions) -> dict[tuple[float, float], list[str]]:
    """Best paths of each utterance's lattice at every (LM weight, insertion penalty) of the sweep, as text lines."""
    grid = [(lmwt, wip) for lmwt in opts.lmwt_search for wip in opts.wip_search]
    weights = [(SWEEP_UNIT / lmwt, wip) for lmwt, wip in grid]
    lattices = LatticeGenerator(graph, opts.beam + opts.lattice_beam, opts.lattice_beam)
    swept: dict[tuple[float, float], list[str]] = {g: [] for g in grid}
    for utt, lp, hyp in zip(ids, log_probs, hyps):
        _, best = lattices.lattice(np.ascontiguousarray(lp, dtype=np.float32), weights,
                                   hyp.labels if hyp.final else None)
        for g, (word_ids, _) in zip(grid, best):
            swept[g].append(" ".join([utt, *(lang.id2word[w] for w in word_ids)]))
    if lattices.widened:
        log.info("%d lattice(s) searched again at a wider beam to keep the 1-best", lattices.widened)
    return swept
