"""The TDNN keeps the time axis, sees exactly its stated context, and treats padded batches like single utterances."""

from __future__ import annotations

import pytest
import torch

from asrflow.common import AsrflowError
from asrflow.nnet.model import Tdnn, pad_utterances

CONTEXTS = ((2, 1), (1, 1), (1, 3))  # 2 + 1 + 3 = 6 frames each side


def random_model(subsampling: int = 1, seed: int = 0) -> Tdnn:
    """An eval-mode TDNN with random weights, normalisation and BatchNorm statistics."""
    torch.manual_seed(seed)
    model = Tdnn(5, 7, hidden_dim=32, contexts=CONTEXTS, subsampling=subsampling)
    model.set_normalization(torch.randn(5), torch.rand(5) + 0.5)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("frames", [1, 2, 5, 6, 13, 40])
def test_output_keeps_the_number_of_frames(frames: int) -> None:
    out = random_model()(torch.randn(3, frames, 5))
    assert out.shape == (3, frames, 7)
    assert torch.isfinite(out).all()


def test_context_is_the_sum_of_the_layers_spans() -> None:
    assert random_model().context == (6, 6)
    assert Tdnn(40, 10).context == (13, 13)  # Kaldi's default tdnn splicing: 2+1+1+3+3+3
    assert Tdnn(40, 10, contexts=((0, 1),)).context == (0, 0)


@pytest.mark.parametrize("t", [0, 3, 25, 49])
def test_a_frame_reaches_exactly_the_outputs_within_its_context(t: int) -> None:
    model = random_model()
    x = torch.randn(1, 50, 5)
    changed = x.clone()
    changed[0, t] += 3.0
    with torch.no_grad():
        moved = (model(changed) - model(x)).abs().amax(-1)[0] > 1e-6
    left, right = model.context
    expected = torch.zeros(50, dtype=torch.bool)
    expected[max(t - right, 0):t + left + 1] = True
    assert torch.equal(moved, expected)


def test_padded_batch_gives_each_utterance_its_own_outputs() -> None:
    model = random_model()
    utts = [torch.randn(9, 5), torch.randn(30, 5), torch.randn(2, 5)]
    batch = pad_utterances(utts)
    assert batch.shape == (3, 30, 5)
    with torch.no_grad():
        out = model(batch)
        for i, u in enumerate(utts):
            torch.testing.assert_close(out[i, :len(u)], model(u[None])[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("frames", [1, 2, 3, 10, 31])
def test_subsampling_emits_every_sth_frame(frames: int) -> None:
    full, sub = random_model(), random_model(subsampling=3)
    sub.load_state_dict(full.state_dict())
    x = torch.randn(2, frames, 5)
    with torch.no_grad():
        out = sub(x)
        assert out.shape == (2, -(-frames // 3), 7)
        torch.testing.assert_close(out, full(x)[:, ::3], atol=1e-5, rtol=1e-5)


def test_normalisation_is_applied_to_raw_features() -> None:
    model = random_model()
    mean, std = torch.randn(5), torch.rand(5) + 0.5
    x = torch.randn(1, 12, 5)
    model.set_normalization(mean, std)
    shifted = random_model()
    shifted.set_normalization(torch.zeros(5), torch.ones(5))
    with torch.no_grad():
        torch.testing.assert_close(model(x * std + mean), shifted(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kwargs", [{"contexts": ()}, {"contexts": ((1, 0),)}, {"dropout": 1.0},
                                    {"subsampling": 0}, {"hidden_dim": 0}])
def test_bad_architecture_is_a_user_error(kwargs: dict) -> None:
    with pytest.raises(AsrflowError):
        Tdnn(5, 7, **kwargs)
