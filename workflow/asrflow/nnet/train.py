"""Train TDNN acoustic models on CPU: frame cross-entropy (hybrid DNN-HMM) or CTC, with early stopping and averaging."""

from __future__ import annotations

import math
import pickle
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure  # without pyplot: no global backend state, renders with Agg
from torch.nn.utils.rnn import pad_sequence

from asrflow.common import AsrflowError, atomic_path, get_logger
from asrflow.nnet.model import DEFAULT_CONTEXTS, Tdnn, check_architecture, pad_utterances

if TYPE_CHECKING:
    from asrflow.nnet.mmi import MmiGraphs

log = get_logger("asrflow.nnet.train")

CHECKPOINT_FORMAT = "asrflow-tdnn-1"
IGNORE = -100  # target of padding frames; F.cross_entropy's default ignore_index


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of TDNN training (config section `nnet`); the defaults suit ~0.5-3 h of speech on a CPU.

    Batching: whole utterances of similar length (sorted by length jittered by +-5% per epoch, batches then
    shuffled), padded to the longest, at most `batch_frames` padded frames per batch (an utterance longer than that
    is a batch alone). Optimiser: AdamW (decoupled `weight_decay`), gradients clipped to norm `max_grad_norm`; the
    learning rate decays geometrically, epoch by epoch, from `lr` in the first epoch to `final_lr` in epoch `epochs`
    (Kaldi nnet3's schedule). Training stops after `patience` epochs without a new lowest validation loss. The
    result averages the parameters and BatchNorm statistics of the `average_last` epochs with the *lowest
    validation loss* (icefall averages the last epochs; with early stopping the last ones are the worse ones), with
    BatchNorm statistics re-estimated on the training data, unless that validates worse than the best epoch alone,
    which is then kept.
    """

    hidden_dim: int = 256
    contexts: tuple[tuple[int, int], ...] = DEFAULT_CONTEXTS
    dropout: float = 0.1
    epochs: int = 15
    batch_frames: int = 2000
    lr: float = 1e-3
    final_lr: float = 1e-4
    weight_decay: float = 1e-4
    max_grad_norm: float = 5.0
    patience: int = 3
    average_last: int = 3
    seed: int = 0
    num_threads: int = 1
    log_every: int = 200  # batches between progress lines within an epoch

    def __post_init__(self) -> None:
        """Reject settings that cannot train, naming the setting."""
        check_architecture(1, 1, self.hidden_dim, self.contexts, self.dropout, 1)
        for name in ("epochs", "batch_frames", "patience", "average_last", "num_threads", "log_every"):
            if getattr(self, name) < 1:
                raise AsrflowError(f"nnet config: {name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.final_lr <= self.lr:
            raise AsrflowError(f"nnet config: need 0 < final_lr <= lr, got lr={self.lr}, final_lr={self.final_lr}")
        if self.weight_decay < 0 or self.max_grad_norm <= 0:
            raise AsrflowError(f"nnet config: need weight_decay >= 0 and max_grad_norm > 0, got "
                               f"{self.weight_decay} and {self.max_grad_norm}")

    @classmethod
    def from_dict(cls, cfg: dict) -> "TrainConfig":
        """Build from the config section; `contexts` is a list of [half_width, dilation] lists."""
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(cfg) - known):
            raise AsrflowError(f"nnet config: unknown keys {unknown}; known keys are {sorted(known)}")
        cfg = dict(cfg)
        if "contexts" in cfg:
            cfg["contexts"] = tuple(tuple(c) for c in cfg["contexts"])
        return cls(**cfg)


@dataclass
class TrainResult:
    """A trained model (eval mode), its per-epoch log, and which epochs' parameters it averages."""

    model: Tdnn
    history: list[dict]  # per epoch: epoch, train_loss, valid_loss, [train_acc, valid_acc], lr, seconds
    averaged_epochs: list[int] = field(default_factory=list)


class _Objective(Protocol):
    """What the shared training loop needs from a loss: utterance lengths, batches and a summed loss."""

    feats: list[torch.Tensor]
    lengths: np.ndarray
    has_accuracy: bool

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, tuple]:
        """Return padded raw features (N, T, D) and the loss's targets for utterances `idx`."""

    def loss(self, logits: torch.Tensor, targets: tuple) -> tuple[torch.Tensor, int, int]:
        """Return the summed loss, the number of frames it covers, and the correctly classified frames."""


