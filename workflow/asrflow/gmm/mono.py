"""Monophone HMM-GMM training with Kaldi's train_mono.sh schedule (flat start, realign, mix up)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import kaldi_hmm_gmm as khg
import numpy as np

from asrflow.common import get_logger, write_text_atomic
from asrflow.gmm.align import AlignOptions
from asrflow.gmm.diag_gmm import DiagGmmSet, split_targets
from asrflow.gmm.model import AcousticModel, monophone_tree, read_topology
from asrflow.gmm.shards import ShardPool, ShardResult
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.gmm.mono")

KALDI_REALIGN_ITERS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 23, 26, 29, 32, 35, 38)


@dataclass(frozen=True)
class MonoConfig:
    """Knobs of monophone training (config section `mono`), defaults as Kaldi's train_mono.sh."""

    num_iters: int = 40
    max_iter_inc: int = 30
    totgauss: int = 1000
    realign_iters: tuple[int, ...] = KALDI_REALIGN_ITERS
    boost_silence: float = 1.0
    power: float = 0.25
    var_floor: float = 0.001
    min_gaussian_occupancy: float = 10.0
    first_min_gaussian_occupancy: float = 3.0  # the update from the equal alignment, as train_mono.sh
    split_min_count: float = 20.0
    perturb: float = 0.01
    first_beam: float = 6.0
    flat_start_tries: int = 20
    deltas: int = 2
    cmvn: str = "speaker"
    norm_vars: bool = False
    align: AlignOptions = field(default_factory=AlignOptions)

    @property
    def features(self) -> dict:
        """Keyword arguments of `load_features` for this system's feature pipeline."""
        return {"deltas": self.deltas, "cmvn": self.cmvn, "norm_vars": self.norm_vars}

    @classmethod
    def from_dict(cls, cfg: dict) -> "MonoConfig":
        """Build from the config section; `align` is a nested dict."""
        cfg = dict(cfg)
        if "align" in cfg:
            cfg["align"] = AlignOptions(**cfg["align"])
        if "realign_iters" in cfg:
            cfg["realign_iters"] = tuple(cfg["realign_iters"])
        return cls(**cfg)


def init_model(lang: LangDir, feats: list[np.ndarray], features: dict) -> AcousticModel:
    """Monophone model with one Gaussian per pdf at the global mean/variance (gmm-init-mono)."""
    topo = read_topology(lang)
    tree = monophone_tree(lang, topo)
    tm = khg.TransitionModel(tree, topo)
    allf = np.concatenate(feats).astype(np.float64)
    return AcousticModel(tm, tree, DiagGmmSet.single(tm.num_pdfs, allf.mean(0), allf.var(0)), features)


def silence_offsets(model: AcousticModel, lang: LangDir, boost: float) -> np.ndarray:
    """Per-pdf log-likelihood offsets that boost silence pdfs by `boost` (gmm-boost-silence)."""
    offsets = np.zeros(model.tm.num_pdfs)
    if boost != 1.0:
        is_sil = np.isin(model.tid2phone, lang.silence)
        is_sil[0] = False
        offsets[np.unique(model.tid2pdf[is_sil])] = np.log(boost)
    return offsets


def reestimate(model: AcousticModel, res: ShardResult, cfg: MonoConfig, num_gauss: int,
               rng: np.random.Generator, min_occ: float) -> AcousticModel:
    """M-step (gmm-est): update GMMs and transitions, then mix up towards `num_gauss` Gaussians."""
    gmm = model.gmm.update(res.gmm, cfg.var_floor, min_occ)
    pdf_occ = np.bincount(model.gmm.pdf_of, weights=res.gmm.occ, minlength=gmm.num_pdfs)
    current = np.bincount(gmm.pdf_of, minlength=gmm.num_pdfs)
    if num_gauss > gmm.num_gauss:
        gmm = gmm.split(split_targets(pdf_occ, current, num_gauss, cfg.power, cfg.split_min_count), rng, cfg.perturb)
    model.tm.mle_update(res.tid_counts.reshape(-1, 1), khg.MleTransitionUpdateConfig())
    return AcousticModel(model.tm, model.tree, gmm, model.features)


def _log_entry(it: int, realigned: bool, model: AcousticModel, res: ShardResult) -> dict:
    """One line of the training log: the model's size and its data log-likelihood per frame."""
    entry = {"iter": it, "realigned": realigned, "num_gauss": model.gmm.num_gauss, "frames": res.gmm.frames,
             "loglike_per_frame": res.gmm.loglike / max(res.gmm.frames, 1), "align_failed": len(res.failed),
             "changed_frames": res.changed_frames}
    log.info("iter %d: %d Gaussians, avg loglike/frame %.3f over %d frames%s", it, entry["num_gauss"],
             entry["loglike_per_frame"], entry["frames"], f", realigned ({len(res.failed)} failed)" if realigned else "")
    return entry


def _summed(results: list[ShardResult]) -> ShardResult:
    total = results[0]
    for r in results[1:]:
        total += r
    return total


def train_mono(
    utts: list[tuple[str, str, np.ndarray]],
    lang_dir: Path,
    cfg: MonoConfig,
    seed: int,
    num_jobs: int = 1,
) -> tuple[AcousticModel, dict[str, np.ndarray], list[dict]]:
    """Train a monophone system on (utt id, transcript, features) triples; return model, alignments, log."""
    lang = LangDir(lang_dir)
    rng = np.random.default_rng(seed)
    model = init_model(lang, [f for _, _, f in utts], cfg.features)
    offsets = silence_offsets(model, lang, cfg.boost_silence)
    num_gauss = model.gmm.num_gauss
    inc = max(0, (cfg.totgauss - num_gauss) // max(cfg.max_iter_inc, 1))
    history: list[dict] = []
    with ShardPool(utts, lang_dir, model, num_jobs) as pool:
        failed = [u for f in pool.map("equal_align", seed, cfg.flat_start_tries) for u in f]
        if failed:
            log.warning("equal alignment failed for %d utterance(s) (too short for their transcript): %s",
                        len(failed), " ".join(failed[:10]))
        first = AlignOptions(**{**asdict(cfg.align), "beam": cfg.first_beam,
                                "retry_beam": 4 * cfg.first_beam})
        for it in range(cfg.num_iters):
            realign = it in cfg.realign_iters
            opts = first if it == 1 else cfg.align
            res = _summed(pool.map("iterate", model, realign, opts, offsets))
            history.append(_log_entry(it, realign, model, res))
            min_occ = cfg.first_min_gaussian_occupancy if it == 0 else cfg.min_gaussian_occupancy
            model = reestimate(model, res, cfg, num_gauss, rng, min_occ)
            if 0 < it <= cfg.max_iter_inc:
                num_gauss += inc
        # final alignments with the final model, for the next stage (Kaldi's align_si.sh)
        history.append(_log_entry(cfg.num_iters, True, model,
                                  _summed(pool.map("iterate", model, True, cfg.align, offsets))))
        alignments = {u: a for d in pool.map("alignments") for u, a in d.items()}
    return model, alignments, history


def write_history(history: list[dict], path: Path) -> None:
    """Save the per-iteration training log as JSON."""
    write_text_atomic(path, json.dumps(history, indent=1) + "\n")
