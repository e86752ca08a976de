"""CTC (or LF-MMI) acoustic model over the lang dir's phones (blank = 0, output index = phone id), icefall-style.

Targets come from the transcripts through L.fst, so pronunciations and word-position phones match the
graphs the model is decoded with (H, HL, HLG from `asrflow.graph.ctc`). Silence inside an utterance is
left to the blank; with `edge_silence` the optional-silence phone opens and closes every target, which
L allows and which stops the network from emitting the first word early in the leading silence
(on yesno, whose training files all start with NO, it took the test WER from 4.74% to 3.02%; on AN4,
whose leading silences are short, it cost 18.7% -> 32.2% on dev, so it is off by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import kaldifst
import numpy as np

from asrflow.common import AsrflowError, get_logger
from asrflow.data.features import load_features, load_utterances
from asrflow.graph.ctc import num_ctc_outputs
from asrflow.lang.langdir import LangDir
from asrflow.nnet.hybrid import split_train_valid
from asrflow.nnet.train import MmiOptions, TrainConfig, TrainResult, train_ctc

log = get_logger("asrflow.nnet.ctc")


@dataclass(frozen=True)
class CtcConfig:
    """Config section `ctc`: features, validation split, decoding scale and the TDNN's training."""

    deltas: int = 2
    cmvn: str = "speaker"
    norm_vars: bool = False
    valid_fraction: float = 0.1
    acoustic_scale: float = 1.0  # scale of the log-posteriors in graph decoding
    edge_silence: bool = False  # targets start and end with the optional-silence phone
    restarts: int = 1  # trainings from different seeds; the one with the lowest validation loss is kept
    objective: str = "ctc"  # ctc | mmi (k2 LF-MMI with a phone-bigram denominator; `mmi` knobs below)
    mmi: MmiOptions = field(default_factory=MmiOptions)
    nnet: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        """Reject an unknown objective, naming the choices."""
        if self.objective not in ("ctc", "mmi"):
            raise AsrflowError(f"ctc/mmi config: objective must be ctc or mmi, got {self.objective!r}")

    @property
    def features(self) -> dict:
        """Keyword arguments of `load_features` for this model's input."""
        return {"deltas": self.deltas, "cmvn": self.cmvn, "norm_vars": self.norm_vars}

    @classmethod
    def from_dict(cls, cfg: dict) -> "CtcConfig":
        """Split the flat config section into the stage's own keys, MmiOptions' and TrainConfig's."""
        cfg = dict(cfg)
        own = {k: cfg.pop(k) for k in ("deltas", "cmvn", "norm_vars", "valid_fraction", "acoustic_scale",
                                         "edge_silence", "objective", "restarts") if k in cfg}
        mmi = MmiOptions(**{k: cfg.pop(k) for k in ("den_scale", "output_beam", "ctc_weight") if k in cfg})
        return cls(**own, mmi=mmi, nnet=TrainConfig.from_dict(cfg))


class PhoneTargets:
    """Maps transcripts to phone-id sequences through L.fst (first best pronunciation, silence dropped)."""

    def __init__(self, lang: LangDir, edge_silence: bool = False) -> None:
        self.lang = lang
        self.edge = [lang.optional_silence] if edge_silence else []
        self.lfst = lang.lexicon_fst()
        kaldifst.arcsort(self.lfst, sort_type="olabel")
        self.silence = set(lang.silence)

    def __call__(self, text: str) -> np.ndarray:
        """Non-silence phone ids of the cheapest path of L that spells `text` (+ edge silences); [] if no speech."""
        words = kaldifst.make_linear_acceptor(self.lang.word_ids(text))
        path = kaldifst.compose(self.lfst, words)
        if path.num_states == 0:
            raise AsrflowError(f"L.fst of {self.lang.path} cannot spell {text!r}: rebuild the lang dir")
        _, phones, _, _ = kaldifst.get_linear_symbol_sequence(kaldifst.shortest_path(path))
        speech = [p for p in phones if p and p not in self.silence]
        return np.array(self.edge + speech + self.edge if speech else [], dtype=np.int64)


def train_ctc_model(part_dir: Path, lang_dir: Path, cfg: CtcConfig) -> TrainResult:
    """Train the phone CTC TDNN on a part's transcripts, holding out whole speakers for early stopping."""
    lang = LangDir(lang_dir)
    feats = load_features(part_dir, **cfg.features)
    to_phones = PhoneTargets(lang, cfg.edge_silence)
    targets = {u.id: to_phones(u.text) for u in load_utterances(part_dir)}
    empty = [u for u, t in targets.items() if not len(t)]
    if empty:
        log.warning("%d utterance(s) have no speech phones and are skipped: %s", len(empty), " ".join(empty[:5]))
    targets = {u: t for u, t in targets.items() if len(t)}
    train, valid = split_train_valid(part_dir, feats, targets, cfg.valid_fraction, cfg.nnet.seed)
    best, best_loss = None, float("inf")
    for k in range(cfg.restarts):  # small CTC nets can stall on the all-blank plateau from some initialisations
        result = train_ctc(train, valid, num_ctc_outputs(lang), replace(cfg.nnet, seed=cfg.nnet.seed + 1000 * k),
                           mmi=cfg.mmi if cfg.objective == "mmi" else None)
        loss = min(h["valid_loss"] for h in result.history)
        log.info("restart %d of %d: best validation loss %.4f", k + 1, cfg.restarts, loss)
        if loss < best_loss:
            best, best_loss = result, loss
    return best
