"""The EM machinery every GMM stage shares: silence boost, the M-step with mix-up, the training log."""

from __future__ import annotations

from typing import Protocol, TypeVar

import kaldi_hmm_gmm as khg
import numpy as np

from asrflow.common import get_logger
from asrflow.gmm.diag_gmm import split_targets
from asrflow.gmm.model import AcousticModel
from asrflow.gmm.shards import ShardResult
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.gmm")
T = TypeVar("T")


class UpdateOptions(Protocol):
    """The gmm-est knobs a stage config carries (MonoConfig, TriConfig)."""

    power: float
    var_floor: float
    split_min_count: float
    perturb: float


def silence_offsets(model: AcousticModel, lang: LangDir, boost: float) -> np.ndarray:
    """Per-pdf log-likelihood offsets that boost silence pdfs by `boost` (gmm-boost-silence)."""
    offsets = np.zeros(model.tm.num_pdfs)
    if boost != 1.0:
        is_sil = np.isin(model.tid2phone, lang.silence)
        is_sil[0] = False
        offsets[np.unique(model.tid2pdf[is_sil])] = np.log(boost)
    return offsets


def reestimate(model: AcousticModel, res: ShardResult, cfg: UpdateOptions, num_gauss: int,
               rng: np.random.Generator, min_occ: float) -> AcousticModel:
    """M-step (gmm-est): update GMMs and transitions, then mix up towards `num_gauss` Gaussians."""
    gmm = model.gmm.update(res.gmm, cfg.var_floor, min_occ)
    pdf_occ = np.bincount(model.gmm.pdf_of, weights=res.gmm.occ, minlength=gmm.num_pdfs)
    current = np.bincount(gmm.pdf_of, minlength=gmm.num_pdfs)
    if num_gauss > gmm.num_gauss:
        gmm = gmm.split(split_targets(pdf_occ, current, num_gauss, cfg.power, cfg.split_min_count), rng, cfg.perturb)
    model.tm.mle_update(res.tid_counts.reshape(-1, 1), khg.MleTransitionUpdateConfig())
    return model.replace(gmm=gmm)


def log_entry(it: int, realigned: bool, model: AcousticModel, res: ShardResult, **extra: float) -> dict:
    """One line of the training log: the model's size and its data log-likelihood per frame."""
    entry = {"iter": it, "realigned": realigned, "num_gauss": model.gmm.num_gauss, "frames": res.gmm.frames,
             "loglike_per_frame": res.gmm.loglike / max(res.gmm.frames, 1), "align_failed": len(res.failed),
             "changed_frames": res.changed_frames, **extra}
    log.info("iter %d: %d Gaussians, avg loglike/frame %.3f over %d frames%s%s", it, entry["num_gauss"],
             entry["loglike_per_frame"], entry["frames"],
             f", realigned ({len(res.failed)} failed)" if realigned else "",
             "".join(f", {k} {v:.4g}" for k, v in extra.items()))
    return entry


def summed(results: list[T]) -> T:
    """Add up the shards' statistics (any objects supporting +=)."""
    total = results[0]
    for r in results[1:]:
        total += r
    return total

