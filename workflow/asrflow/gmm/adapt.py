"""Per-speaker fMLLR from alignments (gmm-est-fmllr) and its application (transform-feats --utt2spk)."""

from __future__ import annotations

import numpy as np

from asrflow.gmm.model import AcousticModel
from asrflow.gmm.transforms import FmllrStats, apply_affine, compose_affine, estimate_fmllr


def speaker_fmllr(model: AcousticModel, feats: dict[str, np.ndarray], speaker_of: dict[str, str],
                  alignments: dict[str, np.ndarray], silence: list[int], silence_weight: float,
                  min_count: float) -> dict[str, np.ndarray]:
    """fMLLR (D x D+1) per speaker on `feats` from transition-id alignments, silence frames down-weighted.

    Speakers with fewer weighted frames than `min_count` (at least D + 1, below which the statistics
    are singular) keep the identity.
    """
    min_count = max(min_count, model.gmm.dim + 1.0)
    out = {}
    for spk in sorted({speaker_of[u] for u in alignments}):
        mine = [u for u in sorted(alignments) if speaker_of[u] == spk]
        tids = np.concatenate([alignments[u] for u in mine])
        weights = np.where(np.isin(model.tid2phone[tids], silence), silence_weight, 1.0)
        stats = FmllrStats.zeros(model.gmm.dim)
        stats.accumulate(np.concatenate([feats[u] for u in mine]), model.gmm, model.tid2pdf[tids], weights)
        out[spk] = estimate_fmllr(stats, min_count=min_count)
    return out


def compose_speakers(outer: dict[str, np.ndarray], inner: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per speaker of `outer`, `outer` applied after `inner` (compose-transforms --b-is-affine)."""
    return {s: compose_affine(w, inner[s]) if s in inner else w for s, w in outer.items()}


def adapt(feats: dict[str, np.ndarray], speaker_of: dict[str, str],
          transforms: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Apply each utterance's speaker transform; speakers without one keep their features."""
    return {u: apply_affine(f, transforms[speaker_of[u]]) if speaker_of[u] in transforms else f
            for u, f in feats.items()}
