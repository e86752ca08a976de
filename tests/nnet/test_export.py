"""TorchScript and ONNX exports compute what the PyTorch model does, for any batch size and length; plots render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from asrflow.common import AsrflowError
from asrflow.nnet.export import export_onnx, export_torchscript, run_onnx
from asrflow.nnet.model import Tdnn, pad_utterances
from asrflow.nnet.train import plot_history


def random_model(subsampling: int = 1) -> Tdnn:
    """An eval-mode TDNN with random weights, normalisation and BatchNorm statistics."""
    torch.manual_seed(0)
    model = Tdnn(8, 11, hidden_dim=32, contexts=((2, 1), (1, 1), (1, 3)), subsampling=subsampling)
    model.set_normalization(torch.randn(8), torch.rand(8) + 0.5)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def inputs() -> list[np.ndarray]:
    """A padded batch of two utterances of different lengths, and one long utterance."""
    rng = np.random.default_rng(0)
    batch = pad_utterances([torch.from_numpy(rng.normal(size=(t, 8)).astype(np.float32)) for t in (17, 40)])
    return [batch.numpy(), rng.normal(size=(1, 600, 8)).astype(np.float32)]


def reference(model: Tdnn, x: np.ndarray) -> np.ndarray:
    """The PyTorch model's logits."""
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


@pytest.mark.parametrize("subsampling", [1, 3])
def test_torchscript_matches_pytorch(tmp_path: Path, subsampling: int) -> None:
    model = random_model(subsampling)
    export_torchscript(model, tmp_path / "model.pt")
    loaded = torch.jit.load(str(tmp_path / "model.pt"))
    for x in inputs():
        with torch.no_grad():
            got = loaded(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, reference(model, x), atol=1e-4, rtol=0)


@pytest.mark.parametrize("subsampling", [1, 3])
def test_onnx_matches_pytorch_with_dynamic_axes(tmp_path: Path, subsampling: int) -> None:
    model = random_model(subsampling)
    export_onnx(model, tmp_path / "model.onnx", 8)
    for x in inputs():
        got = run_onnx(tmp_path / "model.onnx", x)
        assert got.shape == (len(x), -(-x.shape[1] // subsampling), 11)
        np.testing.assert_allclose(got, reference(model, x), atol=1e-4, rtol=0)


def test_export_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(AsrflowError, match="input_dim 5"):
        export_onnx(random_model(), tmp_path / "model.onnx", 5)
    with pytest.raises(AsrflowError, match="does not exist"):
        run_onnx(tmp_path / "missing.onnx", np.zeros((1, 4, 8), dtype=np.float32))
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("with_accuracy", [True, False])
def test_plot_history_writes_a_png(tmp_path: Path, with_accuracy: bool) -> None:
    history = [{"epoch": e, "train_loss": 2.0 / e, "valid_loss": 2.2 / e, "lr": 1e-3, "seconds": 1.0}
               | ({"train_acc": 0.5 + e / 10, "valid_acc": 0.45 + e / 10} if with_accuracy else {})
               for e in range(1, 5)]
    plot_history(history, tmp_path / "curves.png", "tdnn")
    data = (tmp_path / "curves.png").read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
