"""k2 LF-MMI and graph CTC objectives over the CTC phone outputs (blank = 0, k2 label = output index = phone id).

The denominator graph is ctc_topo ∘ P, P an add-one smoothed phone bigram, built once. The numerator of an
utterance is ctc_topo ∘ its phone sequence, or ctc_topo ∘ a phone acceptor of the transcript (every path of L:
optional silences, alternative pronunciations — icefall's training graphs); no P in it, unlike icefall's
ctc_topo ∘ P ∘ transcript, so with den_scale = 0 the loss is exactly the CTC loss over the numerator. Because
P's log-probs are in the denominator only, the loss is not bounded below by 0: a perfect model reaches about
log P(targets) < 0.
"""

from __future__ import annotations

# kaldifst before k2 and torch: other orders can deadlock at import with these wheels.
import kaldifst
import k2
import numpy as np
import torch

from asrflow.common import AsrflowError


def _check_sequences(sequences: list[list[int]], num_outputs: int, what: str) -> None:
    """Raise if a phone id is outside 1..num_outputs-1, so graphs and network outputs agree."""
    if num_outputs < 2:
        raise AsrflowError(f"num_outputs is {num_outputs}; it must be max phone id + 1 (>= 2), blank being 0")
    for i, seq in enumerate(sequences):
        bad = [p for p in seq if not 1 <= p < num_outputs]
        if bad:
            raise AsrflowError(f"{what} {i} has phone id(s) {bad[:5]} outside 1..{num_outputs - 1}; drop blank/"
                               "epsilon (0) from the sequences or set num_outputs to the max phone id + 1")


def phone_bigram(sequences: list[list[int]], num_outputs: int) -> k2.Fsa:
    """Add-one smoothed phone bigram acceptor P (log-prob scores): the LM of the MMI denominator graph.

    State 0 is the start (context <s>), state p the context "last phone was p", state num_outputs the final
    state; every state has an arc to each phone 1..num_outputs-1 and one to the final state (</s>), with
    probabilities (count + 1) / (context count + num_outputs), so each state's arcs sum to 1.
    """
    _check_sequences(sequences, num_outputs, "P training sequence")
    counts = np.ones((num_outputs, num_outputs))  # [context, next]: context 0 = <s>, next 0 = </s>
    for seq in sequences:
        np.add.at(counts, ([0, *seq], [*seq, 0]), 1.0)
    log_probs = np.log(counts / counts.sum(axis=1, keepdims=True))
    lines = []
    for ctx in range(num_outputs):
        lines += [f"{ctx} {nxt} {nxt} {log_probs[ctx, nxt]:.8g}" for nxt in range(1, num_outputs)]
        lines.append(f"{ctx} {num_outputs} -1 {log_probs[ctx, 0]:.8g}")
    lines.append(str(num_outputs))
    return k2.arc_sort(k2.Fsa.from_str("\n".join(lines), acceptor=True))


class MmiGraphs:
    """The LF-MMI graphs: the denominator ctc_topo ∘ P (built once) and per-batch numerators."""

    def __init__(self, sequences_for_p: list[list[int]], num_outputs: int) -> None:
        self.num_outputs = num_outputs
        self.topo = k2.arc_sort(k2.ctc_topo(num_outputs - 1, modified=False))
        p = k2.add_epsilon_self_loops(phone_bigram(sequences_for_p, num_outputs))  # eps = topo's blank/repeat
        den = k2.compose(self.topo, k2.arc_sort(p), treat_epsilons_specially=False)
        del den.aux_labels  # phone outputs are not needed for scoring
        self._den = k2.create_fsa_vec([k2.arc_sort(k2.connect(den))])

    @property
    def denominator(self) -> k2.Fsa:
        """The denominator graph ctc_topo ∘ P as a one-FSA FsaVec (labels = output index, scores = log P)."""
        return self._den

    def numerator(self, targets: list[list[int]]) -> k2.Fsa:
        """Per-utterance ctc_topo ∘ linear(targets) (an FsaVec, zero scores): all CTC alignments of each target."""
        _check_sequences(targets, self.num_outputs, "target")
        linear = k2.arc_sort(k2.add_epsilon_self_loops(k2.linear_fsa(targets)))
        num = k2.compose(self.topo, linear, treat_epsilons_specially=False)
        del num.aux_labels
        return k2.arc_sort(k2.connect(num))


def phone_acceptor(fst: kaldifst.StdVectorFst) -> k2.Fsa:
    """k2 copy of an epsilon-free OpenFST phone acceptor (`PhoneTargets.acceptor`): labels = phone ids, scores = -costs."""
    fsa = k2.Fsa.from_openfst(fst.to_str(), acceptor=False)
    del fsa.aux_labels
    return k2.arc_sort(fsa)


