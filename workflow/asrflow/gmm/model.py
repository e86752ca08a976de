"""The HMM-GMM acoustic model: Kaldi transition model and tree from the bindings, GMMs in numpy."""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import kaldi_hmm_gmm as khg
import numpy as np

from asrflow.common import atomic_path
from asrflow.data.features import load_features
from asrflow.gmm.diag_gmm import DiagGmmSet
from asrflow.lang.langdir import LangDir


def read_topology(lang: LangDir) -> khg.HmmTopology:
    """Load the lang dir's HMM topology."""
    topo = khg.HmmTopology()
    topo.read(lang.topo_text)
    return topo


def monophone_tree(lang: LangDir, topo: khg.HmmTopology) -> khg.ContextDependency:
    """A monophone tree whose phone sets (e.g. word-position variants) share pdfs, as Kaldi's train_mono."""
    return khg.monophone_context_dependency_shared(lang.sets, topo.get_phone_to_num_pdf_classes())


@dataclass
class AcousticModel:
    """Transition model + tree (Kaldi objects), the pdfs' GMMs and the feature pipeline they expect."""

    tm: khg.TransitionModel
    tree: khg.ContextDependency
    gmm: DiagGmmSet
    features: dict  # keyword arguments of `load_features` (deltas, cmvn, norm_vars) this model expects

    @cached_property
    def tid2pdf(self) -> np.ndarray:
        """pdf id of each transition id (index 0 unused)."""
        return np.array([0, *self.tm.transition_id_to_pdf_array()[1:]], dtype=np.int64)

    @cached_property
    def tid2phone(self) -> np.ndarray:
        """Phone id of each transition id (index 0 unused)."""
        n = self.tm.num_transition_ids
        return np.array([0, *(self.tm.transition_id_to_phone(t) for t in range(1, n + 1))], dtype=np.int64)

    @cached_property
    def tid_is_self_loop(self) -> np.ndarray:
        """Whether each transition id is a self-loop (index 0 unused)."""
        n = self.tm.num_transition_ids
        return np.array([False, *(self.tm.is_self_loop(t) for t in range(1, n + 1))])

    def phone_segments(self, ali: np.ndarray) -> list[tuple[int, int, int]]:
        """Split a (reordered) alignment into (phone, first frame, end frame) — Kaldi's SplitToPhones.

        A phone ends on its final transition plus the self-loops of the same state that follow it.
        """
        tm, state = self.tm, self.tm.id2state
        segs, start, t, n = [], 0, 0, len(ali)
        while t < n:
            if tm.is_final(int(ali[t])):
                end = t + 1
                while end < n and tm.is_self_loop(int(ali[end])) and state[int(ali[end])] == state[int(ali[t])]:
                    end += 1
                segs.append((int(self.tid2phone[ali[t]]), start, end))
                start = t = end
            else:
                t += 1
        return segs

    def __getstate__(self) -> dict:
        return {"tm": self.tm, "tree": self.tree, "gmm": self.gmm, "features": self.features}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def tid_loglikes(self, feats: np.ndarray, scale: float, pdf_offsets: np.ndarray | None = None) -> np.ndarray:
        """Scaled log-likelihoods indexed (frame, transition-id − 1): the matrix DecodableCtc expects."""
        ll = self.gmm.loglikes(feats)
        if pdf_offsets is not None:
            ll = ll + pdf_offsets
        return (scale * ll[:, self.tid2pdf[1:]]).astype(np.float32)

    def save(self, path: Path) -> None:
        """Write the model (pickle) atomically."""
        with atomic_path(path) as tmp:
            tmp.write_bytes(pickle.dumps(self))

    @staticmethod
    def load(path: Path) -> "AcousticModel":
        """Read a model written by `save`."""
        return pickle.loads(Path(path).read_bytes())

    def load_features(self, part_dir: Path) -> dict[str, np.ndarray]:
        """A data part's features through the pipeline this model was trained on."""
        return load_features(part_dir, **self.features)


def write_kaldi_tree(tree: khg.ContextDependency, path: Path) -> None:
    """Write the tree in Kaldi's binary format (readable by Kaldi's tree-info, draw-tree …)."""
    raw = tree.__getstate__()[0]
    with atomic_path(path) as tmp:
        tmp.write_bytes(bytes(b & 0xFF for b in raw))
