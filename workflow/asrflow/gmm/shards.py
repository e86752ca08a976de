"""Per-shard EM work (align + accumulate) run in long-lived worker processes, one shard each.

The bindings hold the GIL and FSTs do not pickle, so each worker compiles and keeps its own
training graphs and alignments; only models go in and statistics come out each iteration.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
import zlib
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from asrflow.data.features import load_utterances
from asrflow.gmm.align import AlignOptions, GraphCompiler, flat_start_alignment, viterbi_align
from asrflow.gmm.diag_gmm import GmmStats
from asrflow.gmm.model import AcousticModel
from asrflow.gmm.adapt import speaker_fmllr
from asrflow.gmm.transforms import MlltStats, apply_affine
from asrflow.lang.langdir import LangDir


@dataclass(frozen=True)
class Utt:
    """A training utterance as the workers need it."""

    id: str
    speaker: str
    text: str
    feats: np.ndarray

    @staticmethod
    def of_part(part_dir: Path, feats: dict[str, np.ndarray]) -> list["Utt"]:
        """A data part's utterances (sorted by id) with the given features."""
        return [Utt(u.id, u.speaker, u.text, feats[u.id]) for u in load_utterances(part_dir)]


@dataclass
class ShardResult:
    """What one shard returns per iteration: GMM and transition statistics plus alignment bookkeeping."""

    gmm: GmmStats
    tid_counts: np.ndarray
    failed: list[str] = field(default_factory=list)
    changed_frames: int = 0

    def __iadd__(self, other: "ShardResult") -> "ShardResult":
        self.gmm += other.gmm
        self.tid_counts += other.tid_counts
        self.failed += other.failed
        self.changed_frames += other.changed_frames
        return self


