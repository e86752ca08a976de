"""The HMM-GMM acoustic model: Kaldi transition model and tree from the bindings, GMMs in numpy."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import kaldi_hmm_gmm as khg
import kaldifst
import numpy as np

from asrflow.common import atomic_path
from asrflow.data.features import load_features
from asrflow.gmm.diag_gmm import DiagGmmSet
from asrflow.gmm.transforms import apply_affine, splice
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
    features: dict  # keyword arguments of `load_features` (deltas, cmvn, norm_vars) plus `splice` (frames each side)
    transform: np.ndarray | None = None  # LDA(+MLLT) matrix applied after splicing (Kaldi's final.mat)

    def replace(self, **changes: object) -> "AcousticModel":
        """A copy with some fields replaced (the Kaldi objects are shared, not copied)."""
        return replace(self, **changes)

    @cached_property
    def tuples(self) -> np.ndarray:
        """(phone, hmm state, forward pdf, self-loop pdf) of each transition state, row s-1 for state s."""
        return np.array([t.__getstate__() for t in self.tm.tuples], dtype=np.int64).reshape(-1, 4)

    @cached_property
    def tid_hmm_state(self) -> np.ndarray:
        """HMM state (= pdf class in asrflow's topologies) of each transition id (index 0 unused)."""
        states = np.asarray(self.tm.id2state, dtype=np.int64)
        return np.r_[0, self.tuples[states[1:] - 1, 1]]

    @cached_property
    def tid_index(self) -> np.ndarray:
        """Index of each transition id among its transition state's transitions (index 0 unused)."""
        states = np.asarray(self.tm.id2state, dtype=np.int64)
        first = np.asarray(self.tm.state2id, dtype=np.int64)
        return np.r_[0, np.arange(1, len(states)) - first[states[1:]]]

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

    def graph_pdfs(self, graph: kaldifst.StdVectorFst) -> np.ndarray:
        """The pdfs whose transition ids label `graph`'s arcs (all an alignment through it can visit)."""
        tids = {arc.ilabel for s in kaldifst.StateIterator(graph) for arc in kaldifst.ArcIterator(graph, s)}
        tids.discard(0)
        return np.unique(self.tid2pdf[sorted(tids)])

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
        return {"tm": self.tm, "tree": self.tree, "gmm": self.gmm, "features": self.features,
                "transform": self.transform}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({"transform": None, **state})

    def tid_loglikes(self, feats: np.ndarray, scale: float, pdf_offsets: np.ndarray | None = None,
                     pdfs: np.ndarray | None = None) -> np.ndarray:
        """Scaled log-likelihoods indexed (frame, transition-id − 1): the matrix DecodableCtc expects.

        `pdfs` restricts the computation to the pdfs a graph can reach (`graph_pdfs`).
        """
        ll = self.gmm.loglikes(feats, pdfs)
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
        """A data part's speaker-independent features through the pipeline this model was trained on."""
        return {u: self.transform_features(f) for u, f in self.load_raw_features(part_dir).items()}

    def load_raw_features(self, part_dir: Path) -> dict[str, np.ndarray]:
        """A data part's features before the model's transform (`raw_features` of its pipeline)."""
        return raw_features(part_dir, self.features)

    def transform_features(self, raw: np.ndarray) -> np.ndarray:
        """Apply the model's LDA/MLLT matrix (if any) to spliced features."""
        return raw if self.transform is None else apply_affine(raw, self.transform)


def raw_features(part_dir: Path, features: dict) -> dict[str, np.ndarray]:
    """A data part through a feature pipeline before any matrix: CMVN, then deltas or splicing."""
    feats = load_features(part_dir, **{k: v for k, v in features.items() if k != "splice"})
    if features.get("splice"):
        feats = {u: splice(f, features["splice"]) for u, f in feats.items()}
    return feats


def write_kaldi_tree(tree: khg.ContextDependency, path: Path) -> None:
    """Write the tree in Kaldi's binary format (readable by Kaldi's tree-info, draw-tree …)."""
    raw = tree.__getstate__()[0]
    with atomic_path(path) as tmp:
        tmp.write_bytes(bytes(b & 0xFF for b in raw))
