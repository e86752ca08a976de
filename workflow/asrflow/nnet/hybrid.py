"""Hybrid DNN-HMM (Kaldi nnet3-style, cross-entropy): a TDNN on a SAT stage's frame alignments and features.

The network predicts the GMM system's pdfs from its speaker-adapted features (LDA+MLLT, then each
speaker's fMLLR); decoding divides its posteriors by the pdf priors and runs on the GMM stage's HCLG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from asrflow.common import AsrflowError, get_logger
from asrflow.data.corpus import unperturbed
from asrflow.data.features import load_utterances
from asrflow.gmm.adapt import adapt
from asrflow.gmm.model import AcousticModel
from asrflow.nnet.train import TrainConfig, TrainResult, log_priors, train_frame_classifier

log = get_logger("asrflow.nnet.hybrid")


@dataclass(frozen=True)
class HybridConfig:
    """Config section `hybrid`: which GMM stage to learn from, the validation split, and the TDNN's training."""

    align_from: str = "tri3"
    valid_fraction: float = 0.1  # share of training speakers (whole speakers) held out for early stopping
    acoustic_scale: float = 0.1  # decoding scale of the pseudo log-likelihoods (Kaldi nnet3 decodes with 0.1)
    nnet: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_dict(cls, cfg: dict) -> "HybridConfig":
        """Split the flat config section into the stage's own keys and TrainConfig's."""
        cfg = dict(cfg)
        own = {k: cfg.pop(k) for k in ("align_from", "valid_fraction", "acoustic_scale") if k in cfg}
        return cls(**own, nnet=TrainConfig.from_dict(cfg))


def adapted_features(model: AcousticModel, part_dir: Path, transforms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A part's features as the SAT system saw them: its pipeline, then each speaker's fMLLR."""
    speaker_of = {u.id: u.speaker for u in load_utterances(part_dir)}
    return adapt(model.load_features(part_dir), speaker_of, transforms)


def valid_speakers(speakers: list[str], fraction: float, seed: int) -> set[str]:
    """Whole speakers held out for validation: round(fraction × speakers), at least one, never all."""
    if len(speakers) < 2:
        return set()
    n = min(len(speakers) - 1, max(1, round(fraction * len(speakers))))
    rng = np.random.default_rng(seed)
    return set(rng.choice(sorted(speakers), size=n, replace=False).tolist())


def split_train_valid(part_dir: Path, targets: dict, fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Utterance ids (those with targets) for training and validation, read from a part dir (see `split_ids`)."""
    utts = [(u.id, u.speaker) for u in load_utterances(part_dir) if u.id in targets]
    train, valid, held = split_ids(utts, fraction, seed)
    if not train or not valid:
        raise AsrflowError(f"cannot split {part_dir} into training and validation utterances; "
                           f"set the stage's valid_fraction between 0 and 1")
    log.info("%d training and %d validation utterances (%d held-out speakers)", len(train), len(valid), len(held))
    return train, valid


def split_ids(utts: list[tuple[str, str]], fraction: float, seed: int) -> tuple[list[str], list[str], set[str]]:
    """Split (utterance, speaker) pairs into training and validation ids, and name the held-out speakers.

    Whole speakers are held out; one-speaker data holds out every 10th utterance (at fraction 0.1) instead.
    Speed-perturbed copies follow their original (Kaldi's `sp0.9-` ids): a held-out speaker's or utterance's
    copies are left out of training too, and validation uses the unperturbed audio only, so that no
    validation utterance is also trained on at another speed.
    """
    held = valid_speakers(sorted({unperturbed(s) for _, s in utts}), fraction, seed)
    if held:
        is_valid = [unperturbed(s) in held for _, s in utts]
    else:
        step = max(2, math.ceil(1 / max(fraction, 1e-3)))
        held_utts = set(sorted({unperturbed(u) for u, _ in utts})[step - 1::step])
        is_valid = [unperturbed(u) in held_utts for u, _ in utts]
    train = [u for (u, _), v in zip(utts, is_valid) if not v]
    valid = [u for (u, _), v in zip(utts, is_valid) if v and unperturbed(u) == u]
    return train, valid, held


def train_hybrid(part_dir: Path, gmm: AcousticModel, alignments: dict[str, np.ndarray],
                 transforms: dict[str, np.ndarray], cfg: HybridConfig) -> tuple[TrainResult, np.ndarray]:
    """Train the TDNN on pdf targets from the alignments; return it with the log pdf priors of its training part."""
    feats = adapted_features(gmm, part_dir, transforms)
    targets = {u: gmm.tid2pdf[a] for u, a in alignments.items() if u in feats}
    if not targets:
        raise AsrflowError(f"hybrid: none of the alignments matches an utterance of {part_dir}: realign it")
    bad = [u for u, t in targets.items() if len(t) != len(feats[u])]
    if bad:
        raise AsrflowError(f"hybrid: alignments and features differ in length for {', '.join(bad[:5])}: "
                           "the features changed since alignment; rerun the GMM stages")
    train_ids, valid_ids = split_train_valid(part_dir, targets, cfg.valid_fraction, cfg.nnet.seed)
    train, valid = ([(feats[u], targets[u]) for u in ids] for ids in (train_ids, valid_ids))
    num_pdfs = gmm.tm.num_pdfs
    result = train_frame_classifier(train, valid, num_pdfs, cfg.nnet)
    return result, log_priors([t for _, t in train], num_pdfs)

