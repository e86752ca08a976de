"""k2 form of the OpenFST CTC graphs (converted, never built separately), k2 decoding and k2's CTC loss.

Label shift: a graph of `asrflow.graph.ctc` has input label = network output index + 1, with 0 = epsilon
(kaldi-decoder's convention). k2's `DenseFsaVec` scores label `l` with column `l` of the log-probs, has no
epsilon (label 0 is blank), and uses -1 on the arcs into the final state. So `to_k2` removes the input-epsilon
arcs first and then sets k2 label = OpenFST input label - 1 (blank: 1 -> 0, phone p: p + 1 -> p).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# kaldifst before k2 and torch: other orders can deadlock at import with these wheels.
import kaldifst
import k2
import numpy as np
import torch

from asrflow.common import AsrflowError

if TYPE_CHECKING:
    from asrflow.decode.lattice import RawLattice


def to_k2(fst: kaldifst.StdVectorFst) -> k2.Fsa:
    """k2 copy of an OpenFST CTC graph: labels = network output index, aux_labels = output labels, scores = -weights.

    Input-epsilon arcs (they carry words in HL/HLG) are removed with `k2.remove_epsilon`, which keeps tropical
    path weights and turns `aux_labels` into a ragged tensor; graphs without them (H) keep a plain tensor.
    The text form rounds weights to 6 significant digits.
    """
    fsa = k2.Fsa.from_openfst(fst.to_str(), acceptor=False)
    if bool((fsa.labels == 0).any()):
        fsa = k2.remove_epsilon(fsa)
    fsa.labels = torch.where(fsa.labels > 0, fsa.labels - 1, fsa.labels)
    return k2.arc_sort(fsa)


def _dense(log_probs: list[np.ndarray]) -> k2.DenseFsaVec:
    """Pad per-utterance (frames, outputs) log-probs into one DenseFsaVec, utterance i as segment i."""
    if any(len(lp) == 0 for lp in log_probs):
        raise AsrflowError("k2 decoding got an utterance with no frames; drop it before decoding")
    batch = torch.zeros(len(log_probs), max(len(lp) for lp in log_probs), log_probs[0].shape[1])
    for i, lp in enumerate(log_probs):
        batch[i, : len(lp)] = torch.from_numpy(np.asarray(lp, dtype=np.float32))
    segments = torch.tensor([[i, 0, len(lp)] for i, lp in enumerate(log_probs)], dtype=torch.int32)
    return k2.DenseFsaVec(batch, segments)


def k2_lattices(hlg: k2.Fsa, log_probs: list[np.ndarray], search_beam: float = 20.0, output_beam: float = 8.0,
                min_active_states: int = 30, max_active_states: int = 10000) -> k2.Fsa:
    """Pruned lattices (an FsaVec) of `hlg` ∩ log-probs; `lm_scores` on their arcs carry the graph's part of the scores.

    The graph part is all of HLG's weight (lexicon and LM), as icefall's whole-lattice rescoring assumes.
    """
    if int(hlg.labels.max()) >= log_probs[0].shape[1]:
        raise AsrflowError(f"CTC log-probs have {log_probs[0].shape[1]} outputs but the graph uses label "
                           f"{int(hlg.labels.max())}; the network's output size must be num_ctc_outputs() of the "
                           "lang dir the graph was built from")
    hlg = hlg.clone()
    hlg.lm_scores = hlg.scores.clone()
    return k2.intersect_dense_pruned(hlg, _dense(log_probs), search_beam=search_beam, output_beam=output_beam,
                                     min_active_states=min_active_states, max_active_states=max_active_states)


def best_words(paths: k2.Fsa) -> list[list[int]]:
    """Word ids (positive aux labels) along each best path of an FsaVec; [] where pruning left no path."""
    out = []
    for i in range(paths.shape[0]):
        aux = paths[i].aux_labels
        values = aux.values if isinstance(aux, k2.RaggedTensor) else aux
        out.append([int(x) for x in values.tolist() if x > 0])
    return out


def k2_decode(hlg: k2.Fsa, log_probs: list[np.ndarray], search_beam: float = 20.0, output_beam: float = 8.0,
              min_active_states: int = 30, max_active_states: int = 10000) -> list[list[int]]:
    """1-best aux labels (words for HL/HLG, phones for H) per utterance; [] where pruning left no path."""
    lattice = k2_lattices(hlg, log_probs, search_beam, output_beam, min_active_states, max_active_states)
    return best_words(k2.shortest_path(lattice, use_double_scores=True))


def k2_word_lm(g_fst: kaldifst.StdVectorFst, first_disambig: int) -> k2.Fsa:
    """A word acceptor for rescoring from an OpenFST G: back-off #0 (and every id >= `first_disambig`) becomes
    epsilon, epsilon self-loops let lattice epsilons through, and `lm_scores` = its scores (natural log)."""
    g = k2.Fsa.from_openfst(g_fst.to_str(), acceptor=False)
    del g.aux_labels
    labels = g.labels.clone()
    labels[labels >= first_disambig] = 0
    g.labels = labels
    g = k2.arc_sort(k2.add_epsilon_self_loops(k2.arc_sort(k2.connect(g))))
    g.lm_scores = g.scores.clone()
    return g


def raw_lattice_to_k2(lat: "RawLattice") -> k2.Fsa:
    """k2 form of a kaldi-decoder raw lattice: labels = transition ids, aux_labels = words, scores = −(graph +
    acoustic) costs, `lm_scores` = −graph costs; final weights move onto arcs (label −1) into one new final state,
    and states are renumbered in topological order."""
    final = int(max(lat.src.max(initial=0), lat.dst.max(initial=0), lat.start)) + 1
    renum = np.arange(final + 1)  # k2 wants the start state to be state 0: swap it with state 0
    renum[[0, lat.start]] = renum[[lat.start, 0]]
    src = np.concatenate([renum[lat.src], renum[lat.final_state]])
    dst = np.concatenate([renum[lat.dst], np.full(len(lat.final_state), final)])
    labels = np.concatenate([lat.ilabel, np.full(len(lat.final_state), -1)])
    words = np.concatenate([lat.olabel, np.full(len(lat.final_state), -1)])
    graph = np.concatenate([lat.graph, lat.final_graph])
    total = graph + np.concatenate([lat.acoustic, lat.final_acoustic])
    sort = np.argsort(src, kind="stable")  # k2 wants arcs grouped by source state
    arcs = np.stack([src, dst, labels, np.zeros_like(src)], axis=1)[sort].astype(np.int32)
    fsa = k2.Fsa(torch.from_numpy(arcs))
    fsa.scores = torch.from_numpy(-total[sort].astype(np.float32))
    fsa.aux_labels = torch.from_numpy(words[sort].astype(np.int32))
    fsa.lm_scores = torch.from_numpy(-graph[sort].astype(np.float32))
    return k2.top_sort(k2.connect(fsa))  # raw lattices are acyclic but not numbered in topological order


def rescore_lattices(lattice: k2.Fsa, word_lm: k2.Fsa) -> list[list[int]]:
    """Whole-lattice rescoring (icefall's, Kaldi lmrescore semantics): drop the first-pass graph scores, compose the
    lattices' word sequences with `word_lm` (`k2_word_lm`), best path of acoustic + new LM scores.

    Utterances whose lattice has no word sequence the new LM accepts get [].
    """
    lat = lattice.clone()
    lat.scores = lat.scores - lat.lm_scores  # acoustic scores only
    del lat.lm_scores
    inv = k2.arc_sort(k2.invert(lat))  # labels = words, aux_labels = network outputs
    index = torch.zeros(inv.shape[0], dtype=torch.int32)
    rescored = k2.intersect_device(k2.create_fsa_vec([word_lm]), inv, index, sorted_match_a=True)
    rescored = k2.invert(k2.top_sort(k2.connect(rescored)))  # back to labels = outputs, aux_labels = words
    return best_words(k2.shortest_path(rescored, use_double_scores=True))


def k2_ctc_loss(log_probs: torch.Tensor, log_probs_lens: torch.Tensor, targets: list[list[int]]) -> torch.Tensor:
    """Per-utterance CTC negative log-likelihood (blank 0) of float32 (N, T, V) log-probs; differentiable.

    Sums over all alignments in the log semiring (k2.ctc_graph ∩ DenseFsaVec, no pruning), so it equals
    torch.nn.functional.ctc_loss(reduction="none", blank=0); infeasible targets give +inf.
    """
    lens = torch.as_tensor(log_probs_lens, dtype=torch.int32).cpu()
    order = torch.argsort(lens, descending=True)  # intersect_dense wants segments by decreasing duration
    segments = torch.stack([order.to(torch.int32), torch.zeros_like(lens), lens[order]], dim=1)
    graphs = k2.ctc_graph([targets[i] for i in order.tolist()], modified=False, device=log_probs.device)
    lattice = k2.intersect_dense(graphs, k2.DenseFsaVec(log_probs, segments), output_beam=float("inf"))
    scores = lattice.get_tot_scores(log_semiring=True, use_double_scores=True)
    return -scores[torch.argsort(order)].to(log_probs.dtype)
