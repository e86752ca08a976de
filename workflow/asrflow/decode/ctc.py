"""CTC decoding: Viterbi beam search over H/HL/HLG with kaldi-decoder's FasterDecoder, and greedy decoding.

The graphs come from `asrflow.graph.ctc`: input label = network output index + 1, which is what kaldi_decoder's
`DecodableCtc` expects (it scores input label `i` on frame `t` with `log_probs[t, i - 1]`, unchecked).
"""

from __future__ import annotations

from dataclasses import dataclass

import kaldi_decoder
import kaldifst
import numpy as np

from asrflow.common import AsrflowError, get_logger

log = get_logger("asrflow.decode")


@dataclass(frozen=True)
class CtcDecodeOptions:
    """Beam-search knobs for CTC decoding (FasterDecoder); CTC posteriors are peaky, so the beam can stay moderate."""

    beam: float = 15.0  # prune tokens whose cost exceeds the frame's best by more than this
    max_active: int = 7000  # at most this many active states per frame (tightens the beam)
    min_active: int = 200  # at least this many active states per frame (widens the beam)
    acoustic_scale: float = 1.0  # multiplies the log-probs; relative to graph (LM and lexicon) weights of 1


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
