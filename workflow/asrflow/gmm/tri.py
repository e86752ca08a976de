"""Triphone stages on the previous stage's alignments: Kaldi's train_deltas.sh, train_lda_mllt.sh, train_sat.sh.

Each stage builds a decision tree from its predecessor's alignments, initialises one Gaussian per
leaf, converts the alignments to the new tree (convert-ali) and runs EM with realignment and
mix-up; `lda_mllt` splices frames, projects them by LDA and re-estimates MLLT on a schedule,
`sat` estimates per-speaker fMLLR on a schedule and ends with a speaker-independent alignment model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import kaldi_hmm_gmm as khg
import numpy as np

from asrflow.common import AsrflowError, get_logger
from asrflow.gmm.adapt import adapt, compose_speakers, speaker_fmllr
from asrflow.gmm.align import AlignOptions
from asrflow.gmm.diag_gmm import DiagGmmSet
from asrflow.gmm.em import log_entry, reestimate, silence_offsets, summed
from asrflow.gmm.model import AcousticModel, raw_features, read_topology
from asrflow.gmm.shards import ShardPool, Utt
from asrflow.gmm.transforms import (LdaStats, MlltStats, apply_affine, compose_affine, estimate_lda, estimate_mllt,
                                    transform_gmm_means)
from asrflow.gmm.tree import accumulate_tree_stats, build_tree, cluster_phones
from asrflow.lang.langdir import LangDir

log = get_logger("asrflow.gmm.tri")
TYPES = ("deltas", "lda_mllt", "sat")


@dataclass(frozen=True)
class TriConfig:
    """Knobs of one triphone stage (config sections `tri1`, `tri2`, `tri3`), defaults as Kaldi's scripts."""

    type: str = "deltas"  # deltas (train_deltas.sh) | lda_mllt (train_lda_mllt.sh) | sat (train_sat.sh)
    align_from: str = "mono"  # the stage whose alignments (and, for sat, features) this one starts from
    num_leaves: int = 2000
    totgauss: int = 10000
    num_iters: int = 35
    max_iter_inc: int = 25
    realign_iters: tuple[int, ...] = (10, 20, 30)
    mllt_iters: tuple[int, ...] = (2, 4, 6, 12)
    fmllr_iters: tuple[int, ...] = (2, 4, 6, 12)
    splice: int = 3
    lda_dim: int = 40
    silence_weight: float = 0.0  # weight of silence frames in fMLLR statistics (LDA and MLLT ignore silence)
    fmllr_min_count: float = 50.0  # a speaker with fewer (weighted) frames keeps the identity transform
    tree_thresh: float = 300.0  # build-tree --thresh: smallest likelihood gain of a split
    tree_min_count: float = 0.0  # frames each side of a split must keep (0: none, as Kaldi's build-tree)
    cluster_thresh: float = -1.0  # merge leaves cheaper than this after splitting; -1: the smallest split gain
    boost_silence: float = 1.0
    power: float = 0.25
    var_floor: float = 0.001
    min_gaussian_occupancy: float = 10.0
    split_min_count: float = 20.0
    perturb: float = 0.01
    deltas: int = 2
    align: AlignOptions = field(default_factory=AlignOptions)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise AsrflowError(f"triphone stage type must be one of {TYPES}, got {self.type!r}: fix conf/*.yaml")

    @classmethod
    def from_dict(cls, cfg: dict) -> "TriConfig":
        """Build from a config section; `align` is a nested dict, lists become tuples."""
        cfg = dict(cfg)
        if "align" in cfg:
            cfg["align"] = AlignOptions(**cfg["align"])
        for key in ("realign_iters", "mllt_iters", "fmllr_iters"):
            if key in cfg:
                cfg[key] = tuple(cfg[key])
        return cls(**cfg)


@dataclass
class TriSystem:
    """What a triphone stage produces."""

    model: AcousticModel
    alignments: dict[str, np.ndarray]
    history: list[dict]
    speaker_transforms: dict[str, np.ndarray]  # fMLLR per training speaker (sat only)
    si_model: AcousticModel | None  # speaker-independent alignment model (sat only; Kaldi's final.alimdl)


def convert_alignment(old: AcousticModel, new: AcousticModel, ali: np.ndarray) -> np.ndarray:
    """Map an alignment to another tree's transition ids, phone by phone in context (Kaldi's convert-ali)."""
    segs = old.phone_segments(ali)
    phones = [p for p, _, _ in segs]
    width, centre = new.tree.context_width, new.tree.central_position
    lookup = new_state_lookup(new)
    out = np.empty_like(ali)
    first_tid = np.asarray(new.tm.state2id)
    for k, (phone, start, end) in enumerate(segs):
        window = [phones[k + j - centre] if 0 <= k + j - centre < len(phones) else 0 for j in range(width)]
        states = old.tid_hmm_state[ali[start:end]]
        for hmm_state in np.unique(states):  # one tree lookup per HMM state of the phone, not per frame
            ok, pdf = new.tree.compute(window, int(hmm_state))
            if not ok:
                raise AsrflowError(f"tree has no pdf for phones {window} state {hmm_state}: rebuild the tree")
            frames = start + np.flatnonzero(states == hmm_state)
            out[frames] = first_tid[lookup[(phone, int(hmm_state), pdf)]] + old.tid_index[ali[frames]]
    return out