class Shard:
    """A slice of the training set with its training graphs, current features and alignments.

    `raw` are the features as given (spliced for LDA systems); the features the model sees are
    raw → global transform (LDA/MLLT) → per-speaker fMLLR, recomputed by `set_transforms`.
    """

    def __init__(self, utts: list[Utt], lang_dir: Path, model: AcousticModel) -> None:
        lang = LangDir(lang_dir)
        compiler = GraphCompiler(model, lang)
        self.model = model
        self.silence = set(lang.silence)
        self.ids = [u.id for u in utts]
        self.speaker = {u.id: u.speaker for u in utts}
        self.raw = {u.id: u.feats for u in utts}
        self.graphs = {u.id: compiler.compile(u.text) for u in utts}
        self.graph_pdfs = {u: model.graph_pdfs(g) for u, g in self.graphs.items()}  # the tree is fixed per stage
        self.ali: dict[str, np.ndarray] = {}
        self.set_transforms(None, {})

    def set_transforms(self, transform: np.ndarray | None, speaker_transforms: dict[str, np.ndarray]) -> None:
        """Recompute the features from the raw ones: global matrix, then each speaker's affine transform."""
        self.si = {u: f if transform is None else apply_affine(f, transform) for u, f in self.raw.items()}
        self.feats = {u: apply_affine(f, speaker_transforms[self.speaker[u]])
                      if self.speaker[u] in speaker_transforms else f for u, f in self.si.items()}
        self.frames = np.concatenate([self.feats[u] for u in self.ids])  # every frame of the shard, in `ids` order

    def set_alignments(self, alignments: dict[str, np.ndarray]) -> list[str]:
        """Take this shard's utterances' alignments (e.g. converted from the previous stage); return those missing."""
        self.ali = {u: alignments[u] for u in self.ids if u in alignments}
        return [u for u in self.ids if u not in alignments]

    def _aligned(self, model: AcousticModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, pdfs and is-silence flags of every aligned frame."""
        aligned = [u for u in self.ids if u in self.ali]
        tids = np.concatenate([self.ali[u] for u in aligned])
        feats = self.frames if len(aligned) == len(self.ids) else np.concatenate([self.feats[u] for u in aligned])
        return feats, model.tid2pdf[tids], np.isin(model.tid2phone[tids], list(self.silence))

    def mllt_stats(self, model: AcousticModel) -> MlltStats:
        """MLLT statistics of the non-silence frames (Kaldi weights silence 0 for gmm-acc-mllt)."""
        feats, pdfs, sil = self._aligned(model)
        stats = MlltStats.zeros(model.gmm.dim)
        stats.accumulate(feats[~sil], model.gmm, pdfs[~sil])
        return stats

    def fmllr(self, model: AcousticModel, silence_weight: float, min_count: float) -> dict[str, np.ndarray]:
        """Each speaker's fMLLR on top of its current features (gmm-est-fmllr); speakers never straddle shards."""
        return speaker_fmllr(model, self.feats, self.speaker, self.ali, sorted(self.silence), silence_weight, min_count)

    def si_stats(self, model: AcousticModel) -> GmmStats:
        """Statistics of the speaker-independent features under the adapted features' posteriors (gmm-acc-stats-twofeats)."""
        aligned = [u for u in self.ids if u in self.ali]
        tids = np.concatenate([self.ali[u] for u in aligned])
        return model.gmm.accumulate(np.concatenate([self.feats[u] for u in aligned]), model.tid2pdf[tids],
                                    stats_feats=np.concatenate([self.si[u] for u in aligned]))

    def equal_align(self, seed: int, tries: int) -> list[str]:
        """Equal-align every utterance (flat start); returns those whose graph cannot fit their frames."""
        failed = []
        for u in self.ids:
            ali = flat_start_alignment(self.model, self.graphs[u], len(self.feats[u]),
                                       (seed * 1000003 + zlib.crc32(u.encode())) % 2**31, self.silence, tries)
            if ali is None:
                failed.append(u)
            else:
                self.ali[u] = ali
        return failed

    def realign(self, model: AcousticModel, opts: AlignOptions, pdf_offsets: np.ndarray) -> ShardResult:
        """Viterbi-realign every utterance with `model`; the result carries failures and changed frames only."""
        res = ShardResult(GmmStats.zeros(0, model.gmm.dim), np.zeros(model.tm.num_transition_ids + 1))
        for u in self.ids:
            ali, _ = viterbi_align(model, self.graphs[u], self.feats[u], opts, pdf_offsets, self.graph_pdfs[u])
            if ali is None:
                res.failed.append(u)
                self.ali.pop(u, None)
                continue
            if u in self.ali:
                res.changed_frames += int((model.tid2pdf[ali] != model.tid2pdf[self.ali[u]]).sum())
            self.ali[u] = ali
        return res

    def iterate(self, model: AcousticModel, realign: bool, opts: AlignOptions, pdf_offsets: np.ndarray) -> ShardResult:
        """Optionally realign with `model`, then accumulate statistics from the current alignments."""
        res = ShardResult(GmmStats.zeros(model.gmm.num_gauss, model.gmm.dim),
                          np.zeros(model.tm.num_transition_ids + 1))
        if realign:
            done = self.realign(model, opts, pdf_offsets)
            res.failed, res.changed_frames = done.failed, done.changed_frames
        if any(u in self.ali for u in self.ids):
            feats, pdfs, _ = self._aligned(model)
            res.gmm = model.gmm.accumulate(feats, pdfs)
            res.tid_counts += np.bincount(np.concatenate([self.ali[u] for u in self.ids if u in self.ali]),
                                          minlength=len(res.tid_counts))
        return res

    def alignments(self) -> dict[str, np.ndarray]:
        """Current transition-id alignments."""
        return dict(self.ali)


def _serve(conn: Connection, args: tuple) -> None:
    """Worker loop: build a Shard, then answer (method, *args) messages until None arrives."""
    try:
        shard = Shard(*args)
        conn.send(("ok", None))
    except Exception:  # noqa: BLE001 - the parent re-raises it with the traceback
        conn.send(("error", traceback.format_exc()))
        return
    while (msg := conn.recv()) is not None:
        try:
            conn.send(("ok", getattr(shard, msg[0])(*msg[1:])))
        except Exception:  # noqa: BLE001
            conn.send(("error", traceback.format_exc()))


class ShardPool:
    """Runs the same Shard method on every shard, in worker processes when `num_jobs` > 1."""

    def __init__(self, utts: list[Utt], lang_dir: Path, model: AcousticModel, num_jobs: int,
                 by_speaker: bool = False) -> None:
        if by_speaker:  # whole speakers per shard, so that per-speaker transforms see all their data
            speakers = sorted({u.speaker for u in utts})
            job = {s: i % num_jobs for i, s in enumerate(speakers)}
            groups = [[u for u in utts if job[u.speaker] == i] for i in range(num_jobs)]
        else:
            groups = [utts[i::num_jobs] for i in range(num_jobs)]
        groups = [g for g in groups if g]
        self._local: Shard | None = None
        self._conns: list[Connection] = []
        self._procs: list[mp.Process] = []
        if len(groups) == 1:
            self._local = Shard(groups[0], lang_dir, model)
            return
        ctx = mp.get_context("fork")
        for g in groups:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, (g, lang_dir, model)), daemon=True)
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)
        for c in self._conns:
            self._receive(c)

    @staticmethod
    def _receive(conn: Connection) -> Any:
        status, value = conn.recv()
        if status == "error":
            raise RuntimeError(f"worker failed:\n{value}")
        return value

    def map(self, method: str, *args: Any) -> list[Any]:
        """Call `method(*args)` on every shard and return the results in shard order."""
        if self._local is not None:
            return [getattr(self._local, method)(*args)]
        for c in self._conns:
            c.send((method, *args))
        return [self._receive(c) for c in self._conns]

    def merge(self, method: str, *args: Any) -> dict:
        """Call `method(*args)` on every shard and merge the per-shard dicts (alignments, speaker transforms)."""
        return {k: v for part in self.map(method, *args) for k, v in part.items()}

    def close(self) -> None:
        """Stop the workers."""
        for c in self._conns:
            c.send(None)
        for p in self._procs:
            p.join(timeout=10)

    def __enter__(self) -> "ShardPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