class _FrameTargets:
    """Frame cross-entropy against one pdf id per frame; padding frames are ignored."""

    has_accuracy = True

    def __init__(self, data: list[tuple[np.ndarray, np.ndarray]], what: str, num_outputs: int) -> None:
        self.feats, self.targets = _tensors(data, what, num_outputs, frame_targets=True)
        self.lengths = np.array([len(f) for f in self.feats])

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, tuple]:
        """Return padded features and (N, T) targets with IGNORE at padding."""
        targets = pad_sequence([self.targets[i] for i in idx], batch_first=True, padding_value=IGNORE)
        return pad_utterances([self.feats[i] for i in idx]), (targets,)

    def loss(self, logits: torch.Tensor, targets: tuple) -> tuple[torch.Tensor, int, int]:
        """Summed cross-entropy and frame accuracy over the non-padding frames."""
        (y,) = targets
        mask = y != IGNORE
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
        correct = int(((logits.argmax(-1) == y) & mask).sum())
        return loss, int(mask.sum()), correct


class _LabelSequences:
    """CTC (blank 0) against label sequences, or against phone graphs (data triples), in which case k2 computes it.

    Utterances too short for their labels are dropped with a warning. A triple's third element is a k2 phone
    acceptor of the transcript (`asrflow.nnet.mmi.phone_acceptor`); the loss then sums over every CTC
    alignment of every path of it, and the label sequence only serves the length check and LF-MMI's bigram.
    """

    has_accuracy = False

    def __init__(self, data: list[tuple], what: str, num_outputs: int, subsampling: int) -> None:
        feats, targets = _tensors(data, what, num_outputs, frame_targets=False)
        out_frames = [math.ceil(len(f) / subsampling) for f in feats]
        # CTC needs a frame per label plus a blank between repeated labels.
        keep = [i for i, t in enumerate(targets) if out_frames[i] >= len(t) + int((t[1:] == t[:-1]).sum())]
        if len(keep) < len(feats):
            log.warning("%s: dropped %d of %d utterances with fewer frames (after subsampling by %d) than their "
                        "labels need", what, len(feats) - len(keep), len(feats), subsampling)
        if not keep:
            raise AsrflowError(f"no {what} utterance is long enough for CTC at subsampling {subsampling}: "
                               f"lower the subsampling or check that the label sequences match the features")
        self.feats = [feats[i] for i in keep]
        self.targets = [targets[i] for i in keep]
        self.lengths = np.array([len(f) for f in self.feats])
        self.out_frames = torch.tensor([out_frames[i] for i in keep])
        self.numerators = None
        if len(data[0]) == 3:
            from asrflow.nnet.mmi import ctc_numerator  # k2 only where graph targets train

            self.numerators = [ctc_numerator(data[i][2], num_outputs) for i in keep]

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, tuple]:
        """Return padded features, output lengths, concatenated labels, label counts and numerators (or None)."""
        labels = [self.targets[i] for i in idx]
        numerators = None if self.numerators is None else [self.numerators[i] for i in idx]
        return pad_utterances([self.feats[i] for i in idx]), (
            self.out_frames[idx], torch.cat(labels), torch.tensor([len(t) for t in labels]), numerators)

    def loss(self, logits: torch.Tensor, targets: tuple) -> tuple[torch.Tensor, int, int]:
        """Summed CTC loss; its frame count is the number of (subsampled) output frames."""
        out_frames, labels, label_counts, numerators = targets
        log_probs = logits.log_softmax(-1)
        if numerators is not None:
            from asrflow.nnet.mmi import numerator_log_likelihood

            return -numerator_log_likelihood(log_probs, out_frames, numerators).sum(), int(out_frames.sum()), 0
        loss = F.ctc_loss(log_probs.transpose(0, 1), labels, out_frames, label_counts, blank=0, reduction="sum")
        return loss, int(out_frames.sum()), 0


