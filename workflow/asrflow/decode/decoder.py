"""Viterbi beam search over HCLG with Kaldi's lattice-faster decoder; 1-best words, alignment, CTM."""

from __future__ import annotations

from dataclasses import dataclass

import kaldi_hmm_gmm as khg
import kaldifst
import numpy as np

from asrflow.gmm.model import AcousticModel


@dataclass(frozen=True)
class DecodeOptions:
    """Beam-search knobs (config section `decode`), defaults as Kaldi's decode.sh."""

    beam: float = 13.0
    lattice_beam: float = 6.0
    max_active: int = 7000
    min_active: int = 200
    acoustic_scale: float = 0.083333
    lmwt_search: tuple[float, ...] = ()  # LM weights for Kaldi's scoring sweep (empty: fixed weight only)
    wip_search: tuple[float, ...] = (0.0,)  # word insertion penalties for the sweep
    fmllr_silence_weight: float = 0.01  # SAT decoding: weight of silence frames in fMLLR statistics
    fmllr_min_count: float = 50.0  # SAT decoding: a speaker with fewer frames keeps the identity transform

    @classmethod
    def from_dict(cls, cfg: dict) -> "DecodeOptions":
        """Build from the `decode` config section."""
        cfg = dict(cfg)
        for key in ("lmwt_search", "wip_search"):
            if key in cfg:
                cfg[key] = tuple(cfg[key])
        return cls(**cfg)


@dataclass(frozen=True)
class Hypothesis:
    """Decoder output for one utterance."""

    words: list[int]
    alignment: np.ndarray
    loglike: float
    ok: bool


class Decoder:
    """Decodes utterances with one acoustic model on one HCLG graph."""

    def __init__(self, hclg: kaldifst.StdVectorFst, model: AcousticModel, opts: DecodeOptions) -> None:
        cfg = khg.LatticeFasterDecoderConfig(beam=opts.beam, max_active=opts.max_active,
                                             min_active=opts.min_active, lattice_beam=opts.lattice_beam)
        self._graph = hclg  # the decoder keeps a reference; keep the FST alive
        self._decoder = khg.LatticeFasterDecoderStdVectorFst(hclg, cfg)
        self._model = model

    def decode(self, tid_loglikes: np.ndarray) -> Hypothesis:
        """1-best path for one utterance's scaled log-likelihoods (`AcousticModel.tid_loglikes`); partial if no final."""
        ok, ali, words, like = khg.decode_utterance_lattice_faster(
            self._decoder, khg.DecodableCtc(tid_loglikes), self._model.tm, "utt", True)
        return Hypothesis(list(words), np.asarray(ali, dtype=np.int32), float(like), bool(ok))