def new_state_lookup(model: AcousticModel) -> dict[tuple[int, int, int], int]:
    """(phone, hmm state, pdf) → transition state of a model (forward and self-loop pdfs coincide here)."""
    return {(int(p), int(h), int(f)): s + 1 for s, (p, h, f, _) in enumerate(model.tuples)}


def extra_questions(lang: LangDir) -> list[list[int]]:
    """Kaldi's extra_questions.txt: silence vs non-silence, and each word position across phones."""
    phones = {i: p for i, p in lang.id2phone.items() if i > 0 and not p.startswith("#") and p != "<eps>"}
    sil = sorted(i for i in phones if i in set(lang.silence))
    questions = [sil, sorted(i for i in phones if i not in set(lang.silence))]
    for suffix in ("_B", "_I", "_E", "_S"):
        group = sorted(i for i, p in phones.items() if p.endswith(suffix))
        if group:
            questions.append(group)
    return [q for q in questions if q]


def _pdf_frames(model: AcousticModel, alignments: dict[str, np.ndarray], feats: dict[str, np.ndarray],
                silence: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Non-silence frames and their pdfs under `model`'s alignments (for LDA)."""
    ids = [u for u in sorted(alignments) if u in feats]
    tids = np.concatenate([alignments[u] for u in ids])
    x = np.concatenate([feats[u] for u in ids])
    speech = ~np.isin(model.tid2phone[tids], silence)
    return x[speech], model.tid2pdf[tids][speech]


def stage_features(cfg: TriConfig, prev: AcousticModel) -> tuple[dict, np.ndarray | None]:
    """The feature pipeline of a stage: its own for deltas / lda_mllt, the predecessor's for sat.

    CMVN settings always carry over from the predecessor, as Kaldi's scripts read the ali dir's cmvn_opts.
    """
    if cfg.type == "sat":
        return dict(prev.features), prev.transform
    base = {"cmvn": prev.features["cmvn"], "norm_vars": prev.features["norm_vars"]}
    if cfg.type == "deltas":
        return {**base, "deltas": cfg.deltas}, None
    return {**base, "deltas": 0, "splice": cfg.splice}, None


def init_from_tree(lang: LangDir, tree: khg.ContextDependency, means: np.ndarray, variances: np.ndarray,
                   features: dict, transform: np.ndarray | None) -> AcousticModel:
    """One Gaussian per leaf from the tree statistics (gmm-init-model)."""
    tm = khg.TransitionModel(tree, read_topology(lang))
    n = len(means)
    return AcousticModel(tm, tree, DiagGmmSet(np.ones(n), means, variances, np.arange(n)), features, transform)


def train_tri(part_dir: Path, lang_dir: Path, prev: AcousticModel, prev_ali: dict[str, np.ndarray],
              cfg: TriConfig, seed: int, num_jobs: int = 1) -> TriSystem:
    """Train one triphone stage on a data part from the previous stage's model and alignments."""
    lang = LangDir(lang_dir)
    rng = np.random.default_rng(seed)
    features, transform = stage_features(cfg, prev)
    utts = Utt.of_part(part_dir, raw_features(part_dir, features))
    utts = [u for u in utts if u.id in prev_ali]
    if not utts:
        raise AsrflowError(f"no utterance of {part_dir} has an alignment from {cfg.align_from}: retrain it")
    raw = {u.id: u.feats for u in utts}
    if cfg.type == "lda_mllt":
        x, pdfs = _pdf_frames(prev, prev_ali, raw, lang.silence)
        stats = LdaStats.zeros(prev.tm.num_pdfs, x.shape[1])
        stats.accumulate(x, pdfs)
        classes = int((stats.count > 0).sum())
        dim = min(cfg.lda_dim, classes - 1)
        if dim < cfg.lda_dim:  # the between-class scatter has rank < classes: Kaldi's est-lda would refuse
            log.warning("LDA: only %d pdfs with speech frames in %s's alignments, so %d dims instead of lda_dim %d",
                        classes, cfg.align_from, dim, cfg.lda_dim)
        transform = estimate_lda(stats, dim)
        log.info("LDA: %d spliced dims -> %d", x.shape[1], dim)
    speaker_transforms: dict[str, np.ndarray] = {}
    prev_ali = {u: prev_ali[u] for u in raw}
    speaker_of = {u.id: u.speaker for u in utts}
    si = raw if transform is None else {u: apply_affine(f, transform) for u, f in raw.items()}
    if cfg.type == "sat":  # train_sat.sh starts from transforms estimated with the previous model
        speaker_transforms = speaker_fmllr(prev, si, speaker_of, prev_ali, lang.silence, cfg.silence_weight,
                                           cfg.fmllr_min_count)
    width, centre = 3, 1
    tstats = accumulate_tree_stats(prev, prev_ali, adapt(si, speaker_of, speaker_transforms), width, centre,
                                   ci_phones=lang.silence)
    questions = cluster_phones(tstats, lang.sets, centre) + extra_questions(lang)
    topo = read_topology(lang)
    npc = topo.get_phone_to_num_pdf_classes()
    tree, leaves = build_tree(tstats, lang.sets, questions, {p: npc[p] for s in lang.sets for p in s},
                              cfg.num_leaves, cfg.tree_thresh, cfg.cluster_thresh, width, centre,
                              min_count=cfg.tree_min_count)
    means, variances = leaves.gaussians(cfg.var_floor)
    model = init_from_tree(lang, tree, means, variances, features, transform)
    log.info("tree: %d leaves from %d questions", tree.num_pdfs, len(questions))
    ali = {u: convert_alignment(prev, model, a) for u, a in prev_ali.items()}
    offsets = silence_offsets(model, lang, cfg.boost_silence)
    num_gauss = model.gmm.num_gauss
    inc = max(0, (cfg.totgauss - num_gauss) // max(cfg.max_iter_inc, 1))
    history: list[dict] = []
    with ShardPool(utts, lang_dir, model, num_jobs, by_speaker=cfg.type == "sat") as pool:
        pool.map("set_transforms", transform, speaker_transforms)
        pool.map("set_alignments", ali)
        for it in range(1, cfg.num_iters):
            realigned = summed(pool.map("realign", model, cfg.align, offsets)) if it in cfg.realign_iters else None
            extra: dict[str, float] = {}
            if cfg.type == "lda_mllt" and it in cfg.mllt_iters:
                mllt: MlltStats = summed(pool.map("mllt_stats", model))
                a = estimate_mllt(mllt)
                extra["mllt_objf_gain_per_frame"] = (mllt.objective(a) - mllt.objective(np.eye(len(a)))) / max(
                    mllt.beta, 1e-10)
                model = model.replace(gmm=transform_gmm_means(model.gmm, a), transform=compose_affine(a, model.transform))
                pool.map("set_transforms", model.transform, {})
            if cfg.type == "sat" and it in cfg.fmllr_iters:
                deltas = pool.merge("fmllr", model, cfg.silence_weight, cfg.fmllr_min_count)
                speaker_transforms = compose_speakers(deltas, speaker_transforms)
                pool.map("set_transforms", model.transform, speaker_transforms)
            res = summed(pool.map("iterate", model, False, cfg.align, offsets))
            if realigned is not None:
                res.failed, res.changed_frames = realigned.failed, realigned.changed_frames
            history.append(log_entry(it, realigned is not None, model, res, **extra))
            model = reestimate(model, res, cfg, num_gauss, rng, cfg.min_gaussian_occupancy)
            if it <= cfg.max_iter_inc:
                num_gauss += inc
        history.append(log_entry(cfg.num_iters, True, model, summed(pool.map("iterate", model, True, cfg.align, offsets))))
        si_model = None
        if cfg.type == "sat":  # Kaldi's final.alimdl: one pass on speaker-independent features, adapted posteriors
            si = summed(pool.map("si_stats", model))
            si_model = model.replace(gmm=model.gmm.update(si, cfg.var_floor, 0.0))
        alignments = pool.merge("alignments")
    history[-1].update(alignment_changes(prev, prev_ali, model, alignments))
    return TriSystem(model, alignments, history, speaker_transforms, si_model)


def alignment_changes(prev: AcousticModel, prev_ali: dict[str, np.ndarray], model: AcousticModel,
                      ali: dict[str, np.ndarray]) -> dict[str, float]:
    """Fraction of frames whose phone differs from the previous stage's alignment."""
    common = [u for u in ali if u in prev_ali]
    changed = sum(int((prev.tid2phone[prev_ali[u]] != model.tid2phone[ali[u]]).sum()) for u in common)
    total = sum(len(ali[u]) for u in common)
    return {"phone_frames_changed_vs_prev": changed / max(total, 1)}


def align_fmllr(part_dir: Path, lang_dir: Path, model: AcousticModel, si_model: AcousticModel, cfg: TriConfig,
                num_jobs: int = 1) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """Align a part with a SAT system (align_fmllr.sh): speaker-independent alignment, fMLLR per speaker
    from it, realignment on the adapted features. Returns alignments, transforms, utterances that failed."""
    lang = LangDir(lang_dir)
    utts = Utt.of_part(part_dir, model.load_raw_features(part_dir))
    no_boost = np.zeros(model.tm.num_pdfs)
    with ShardPool(utts, lang_dir, model, num_jobs, by_speaker=True) as pool:
        pool.map("set_transforms", model.transform, {})
        pool.map("realign", si_model, cfg.align, no_boost)
        transforms = pool.merge("fmllr", model, cfg.silence_weight, cfg.fmllr_min_count)
        pool.map("set_transforms", model.transform, transforms)
        failed = summed(pool.map("realign", model, cfg.align, silence_offsets(model, lang, cfg.boost_silence))).failed
        alignments = pool.merge("alignments")
    if failed:
        log.warning("%d utterance(s) of %s could not be aligned: %s", len(failed), part_dir, " ".join(failed[:10]))
    return alignments, transforms, failed
