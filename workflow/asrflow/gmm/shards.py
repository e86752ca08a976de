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

from asrflow.gmm.align import AlignOptions, GraphCompiler, flat_start_alignment, viterbi_align
from asrflow.gmm.diag_gmm import GmmStats
from asrflow.gmm.model import AcousticModel
from asrflow.lang.langdir import LangDir


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
    """A slice of the training set with its training graphs and current alignments."""

    def __init__(self, utts: list[tuple[str, str, np.ndarray]], lang_dir: Path, model: AcousticModel) -> None:
        lang = LangDir(lang_dir)
        compiler = GraphCompiler(model, lang)
        self.model = model
        self.silence = set(lang.silence)
        self.ids = [u for u, _, _ in utts]
        self.feats = {u: f for u, _, f in utts}
        self.graphs = {u: compiler.compile(text) for u, text, _ in utts}
        self.frames = np.concatenate([f for _, _, f in utts])  # every frame of the shard, in `ids` order
        self.ali: dict[str, np.ndarray] = {}

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

    def iterate(self, model: AcousticModel, realign: bool, opts: AlignOptions, pdf_offsets: np.ndarray) -> ShardResult:
        """Optionally realign with `model`, then accumulate statistics from the current alignments."""
        res = ShardResult(GmmStats.zeros(model.gmm.num_gauss, model.gmm.dim),
                          np.zeros(model.tm.num_transition_ids + 1))
        if realign:
            for u in self.ids:
                ali, _ = viterbi_align(model, self.graphs[u], self.feats[u], opts, pdf_offsets)
                if ali is None:
                    res.failed.append(u)
                    self.ali.pop(u, None)
                    continue
                if u in self.ali:
                    res.changed_frames += int((model.tid2pdf[ali] != model.tid2pdf[self.ali[u]]).sum())
                self.ali[u] = ali
        aligned = [u for u in self.ids if u in self.ali]
        if aligned:
            tids = np.concatenate([self.ali[u] for u in aligned])
            frames = self.frames if len(aligned) == len(self.ids) else np.concatenate([self.feats[u] for u in aligned])
            res.gmm = model.gmm.accumulate(frames, model.tid2pdf[tids])
            res.tid_counts += np.bincount(tids, minlength=len(res.tid_counts))
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

    def __init__(self, utts: list[tuple[str, str, np.ndarray]], lang_dir: Path, model: AcousticModel,
                 num_jobs: int) -> None:
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
