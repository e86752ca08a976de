"""Monophone HMM-GMM training with Kaldi's train_mono.sh schedule (flat start, realign, mix up)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import kaldi_hmm_gmm as khg
import numpy as np

from asrflow.common import get_logger
from asrflow.gmm.align import AlignOptions
from asrflow.gmm.diag_gmm import DiagGmmSet
from asrflow.gmm.em import log_entry, reestimate, silence_offsets, summed
from asrflow.gmm.model import AcousticModel, monophone_tree, read_topology
from asrflow.gmm.shards import ShardPool, Utt
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


def train_mono(
    utts: list[Utt],
    lang_dir: Path,
    cfg: MonoConfig,
    seed: int,
    num_jobs: int = 1,
) -> tuple[AcousticModel, dict[str, np.ndarray], list[dict]]:
    """Train a monophone system on training utterances; return model, alignments, log."""
    lang = LangDir(lang_dir)
    rng = np.random.default_rng(seed)
    model = init_model(lang, [u.feats for u in utts], cfg.features)
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
            res = summed(pool.map("iterate", model, realign, opts, offsets))
            history.append(log_entry(it, realign, model, res))
            min_occ = cfg.first_min_gaussian_occupancy if it == 0 else cfg.min_gaussian_occupancy
            model = reestimate(model, res, cfg, num_gauss, rng, min_occ)
            if 0 < it <= cfg.max_iter_inc:
                num_gauss += inc
        # final alignments with the final model, for the next stage (Kaldi's align_si.sh)
        history.append(log_entry(cfg.num_iters, True, model,
                                  summed(pool.map("iterate", model, True, cfg.align, offsets))))
        alignments = pool.merge("alignments")
    return model, alignments, history

