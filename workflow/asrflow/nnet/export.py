"""Export a trained TDNN to TorchScript and ONNX, and run ONNX models with onnxruntime, for use outside PyTorch."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch

from asrflow.common import AsrflowError, atomic_path
from asrflow.nnet.model import Tdnn

ONNX_OPSET = 13  # has Pad(mode=edge) with dynamic shapes; every onnxruntime since 1.6 runs it


def export_torchscript(model: Tdnn, path: Path) -> None:
    """Write the eval-mode model as TorchScript (scripted, so any batch size and length works), atomically."""
    scripted = torch.jit.script(copy.deepcopy(model).eval())
    with atomic_path(path) as tmp:
        scripted.save(str(tmp))


def export_onnx(model: Tdnn, path: Path, input_dim: int) -> None:
    """Write the eval-mode model as ONNX with input `feats` (N, T, input_dim) and output `logits`, N and T dynamic."""
    if input_dim != model.input_dim:
        raise AsrflowError(f"ONNX export of {path}: input_dim {input_dim} differs from the network's "
                           f"{model.input_dim}; pass the feature dimension it was trained on")
    example = torch.zeros(1, 2 * sum(model.context) + 1, input_dim)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # torch 1.13 builds Pad's pads with a reversing Slice and warns that it cannot constant-fold it: harmless.
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        torch.onnx.export(copy.deepcopy(model).eval(), example, str(tmp), input_names=["feats"],
                          output_names=["logits"], opset_version=ONNX_OPSET,
                          dynamic_axes={"feats": {0: "batch", 1: "time"}, "logits": {0: "batch", 1: "time"}})
        onnx.checker.check_model(str(tmp))


def run_onnx(path: Path, feats: np.ndarray) -> np.ndarray:
    """Run an exported model on the CPU with onnxruntime: raw features (N, T, D) to logits (N, T', V)."""
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 3:
        raise AsrflowError(f"run_onnx needs a (batch, frames, dim) array, got shape {feats.shape}; add a batch axis "
                           f"with feats[None] for one utterance")
    if not Path(path).is_file():
        raise AsrflowError(f"ONNX model {path} does not exist: run the export stage first")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: feats})[0]