def ctc_numerator(acceptor: k2.Fsa, num_outputs: int) -> k2.Fsa:
    """ctc_topo ∘ a phone acceptor (labels 1..num_outputs-1, scores kept): every CTC alignment of every phone path."""
    labels = acceptor.labels[acceptor.labels > 0]
    if len(labels) and (int(labels.min()) < 1 or int(labels.max()) >= num_outputs):
        raise AsrflowError(f"phone acceptor has labels outside 1..{num_outputs - 1}; build it from the same lang dir "
                           "as the network's outputs")
    topo = k2.arc_sort(k2.ctc_topo(num_outputs - 1, modified=False))
    num = k2.compose(topo, k2.arc_sort(k2.add_epsilon_self_loops(acceptor)), treat_epsilons_specially=False)
    del num.aux_labels
    num = k2.arc_sort(k2.connect(num))
    if num.shape[0] == 0:
        raise AsrflowError("phone acceptor accepts nothing; check the transcript against L.fst")
    return num


def _order(lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Utterances by decreasing length (as intersect_dense wants) and their DenseFsaVec segments; checks lengths."""
    lens = torch.as_tensor(lengths, dtype=torch.int32).cpu()
    if bool((lens <= 0).any()):
        raise AsrflowError(f"lengths {lens.tolist()} must be positive; drop empty utterances")
    order = torch.argsort(lens, descending=True)
    return order, torch.stack([order.to(torch.int32), torch.zeros_like(lens), lens[order]], dim=1)


def numerator_log_likelihood(log_probs: torch.Tensor, lengths: torch.Tensor, numerators: list[k2.Fsa],
                             output_beam: float = float("inf")) -> torch.Tensor:
    """Per-utterance log-semiring total of each numerator graph ∩ its log-probs: minus the (graph) CTC loss."""
    if len(numerators) != log_probs.shape[0] or int(torch.as_tensor(lengths).max()) > log_probs.shape[1]:
        raise AsrflowError(f"{len(numerators)} numerators and lengths up to {int(torch.as_tensor(lengths).max())} "
                           f"for log-probs of shape {tuple(log_probs.shape)}; pass one per utterance")
    order, segments = _order(lengths)
    num = k2.create_fsa_vec([numerators[i] for i in order.tolist()]).to(log_probs.device)
    tot = k2.intersect_dense(num, k2.DenseFsaVec(log_probs, segments), output_beam=output_beam).get_tot_scores(
        log_semiring=True, use_double_scores=True)
    return tot[torch.argsort(order)].to(log_probs.dtype)


def lfmmi_loss(log_probs: torch.Tensor, lengths: torch.Tensor, targets: list[list[int]] | None, graphs: MmiGraphs,
               den_scale: float = 1.0, output_beam: float = float("inf"),
               numerators: list[k2.Fsa] | None = None) -> torch.Tensor:
    """Per-utterance LF-MMI loss -(num_tot - den_scale * den_tot) of float32 (N, T, V) log-probs; differentiable.

    The numerators are ctc_topo ∘ linear(targets), or the given `numerators` (`ctc_numerator` graphs, one per
    utterance; then `targets` is unused). Totals are log-semiring sums over all paths of k2.intersect_dense (both
    graphs). `output_beam` prunes each lattice to paths within that many nats of its best one: inf (default) is
    exact; icefall uses 8-10 to save memory on long utterances, which makes the totals slightly too low. The
    denominator lattice has about frames x num_outputs² arcs. Targets too long for their frames give +inf.
    """
    if log_probs.dim() != 3 or log_probs.shape[2] != graphs.num_outputs:
        raise AsrflowError(f"log-probs of shape {tuple(log_probs.shape)} do not match the graphs' "
                           f"{graphs.num_outputs} outputs; build MmiGraphs with the network's output size")
    count = len(numerators) if numerators is not None else len(targets or [])
    if count != log_probs.shape[0]:
        raise AsrflowError(f"{count} targets for {log_probs.shape[0]} utterances; pass one per utterance")
    lens = torch.as_tensor(lengths, dtype=torch.int32).cpu()
    if bool((lens <= 0).any()) or int(lens.max()) > log_probs.shape[1]:
        raise AsrflowError(f"lengths {lens.tolist()} must be in 1..{log_probs.shape[1]}; drop empty utterances")
    if numerators is None:
        vec = graphs.numerator(targets)
        numerators = [vec[i] for i in range(vec.shape[0])]
    num_tot = numerator_log_likelihood(log_probs, lens, numerators, output_beam)
    order, segments = _order(lens)
    copies = torch.zeros(len(numerators), dtype=torch.int32, device=log_probs.device)  # one den graph per utterance
    den = k2.index_fsa(graphs.denominator.to(log_probs.device), copies)
    den_tot = k2.intersect_dense(den, k2.DenseFsaVec(log_probs, segments), output_beam=output_beam).get_tot_scores(
        log_semiring=True, use_double_scores=True)
    return -(num_tot - den_scale * den_tot[torch.argsort(order)].to(log_probs.dtype))
