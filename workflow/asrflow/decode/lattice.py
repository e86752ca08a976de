"""Raw state-level lattices (kaldi-decoder) and their best paths under other LM weights and insertion penalties.

This is Kaldi's scoring sweep (lattice-scale --inv-acoustic-scale=LMWT | lattice-add-penalty
--word-ins-penalty=WIP | lattice-best-path) on the pruned, undeterminized lattice: the best path
of a raw lattice under new scales is the same as that of its determinized form.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import kaldi_decoder
import kaldifst
import numpy as np


@dataclass(frozen=True)
class RawLattice:
    """An acyclic lattice as arc arrays, arcs grouped by the topological level of their source state."""

    src: np.ndarray
    dst: np.ndarray
    ilabel: np.ndarray
    olabel: np.ndarray
    graph: np.ndarray  # graph (LM + transition) cost
    acoustic: np.ndarray  # acoustic cost as decoded (already times the decoding acoustic scale)
    start: int
    final_state: np.ndarray
    final_graph: np.ndarray
    final_acoustic: np.ndarray
    level_bounds: np.ndarray  # arcs [level_bounds[i], level_bounds[i+1]) leave states of level i

    @classmethod
    def from_fst(cls, lat: kaldifst.Lattice) -> "RawLattice":
        """Parse a kaldifst Lattice (via its text form) and order its arcs by source level."""
        rows, finals = [], []
        for line in lat.to_str().splitlines():
            f = line.split()
            if len(f) >= 4:
                g, a = f[4].split(",") if len(f) > 4 else ("0", "0")
                rows.append((int(f[0]), int(f[1]), int(f[2]), int(f[3]), float(g), float(a)))
            elif f:
                g, a = f[1].split(",") if len(f) > 1 else ("0", "0")
                finals.append((int(f[0]), float(g), float(a)))
        arr = np.array(rows, dtype=np.float64).reshape(-1, 6)
        src, dst = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)
        level = _levels(lat.num_states, src, dst)
        order = np.argsort(level[src], kind="stable")
        bounds = np.searchsorted(level[src][order], np.arange(level.max() + 2))
        fin = np.array(finals, dtype=np.float64).reshape(-1, 3)
        return cls(src[order], dst[order], arr[order, 2].astype(np.int64), arr[order, 3].astype(np.int64),
                   arr[order, 4], arr[order, 5], lat.start, fin[:, 0].astype(np.int64), fin[:, 1], fin[:, 2],
                   bounds)

    def best_paths(self, weights: list[tuple[float, float]]) -> list[tuple[list[int], np.ndarray]]:
        """Words and transition-id alignment of the best path for each (acoustic scale, word insertion penalty)."""
        ac = np.array([w[0] for w in weights])
        wip = np.array([w[1] for w in weights])
        cost = self.graph[:, None] + self.acoustic[:, None] * ac + (self.olabel != 0)[:, None] * wip
        num_states = int(max(self.src.max(initial=0), self.dst.max(initial=0), self.start)) + 1
        best = np.full((num_states, len(weights)), np.inf)
        back = np.full((num_states, len(weights)), -1)
        best[self.start] = 0.0
        cols = np.arange(len(weights))
        for lo, hi in zip(self.level_bounds[:-1], self.level_bounds[1:]):
            for arc in range(lo, hi):  # few arcs per level; vectorised over the weights
                d = self.dst[arc]
                cand = best[self.src[arc]] + cost[arc]
                better = cand < best[d]
                best[d, better] = cand[better]
                back[d, better] = arc
        total = best[self.final_state] + self.final_graph[:, None] + self.final_acoustic[:, None] * ac
        results = []
        for k in cols:
            s = int(self.final_state[np.argmin(total[:, k])])
            arcs = []
            while s != self.start and back[s, k] >= 0:
                arcs.append(back[s, k])
                s = int(self.src[back[s, k]])
            arcs.reverse()
            words = [int(self.olabel[a]) for a in arcs if self.olabel[a] != 0]
            results.append((words, np.array([self.ilabel[a] for a in arcs if self.ilabel[a] != 0], dtype=np.int32)))
        return results


def lattices_to_arrays(lattices: dict[str, RawLattice]) -> dict[str, np.ndarray]:
    """Flatten utterance lattices into named arrays for `save_arrays` (keys `<index>.<field>`, ids in `utt_ids`)."""
    arrays: dict[str, np.ndarray] = {"utt_ids": np.array(list(lattices), dtype=str)}
    for i, lat in enumerate(lattices.values()):
        arrays |= {f"{i}.{f.name}": np.asarray(getattr(lat, f.name)) for f in fields(RawLattice)}
    return arrays


def lattices_from_arrays(arrays: dict[str, np.ndarray]) -> dict[str, RawLattice]:
    """Inverse of `lattices_to_arrays`."""
    return {str(u): RawLattice(**{f.name: (int(arrays[f"{i}.{f.name}"]) if f.name == "start"
                                           else arrays[f"{i}.{f.name}"]) for f in fields(RawLattice)})
            for i, u in enumerate(arrays["utt_ids"])}


def _levels(num_states: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Longest-path depth of every state from the sources (Kahn's algorithm; raw lattices are acyclic)."""
    indeg = np.bincount(dst, minlength=num_states)
    out_arcs = np.argsort(src, kind="stable")
    bounds = np.searchsorted(src[out_arcs], np.arange(num_states + 1))
    level = np.zeros(num_states, dtype=np.int64)
    stack = [s for s in range(num_states) if indeg[s] == 0]
    while stack:
        s = stack.pop()
        for arc in out_arcs[bounds[s]:bounds[s + 1]]:
            d = dst[arc]
            level[d] = max(level[d], level[s] + 1)
            indeg[d] -= 1
            if indeg[d] == 0:
                stack.append(d)
    return level