@dataclass(frozen=True)
class MmiOptions:
    """LF-MMI knobs: denominator weight, lattice pruning of both intersections, and the CTC regulariser's weight."""

    den_scale: float = 1.0  # 0 turns the loss into CTC
    output_beam: float = 10.0  # prune the lattices to paths within this many nats of their best (inf: exact)
    ctc_weight: float = 0.0

    def __post_init__(self) -> None:
        """Reject settings that cannot train, naming the setting."""
        if self.den_scale < 0 or self.output_beam <= 0 or self.ctc_weight < 0:
            raise AsrflowError(f"mmi config: need den_scale >= 0, output_beam > 0 and ctc_weight >= 0, got "
                               f"{self.den_scale}, {self.output_beam} and {self.ctc_weight}")


class _MmiSequences(_LabelSequences):
    """LF-MMI (k2) against label sequences: numerator ctc_topo ∘ transcript, denominator ctc_topo ∘ phone bigram."""

    def __init__(self, data: list[tuple[np.ndarray, np.ndarray]], what: str, num_outputs: int, subsampling: int,
                 graphs: "MmiGraphs", mmi: MmiOptions) -> None:
        from asrflow.nnet.mmi import lfmmi_loss, numerator_log_likelihood  # k2 only where LF-MMI trains

        super().__init__(data, what, num_outputs, subsampling)
        self.graphs, self.mmi, self._lfmmi, self._num = graphs, mmi, lfmmi_loss, numerator_log_likelihood

    def loss(self, logits: torch.Tensor, targets: tuple) -> tuple[torch.Tensor, int, int]:
        """Summed LF-MMI loss (plus `ctc_weight` × CTC, a regulariser as Kaldi chain's cross-entropy term)."""
        out_frames, labels, label_counts, numerators = targets
        log_probs = logits.log_softmax(-1)
        seqs = [t.tolist() for t in torch.split(labels, label_counts.tolist())]
        loss = self._lfmmi(log_probs, out_frames, seqs, self.graphs, self.mmi.den_scale, self.mmi.output_beam,
                           numerators).sum()
        if self.mmi.ctc_weight and numerators is not None:
            loss = loss - self.mmi.ctc_weight * self._num(log_probs, out_frames, numerators).sum()
        elif self.mmi.ctc_weight:
            loss = loss + self.mmi.ctc_weight * F.ctc_loss(log_probs.transpose(0, 1), labels, out_frames,
                                                           label_counts, blank=0, reduction="sum")
        return loss, int(out_frames.sum()), 0


def train_frame_classifier(
    train: list[tuple[np.ndarray, np.ndarray]],
    valid: list[tuple[np.ndarray, np.ndarray]],
    num_outputs: int,
    cfg: TrainConfig,
    checkpoint_dir: Path | None = None,
) -> TrainResult:
    """Train a TDNN with frame cross-entropy on (raw features, per-frame pdf ids) pairs: the hybrid DNN-HMM's model.

    History losses are cross-entropy per frame and accuracies are frame accuracy. With `checkpoint_dir`, every
    epoch's model is saved there as `epoch-N.pt`.
    """
    return _fit(_FrameTargets(train, "train", num_outputs), _FrameTargets(valid, "valid", num_outputs),
                num_outputs, cfg, 1, checkpoint_dir)


