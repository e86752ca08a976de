"""k2 LF-MMI and graph CTC: P is a normalised bigram, den_scale=0 gives CTC, graph CTC sums paths, training improves."""

from __future__ import annotations

# kaldifst before k2 and torch: other orders can deadlock at import with these wheels.
import kaldifst  # noqa: F401
import k2
import pytest
import torch

from asrflow.common import AsrflowError
from asrflow.nnet.mmi import MmiGraphs, ctc_numerator, lfmmi_loss, numerator_log_likelihood, phone_bigram

NUM_OUTPUTS = 6  # blank + phones 1..5
CORPUS = [[1, 2, 3], [2, 3, 4, 5], [1, 1, 2], [5, 4, 3, 2, 1], [3, 3]]
TARGETS = [[1, 2, 3], [2, 2, 4, 5], [5, 1]]
LENGTHS = torch.tensor([9, 12, 5])


def random_log_probs(seed: int) -> torch.Tensor:
    """(utterances, max frames, outputs) log-softmax of seeded random logits."""
    torch.manual_seed(seed)
    return torch.randn(len(TARGETS), int(LENGTHS.max()), NUM_OUTPUTS).log_softmax(-1)


def test_phone_bigram_states_sum_to_one() -> None:
    """Each state's arc probabilities, final arc included, sum to 1, and seen bigrams beat unseen ones."""
    p = phone_bigram(CORPUS, NUM_OUTPUTS)
    src, label = p.arcs.values()[:, 0].long(), p.arcs.values()[:, 2]
    totals = torch.zeros(p.shape[0] - 1, dtype=torch.float64).index_add_(0, src, p.scores.double().exp())
    assert torch.allclose(totals, torch.ones_like(totals), atol=1e-6)
    score = {(int(s), int(lab)): float(x) for s, lab, x in zip(src, label, p.scores)}
    assert score[(2, 3)] > score[(2, 5)]  # 2 -> 3 seen twice, 2 -> 5 never


def test_zero_den_scale_is_ctc() -> None:
    """With den_scale=0 the loss is torch's CTC loss; with den_scale=1 it is finite and smaller."""
    log_probs = random_log_probs(0)
    graphs = MmiGraphs(CORPUS, NUM_OUTPUTS)
    flat = torch.tensor([p for t in TARGETS for p in t])
    ctc = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), flat, LENGTHS,
                                       torch.tensor([len(t) for t in TARGETS]), reduction="none")
    assert torch.allclose(lfmmi_loss(log_probs, LENGTHS, TARGETS, graphs, den_scale=0.0), ctc, atol=1e-3)
    mmi = lfmmi_loss(log_probs, LENGTHS, TARGETS, graphs)
    assert torch.isfinite(mmi).all() and bool((mmi < ctc).all())


def test_gradients_flow() -> None:
    """The loss backpropagates finite, non-zero gradients to the log-probs of every utterance."""
    logits = torch.randn(len(TARGETS), int(LENGTHS.max()), NUM_OUTPUTS, generator=torch.Generator().manual_seed(1),
                         requires_grad=True)
    loss = lfmmi_loss(logits.log_softmax(-1), LENGTHS, TARGETS, MmiGraphs(CORPUS, NUM_OUTPUTS))
    assert loss.requires_grad
    loss.sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert all(float(logits.grad[i, : LENGTHS[i]].abs().sum()) > 0 for i in range(len(TARGETS)))


def test_training_improves_mmi_objective() -> None:
    """Adam on free logits lowers the MMI loss a lot and makes the numerator (the targets) more probable."""
    torch.manual_seed(2)
    logits = torch.nn.Parameter(torch.randn(len(TARGETS), int(LENGTHS.max()), NUM_OUTPUTS))
    graphs = MmiGraphs(CORPUS, NUM_OUTPUTS)
    optimizer = torch.optim.Adam([logits], lr=0.1)

    def losses() -> tuple[float, float]:
        """(summed MMI loss, summed numerator negative log-likelihood) at the current logits."""
        with torch.no_grad():
            log_probs = logits.log_softmax(-1)
            return (float(lfmmi_loss(log_probs, LENGTHS, TARGETS, graphs).sum()),
                    float(lfmmi_loss(log_probs, LENGTHS, TARGETS, graphs, den_scale=0.0).sum()))

    mmi_before, num_before = losses()
    for _ in range(30):
        optimizer.zero_grad()
        lfmmi_loss(logits.log_softmax(-1), LENGTHS, TARGETS, graphs).sum().backward()
        optimizer.step()
    mmi_after, num_after = losses()
    assert mmi_after < mmi_before - 10.0
    assert num_after < num_before - 10.0


def test_bad_inputs_name_the_fix() -> None:
    """Out-of-range phone ids and a mismatched output size raise AsrflowError."""
    with pytest.raises(AsrflowError, match="outside 1..5"):
        phone_bigram([[0, 1]], NUM_OUTPUTS)
    graphs = MmiGraphs(CORPUS, NUM_OUTPUTS)
    with pytest.raises(AsrflowError, match="outputs"):
        lfmmi_loss(torch.zeros(3, 12, NUM_OUTPUTS + 1), LENGTHS, TARGETS, graphs)
    assert isinstance(graphs.denominator, k2.Fsa) and graphs.denominator.shape[0] == 1


def test_graph_ctc_over_a_linear_acceptor_is_torch_ctc() -> None:
    """ctc_topo ∘ a linear phone acceptor, intersected by k2, gives exactly torch's CTC log-likelihood."""
    log_probs = random_log_probs(3)
    numerators = [ctc_numerator(k2.linear_fsa(t), NUM_OUTPUTS) for t in TARGETS]
    flat = torch.tensor([p for t in TARGETS for p in t])
    ctc = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), flat, LENGTHS,
                                       torch.tensor([len(t) for t in TARGETS]), reduction="none")
    assert torch.allclose(-numerator_log_likelihood(log_probs, LENGTHS, numerators), ctc, atol=1e-3)


def test_graph_ctc_sums_the_acceptors_paths() -> None:
    """An acceptor of 1 [4] 2 3 (optional 4) scores log(e^CTC(1 2 3) + e^CTC(1 4 2 3)): every path, every alignment."""
    optional = k2.arc_sort(k2.Fsa.from_str("0 1 1 0\n1 2 4 0\n1 3 2 0\n2 3 2 0\n3 4 3 0\n4 5 -1 0\n5"))
    log_probs = random_log_probs(4)[:1]
    got = numerator_log_likelihood(log_probs, LENGTHS[:1], [ctc_numerator(optional, NUM_OUTPUTS)])
    paths = [numerator_log_likelihood(log_probs, LENGTHS[:1], [ctc_numerator(k2.linear_fsa(t), NUM_OUTPUTS)])
             for t in ([1, 2, 3], [1, 4, 2, 3])]
    assert torch.allclose(got, torch.logaddexp(*paths), atol=1e-4)


def test_ctc_numerator_rejects_labels_beyond_the_outputs() -> None:
    """A phone acceptor built from another lang dir (labels >= num_outputs) fails with a clear error."""
    with pytest.raises(AsrflowError, match="outside 1..5"):
        ctc_numerator(k2.linear_fsa([1, 7]), NUM_OUTPUTS)
