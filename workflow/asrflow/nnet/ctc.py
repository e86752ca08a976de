"""CTC (or LF-MMI) acoustic model over the lang dir's phones (blank = 0, output index = phone id), icefall-style.

Targets come from the transcripts through L.fst, so pronunciations and word-position phones match the
graphs the model is decoded with (H, HL, HLG from `asrflow.graph.ctc`). `silence` says what the targets do
with silence: `none` leaves it to the blank (one phone sequence, the first pronunciation); `edges` makes the
optional-silence phone open and close every target (on yesno, whose training files all start with NO, it took
the test WER from 4.74% to 3.02%; on AN4, whose leading silences are short, it cost 18.7% -> 32.2% on dev);
`optional` trains on every path of L that spells the transcript (optional silence at the edges and between
words, every pronunciation), with k2, as icefall's CTC training graphs do.
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

SILENCE_MODES = ("none", "edges", "optional")


@dataclass(frozen=True)
class CtcConfig:
    """Config section `ctc`: features, validation split, decoding scale and the TDNN's training."""

    deltas: int = 2
    cmvn: str = "speaker"
    norm_vars: bool = False
    valid_fraction: float = 0.1
    acoustic_scale: float = 1.0  # scale of the log-posteriors in graph decoding
    silence: str = "none"  # none | edges (targets open and close with silence) | optional (every path of L, k2)
    restarts: int = 1  # trainings from different seeds; the one with the lowest validation loss is kept
    objective: str = "ctc"  # ctc | mmi (k2 LF-MMI with a phone-bigram denominator; `mmi` knobs below)
    mmi: MmiOptions = field(default_factory=MmiOptions)
    nnet: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        """Reject an unknown objective or silence mode, naming the choices."""
        if self.objective not in ("ctc", "mmi"):
            raise AsrflowError(f"ctc/mmi config: objective must be ctc or mmi, got {self.objective!r}")
        if self.silence not in SILENCE_MODES:
            raise AsrflowError(f"ctc/mmi config: silence must be one of {', '.join(SILENCE_MODES)}, "
                               f"got {self.silence!r}")

    @property
    def features(self) -> dict:
        """Keyword arguments of `load_features` for this model's input."""
        return {"deltas": self.deltas, "cmvn": self.cmvn, "norm_vars": self.norm_vars}

    @classmethod
    def from_dict(cls, cfg: dict) -> "CtcConfig":
        """Split the flat config section into the stage's own keys, MmiOptions' and TrainConfig's."""
        cfg = dict(cfg)
        own = {k: cfg.pop(k) for k in ("deltas", "cmvn", "norm_vars", "valid_fraction", "acoustic_scale",
                                         "silence", "objective", "restarts") if k in cfg}
        mmi = MmiOptions(**{k: cfg.pop(k) for k in ("den_scale", "output_beam", "ctc_weight") if k in cfg})
        return cls(**own, mmi=mmi, nnet=TrainConfig.from_dict(cfg))


class PhoneTargets:
    """Maps transcripts to phone-id sequences (first best pronunciation) or phone acceptors through L.fst."""

    def __init__(self, lang: LangDir, edge_silence: bool = False) -> None:
        self.lang = lang
        self.edge = [lang.optional_silence] if edge_silence else []
        self.lfst = lang.lexicon_fst()
        kaldifst.arcsort(self.lfst, sort_type="olabel")
        self.silence = set(lang.silence)

    def _spell(self, text: str) -> kaldifst.StdVectorFst:
        """L ∘ text: the paths of L (phones in, words out) that spell the transcript."""
        words = kaldifst.make_linear_acceptor(self.lang.word_ids(text))
        paths = kaldifst.compose(self.lfst, words)
        if paths.num_states == 0:
            raise AsrflowError(f"L.fst of {self.lang.path} cannot spell {text!r}: rebuild the lang dir")
        return paths

    def __call__(self, text: str) -> np.ndarray:
        """Non-silence phone ids of the cheapest path of L that spells `text` (+ edge silences); [] if no speech."""
        _, phones, _, _ = kaldifst.get_linear_symbol_sequence(kaldifst.shortest_path(self._spell(text)))
        speech = [p for p in phones if p and p not in self.silence]
        return np.array(self.edge + speech + self.edge if speech else [], dtype=np.int64)

    def acceptor(self, text: str) -> kaldifst.StdVectorFst:
        """Epsilon-free, arc-sorted phone acceptor of every path of L spelling `text`, L's silence costs kept."""
        paths = self._spell(text)
        acceptor = kaldifst.StdVectorFst()
        for _ in range(paths.num_states):
            acceptor.add_state()
        acceptor.start = paths.start
        for state in kaldifst.StateIterator(paths):
            acceptor.set_final(state, paths.final(state))
            for arc in kaldifst.ArcIterator(paths, state):
                acceptor.add_arc(state, kaldifst.StdArc(arc.ilabel, arc.ilabel, arc.weight, arc.nextstate))
        kaldifst.rmepsilon(acceptor)
        kaldifst.arcsort(acceptor, sort_type="ilabel")  # = olabel: ready for composition on either side
        return acceptor


def train_ctc_model(part_dir: Path, lang_dir: Path, cfg: CtcConfig) -> TrainResult:
    """Train the phone CTC TDNN on a part's transcripts, holding out whole speakers for early stopping."""
    lang = LangDir(lang_dir)
    feats = load_features(part_dir, **cfg.features)
    to_phones = PhoneTargets(lang, cfg.silence == "edges")
    texts = {u.id: u.text for u in load_utterances(part_dir)}
    targets = {u: to_phones(t) for u, t in texts.items()}
    empty = [u for u, t in targets.items() if not len(t)]
    if empty:
        log.warning("%d utterance(s) have no speech phones and are skipped: %s", len(empty), " ".join(empty[:5]))
    targets = {u: t for u, t in targets.items() if len(t)}
    train_ids, valid_ids = split_train_valid(part_dir, targets, cfg.valid_fraction, cfg.nnet.seed)
    if cfg.silence == "optional":
        from asrflow.nnet.mmi import phone_acceptor  # k2 only where graph targets train

        graphs = {u: phone_acceptor(to_phones.acceptor(texts[u])) for u in targets}
        train, valid = ([(feats[u], targets[u], graphs[u]) for u in ids] for ids in (train_ids, valid_ids))
    else:
        train, valid = ([(feats[u], targets[u]) for u in ids] for ids in (train_ids, valid_ids))
    best, best_loss = None, float("inf")
    for k in range(cfg.restarts):  # small CTC nets can stall on the all-blank plateau from some initialisations
        result = train_ctc(train, valid, num_ctc_outputs(lang), replace(cfg.nnet, seed=cfg.nnet.seed + 1000 * k),
                           mmi=cfg.mmi if cfg.objective == "mmi" else None)
        loss = min(h["valid_loss"] for h in result.history)
        log.info("restart %d of %d: best validation loss %.4f", k + 1, cfg.restarts, loss)
        if loss < best_loss:
            best, best_loss = result, loss
    return best