def train_ctc(
    train: list[tuple[np.ndarray, np.ndarray]],
    valid: list[tuple[np.ndarray, np.ndarray]],
    num_outputs: int,
    cfg: TrainConfig,
    subsampling: int = 1,
    checkpoint_dir: Path | None = None,
    mmi: MmiOptions | None = None,
) -> TrainResult:
    """Train a TDNN with CTC (blank = 0), or LF-MMI with `mmi`, on (raw features, labels in 1..num_outputs-1) pairs.

    Triples (features, labels, k2 phone acceptor) train on every path of the acceptors instead (see
    `_LabelSequences`); the labels then only set the minimum length and LF-MMI's phone bigram.

    The model emits every `subsampling`-th frame. History losses are the loss per output frame (the utterances'
    summed negative log-likelihoods, or MMI objectives, over their summed output frames); there is no accuracy.
    LF-MMI's denominator phone bigram is estimated on the training label sequences. With `checkpoint_dir`, every
    epoch's model is saved there as `epoch-N.pt`.
    """
    if mmi is None:
        return _fit(_LabelSequences(train, "train", num_outputs, subsampling),
                    _LabelSequences(valid, "valid", num_outputs, subsampling), num_outputs, cfg, subsampling,
                    checkpoint_dir)
    from asrflow.nnet.mmi import MmiGraphs

    graphs = MmiGraphs([[int(x) for x in item[1]] for item in train], num_outputs)
    return _fit(_MmiSequences(train, "train", num_outputs, subsampling, graphs, mmi),
                _MmiSequences(valid, "valid", num_outputs, subsampling, graphs, mmi), num_outputs, cfg,
                subsampling, checkpoint_dir)