class LatticeGenerator:
    """Generates raw lattices for one graph (kaldi-decoder's LatticeSimpleDecoder over a matrix decodable).

    The simple decoder prunes harder than Kaldi's faster one at the same beam (on synth_digits it
    lost the faster decoder's 1-best in 7 of 600 utterances at beam 19), so a lattice whose best
    path is not the given 1-best is searched again at twice the beam, as Kaldi's scoring sweep
    expects the decoding weights to give back the decoder's output.
    """

    def __init__(self, hclg: kaldifst.StdVectorFst, beam: float, lattice_beam: float) -> None:
        self._graph = hclg
        self._decoders = [kaldi_decoder.LatticeSimpleDecoder(
            hclg, kaldi_decoder.LatticeSimpleDecoderConfig(beam=b, lattice_beam=lattice_beam))
            for b in (beam, 2.0 * beam)]
        self.widened = 0  # utterances that needed the wider beam

    def lattice(self, tid_loglikes: np.ndarray, weights: list[tuple[float, float]], one_best: list[int] | None = None,
                ) -> tuple[RawLattice | None, list[tuple[list[int], np.ndarray | None]]]:
        """Raw lattice of one utterance given scaled log-likelihoods (frame, transition-id − 1), and its best
        paths under `weights` (`RawLattice.best_paths`; empty without a lattice).

        With `one_best` (the words decoded at these scales), the lattice must contain it as its best path.
        """
        check = [*weights, (1.0, 0.0)]  # the decoding scales, scored in the same pass as the sweep
        lat = self._decode(self._decoders[0], tid_loglikes)
        paths = lat.best_paths(check) if lat is not None else None
        if one_best is not None and (paths is None or paths[-1][0] != list(one_best)):
            self.widened += 1
            lat = self._decode(self._decoders[1], tid_loglikes)
            paths = lat.best_paths(check) if lat is not None else None
        return lat, paths[:-1] if paths is not None else [([], None)] * len(weights)

    @staticmethod
    def _decode(decoder: kaldi_decoder.LatticeSimpleDecoder, tid_loglikes: np.ndarray) -> RawLattice | None:
        decoder.decode(kaldi_decoder.DecodableCtc(tid_loglikes))
        ok, lat = decoder.get_raw_lattice()
        if not ok or lat.num_states == 0:
            return None
        return RawLattice.from_fst(lat)


def write_sweep(scoring_dir: Path, swept: dict[tuple[float, float], list[str]]) -> None:
    """Write a sweep's hypotheses as `<lmwt>_<wip>.txt` text files (utterance id, words), as the scorer reads them."""
    scoring_dir.mkdir()
    for (lmwt, wip), lines in swept.items():
        (scoring_dir / f"{lmwt:g}_{wip:g}.txt").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