def _tensors(
    data: list[tuple], what: str, num_outputs: int, frame_targets: bool
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Check (features, targets, ...) tuples and convert features and targets to float32 / int64 tensors."""
    if not data:
        raise AsrflowError(f"the {what} set is empty: give it at least one utterance")
    low, kind, fix = ((0, "pdf id", "pass num_outputs = the number of pdfs") if frame_targets else
                      (1, "CTC label", "labels are 1..num_outputs-1 as 0 is the blank; pass num_outputs = labels + 1"))
    dim = np.asarray(data[0][0]).shape[-1]
    feats, targets = [], []
    for i, item in enumerate(data):
        f, t = np.asarray(item[0]), np.asarray(item[1])
        if f.ndim != 2 or len(f) == 0 or f.shape[1] != dim:
            raise AsrflowError(f"{what} utterance {i}: features must be a non-empty (frames, {dim}) matrix like "
                               f"the first utterance's, got shape {f.shape}")
        if not np.isfinite(f).all():
            raise AsrflowError(f"{what} utterance {i}: features contain NaN or infinity; recompute its features")
        if t.ndim != 1 or not (t.size == 0 or np.issubdtype(t.dtype, np.integer)):
            raise AsrflowError(f"{what} utterance {i}: targets must be a 1-D integer array, got {t.dtype} {t.shape}")
        if frame_targets and len(t) != len(f):
            raise AsrflowError(f"{what} utterance {i}: {len(t)} frame targets for {len(f)} frames; align the "
                               f"same features the network trains on")
        if t.size and (t.min() < low or t.max() >= num_outputs):
            raise AsrflowError(f"{what} utterance {i}: {kind} {t.min() if t.min() < low else t.max()} is outside "
                               f"[{low}, {num_outputs}); {fix}")
        feats.append(torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32)))
        targets.append(torch.from_numpy(t.astype(np.int64)))
    return feats, targets


def _fit(
    train: _Objective,
    valid: _Objective,
    num_outputs: int,
    cfg: TrainConfig,
    subsampling: int,
    checkpoint_dir: Path | None,
) -> TrainResult:
    """The shared loop: build the model, train epochs with decay, stop early, average the best epochs."""
    input_dim = train.feats[0].shape[1]
    if valid.feats[0].shape[1] != input_dim:
        raise AsrflowError(f"valid features have dimension {valid.feats[0].shape[1]} but train features have "
                           f"{input_dim}: compute both with the same feature pipeline")
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.num_threads)
    try:
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        model = Tdnn(input_dim, num_outputs, cfg.hidden_dim, cfg.contexts, cfg.dropout, subsampling)
        model.set_normalization(*_mean_std(train.feats))
        log.info("TDNN: %d parameters, context %s, %d train / %d valid utterances (%d / %d frames)",
                 sum(p.numel() for p in model.parameters()), model.context, len(train.lengths),
                 len(valid.lengths), train.lengths.sum(), valid.lengths.sum())
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        decay = (cfg.final_lr / cfg.lr) ** (1.0 / max(cfg.epochs - 1, 1))
        history: list[dict] = []
        best: list[tuple[float, int, dict[str, torch.Tensor]]] = []  # (valid loss, epoch, state), lowest first
        since_best = 0
        for epoch in range(1, cfg.epochs + 1):
            start = time.monotonic()
            lr = cfg.lr * decay ** (epoch - 1)
            for group in opt.param_groups:
                group["lr"] = lr
            train_loss, train_acc = _train_epoch(model, train, cfg, rng, opt, epoch)
            valid_loss, valid_acc = _evaluate(model, valid, cfg)
            entry = {"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss}
            if train.has_accuracy:
                entry |= {"train_acc": train_acc, "valid_acc": valid_acc}
            entry |= {"lr": lr, "seconds": time.monotonic() - start}
            history.append(entry)
            acc = f" acc {train_acc:.3f}/{valid_acc:.3f}" if train.has_accuracy else ""
            log.info("epoch %d: loss %.4f/%.4f (train/valid)%s, lr %.2e, %.1fs",
                     epoch, train_loss, valid_loss, acc, lr, entry["seconds"])
            if checkpoint_dir is not None:
                save_model(model, cfg, Path(checkpoint_dir) / f"epoch-{epoch}.pt")
            since_best = 0 if not best or valid_loss < best[0][0] else since_best + 1
            best = sorted(best + [(valid_loss, epoch, _copy_state(model))], key=lambda b: (b[0], b[1]))
            del best[cfg.average_last:]
            if since_best >= cfg.patience:
                log.info("stopping early: no lower valid loss for %d epochs (best %.4f at epoch %d)",
                         since_best, best[0][0], best[0][1])
                break
        averaged = _average_best(model, train, valid, cfg, best)
        model.eval()
        return TrainResult(model, history, averaged)
    finally:
        torch.set_num_threads(threads)


def _mean_std(feats: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Global per-dimension mean and standard deviation (floored) of the training frames, accumulated in float64."""
    total = sum(f.double().sum(0) for f in feats)
    squares = sum((f.double() ** 2).sum(0) for f in feats)
    n = sum(len(f) for f in feats)
    mean = total / n
    std = (squares / n - mean**2).clamp_min(0).sqrt().clamp_min(1e-5)
    return mean.float(), std.float()


def _batches(lengths: np.ndarray, batch_frames: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Group utterances of similar length into batches of at most `batch_frames` padded frames; shuffle with `rng`."""
    keys = lengths if rng is None else lengths * rng.uniform(0.95, 1.05, len(lengths))
    batches: list[list[int]] = [[]]
    longest = 0
    for i in np.argsort(keys, kind="stable"):
        longest = max(longest, lengths[i])
        if batches[-1] and longest * (len(batches[-1]) + 1) > batch_frames:
            batches.append([])
            longest = lengths[i]
        batches[-1].append(i)
    if rng is not None:
        batches = [batches[j] for j in rng.permutation(len(batches))]
    return [np.array(b) for b in batches]


def _train_epoch(model: Tdnn, data: _Objective, cfg: TrainConfig, rng: np.random.Generator,
                 opt: torch.optim.Optimizer, epoch: int) -> tuple[float, float]:
    """Run one epoch of updates; return loss per frame and frame accuracy (as measured with dropout on)."""
    model.train()
    batches = _batches(data.lengths, cfg.batch_frames, rng)
    loss_sum, frames, correct, start = 0.0, 0, 0, time.monotonic()
    for b, idx in enumerate(batches, 1):
        x, targets = data.batch(idx)
        loss, n, c = data.loss(model(x), targets)
        if not torch.isfinite(loss):
            raise AsrflowError(f"training diverged in epoch {epoch}, batch {b} (loss {loss.item()}): lower the "
                               f"learning rate (lr) or max_grad_norm")
        opt.zero_grad(set_to_none=True)
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        loss_sum, frames, correct = loss_sum + loss.item(), frames + n, correct + c
        if b % cfg.log_every == 0:
            log.info("epoch %d batch %d/%d: loss %.4f%s (%.0fs)", epoch, b, len(batches), loss_sum / frames,
                     f" acc {correct / frames:.3f}" if data.has_accuracy else "", time.monotonic() - start)
    return loss_sum / frames, correct / frames


def _evaluate(model: Tdnn, data: _Objective, cfg: TrainConfig) -> tuple[float, float]:
    """Loss per frame and frame accuracy of the model in eval mode."""
    model.eval()
    loss_sum, frames, correct = 0.0, 0, 0
    with torch.no_grad():
        for idx in _batches(data.lengths, cfg.batch_frames, None):
            x, targets = data.batch(idx)
            loss, n, c = data.loss(model(x), targets)
            loss_sum, frames, correct = loss_sum + loss.item(), frames + n, correct + c
    return loss_sum / frames, correct / frames


def _copy_state(model: Tdnn) -> dict[str, torch.Tensor]:
    """A detached copy of the model's parameters and buffers."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of the floating-point entries of several state dicts; integer entries from the first."""
    return {k: torch.stack([s[k] for s in states]).mean(0) if v.is_floating_point() else v.clone()
            for k, v in states[0].items()}


def _average_best(model: Tdnn, train: _Objective, valid: _Objective, cfg: TrainConfig,
                  best: list[tuple[float, int, dict[str, torch.Tensor]]]) -> list[int]:
    """Load the average of the kept best epochs into `model` (the best one if that validates better); return epochs.

    Averaged weights no longer match any epoch's BatchNorm statistics, so those are re-estimated on the training
    data (as stochastic weight averaging does) instead of averaged.
    """
    if len(best) > 1:
        model.load_state_dict(average_states([state for _, _, state in best]))
        _reestimate_batchnorm(model, train, cfg)
        loss, _ = _evaluate(model, valid, cfg)
        epochs = sorted(e for _, e, _ in best)
        if loss <= best[0][0]:
            log.info("averaged epochs %s: valid loss %.4f (best single epoch %.4f)", epochs, loss, best[0][0])
            return epochs
        log.info("average of epochs %s validates worse (%.4f) than epoch %d (%.4f); keeping that epoch",
                 epochs, loss, best[0][1], best[0][0])
    model.load_state_dict(best[0][2])
    return [best[0][1]]


def _reestimate_batchnorm(model: Tdnn, data: _Objective, cfg: TrainConfig) -> None:
    """Replace the BatchNorm running statistics by their plain average over one pass of `data` (dropout off)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    momenta = [norm.momentum for norm in norms]
    model.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches
        norm.train()
    with torch.no_grad():
        for idx in _batches(data.lengths, cfg.batch_frames, None):
            model(data.batch(idx)[0])
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.eval()


UNSEEN_LOG_PRIOR = 1e4  # log prior of a pdf no frame is aligned to: its pseudo log-likelihood is <= -1e4


def log_priors(targets: list[np.ndarray], num_outputs: int) -> np.ndarray:
    """Log of the pdfs' relative frequencies in the alignments; pdfs with no frames are switched off.

    Dividing the network's posteriors by these priors gives the scaled likelihoods a hybrid decoder needs. A pdf
    no frame is aligned to (a tree leaf the SAT alignments left empty) gets UNSEEN_LOG_PRIOR, so its likelihood is
    effectively zero, as Kaldi's nnet1 PdfPrior does; flooring its prior instead would give it the largest
    likelihood of all wherever the network leaves it any posterior (synth_digits hybrid: 91.7% WER, every
    utterance decoded as OH).
    """
    counts = np.zeros(num_outputs, dtype=np.float64)
    for t in targets:
        t = np.asarray(t)
        if t.size and (t.min() < 0 or t.max() >= num_outputs):
            raise AsrflowError(f"pdf id {t.min() if t.min() < 0 else t.max()} is outside [0, {num_outputs}): pass "
                               f"num_outputs = the number of pdfs of the model that made the alignments")
        counts += np.bincount(t, minlength=num_outputs)
    if counts.sum() == 0:
        raise AsrflowError("no frames in the alignments to estimate pdf priors from: check the alignment files")
    seen = counts > 0
    log_prior = np.full(num_outputs, UNSEEN_LOG_PRIOR)
    log_prior[seen] = np.log(counts[seen] / counts.sum())
    return log_prior


def pseudo_loglikes(model: Tdnn, feats: np.ndarray, log_prior: np.ndarray | None) -> np.ndarray:
    """Return log_softmax(model(feats)) - log_prior as (frames, num_outputs) float32, with the model in eval mode.

    With a prior these are the hybrid model's pseudo log-likelihoods; without (CTC), log-posteriors.
    """
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 2 or feats.shape[1] != model.input_dim:
        raise AsrflowError(f"features of shape {feats.shape} do not fit the network's input dimension "
                           f"{model.input_dim}: use the feature pipeline it was trained on")
    model.eval()
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.from_numpy(feats)[None]), -1)[0].numpy()
    if log_prior is None:
        return logp
    if log_prior.shape != (logp.shape[1],):
        raise AsrflowError(f"the log prior has shape {log_prior.shape} but the network has {logp.shape[1]} "
                           f"outputs: compute the priors from alignments of the same tree")
    return logp - log_prior.astype(np.float32)


def plot_history(history: list[dict], path: Path, title: str) -> None:
    """Write a PNG of loss (and frame accuracy, when logged) per epoch for train and valid, atomically."""
    if not history:
        raise AsrflowError(f"no epochs to plot for {path}: train for at least one epoch")
    metrics = [("loss", "train_loss", "valid_loss")]
    if "train_acc" in history[0]:
        metrics.append(("frame accuracy", "train_acc", "valid_acc"))
    fig = Figure(figsize=(5 * len(metrics), 4), layout="constrained")
    epochs = [h["epoch"] for h in history]
    for ax, (name, train_key, valid_key) in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics):
        ax.plot(epochs, [h[train_key] for h in history], "o-", label="train")
        ax.plot(epochs, [h[valid_key] for h in history], "s-", label="valid")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def save_model(model: Tdnn, cfg: TrainConfig, path: Path) -> None:
    """Write a self-contained checkpoint (architecture, training config, state dict) atomically."""
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "architecture": {"input_dim": model.input_dim, "num_outputs": model.num_outputs,
                         "hidden_dim": model.hidden_dim, "contexts": model.contexts, "dropout": model.dropout,
                         "subsampling": model.subsampling},
        "config": asdict(cfg),
        "state_dict": model.state_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(checkpoint, tmp)


def load_model(path: Path) -> Tdnn:
    """Rebuild the model saved by `save_model`, in eval mode on the CPU."""
    try:
        checkpoint = torch.load(path, map_location="cpu")
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as e:
        raise AsrflowError(f"cannot read the network checkpoint {path}: {e}; re-run the training stage") from e
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise AsrflowError(f"{path} is not an asrflow TDNN checkpoint ({CHECKPOINT_FORMAT}); re-run the training "
                           f"stage to write one")
    model = Tdnn(**checkpoint["architecture"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()
