"""Kaldi nnet3-style TDNN acoustic model: dilated 1-D convolutions over time with the input's global CMVN built in."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from asrflow.common import AsrflowError

# Per layer (half-width k, dilation d), as Kaldi's tdnn recipes splice (-2..2), (-1,0,1), (-1,0,1), then (-3,0,3) x3.
DEFAULT_CONTEXTS: tuple[tuple[int, int], ...] = ((2, 1), (1, 1), (1, 1), (1, 3), (1, 3), (1, 3))


class Tdnn(nn.Module):
    """Kaldi nnet3-style TDNN: 1-D convolutions over time with dilation (frame context), ReLU, BatchNorm, linear output.

    The input is normalised by the buffers `feat_mean`/`feat_scale` (set by training from the training data), so
    callers pass raw features. The time axis is padded once at the input by repeating the first/last frame, as
    Kaldi does, and every layer then convolves without padding, so output frame t sees exactly input frames
    t-left..t+right (clamped to the utterance). With `subsampling` s > 1 the last TDNN layer has stride s and the
    model emits frames 0, s, 2s, ... (ceil(T/s) of them), for CTC; with s = 1 the number of frames is preserved.
    """

    __jit_unused_properties__ = ["context"]  # keep TorchScript from compiling the Python-only property

    def __init__(
        self,
        input_dim: int,
        num_outputs: int,
        hidden_dim: int = 256,
        contexts: tuple[tuple[int, int], ...] = DEFAULT_CONTEXTS,
        dropout: float = 0.1,
        subsampling: int = 1,
    ) -> None:
        super().__init__()
        check_architecture(input_dim, num_outputs, hidden_dim, contexts, dropout, subsampling)
        self.input_dim = input_dim
        self.num_outputs = num_outputs
        self.hidden_dim = hidden_dim
        self.contexts = tuple((int(k), int(d)) for k, d in contexts)
        self.dropout = dropout
        self.subsampling = subsampling
        self.pad = sum(k * d for k, d in self.contexts)
        self.register_buffer("feat_mean", torch.zeros(input_dim))
        self.register_buffer("feat_scale", torch.ones(input_dim))
        layers: list[nn.Module] = []
        in_dim = input_dim
        for i, (k, d) in enumerate(self.contexts):
            stride = subsampling if i == len(self.contexts) - 1 else 1
            layers += [nn.Conv1d(in_dim, hidden_dim, 2 * k + 1, stride=stride, dilation=d),
                       nn.ReLU(), nn.BatchNorm1d(hidden_dim), nn.Dropout(dropout)]
            in_dim = hidden_dim
        self.tdnn = nn.Sequential(*layers)
        self.output = nn.Linear(hidden_dim, num_outputs)

    @property
    def context(self) -> tuple[int, int]:
        """Total (left, right) frames of input context each output frame sees."""
        return self.pad, self.pad

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store the global feature mean and standard deviation applied to raw input features."""
        self.feat_mean.copy_(mean)
        self.feat_scale.copy_(1.0 / std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map raw features (N, T, input_dim) to logits (N, ceil(T / subsampling), num_outputs)."""
        x = ((x - self.feat_mean) * self.feat_scale).transpose(1, 2)
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        return self.output(self.tdnn(x).transpose(1, 2))


def check_architecture(
    input_dim: int,
    num_outputs: int,
    hidden_dim: int,
    contexts: tuple[tuple[int, int], ...],
    dropout: float,
    subsampling: int,
) -> None:
    """Reject a TDNN shape that cannot be built, naming the offending setting."""
    if input_dim < 1 or num_outputs < 1 or hidden_dim < 1:
        raise AsrflowError(f"TDNN sizes must be positive: input_dim={input_dim}, num_outputs={num_outputs}, "
                           f"hidden_dim={hidden_dim}")
    if not contexts or any(len(c) != 2 or c[0] < 0 or c[1] < 1 for c in contexts):
        raise AsrflowError(f"TDNN contexts must be a non-empty list of [half_width >= 0, dilation >= 1] pairs, "
                           f"got {contexts!r}")
    if not 0.0 <= dropout < 1.0:
        raise AsrflowError(f"dropout must be in [0, 1), got {dropout}")
    if subsampling < 1:
        raise AsrflowError(f"subsampling must be >= 1, got {subsampling}")


def pad_utterances(feats: list[torch.Tensor]) -> torch.Tensor:
    """Stack (T_i, D) matrices into (N, max T_i, D), repeating each one's last frame.

    Padding with the edge frame (not zeros) makes a padded utterance's real frames get the same outputs as the
    utterance alone in eval mode, since the model itself pads that way.
    """
    longest = max(len(f) for f in feats)
    return torch.stack([torch.cat([f, f[-1:].expand(longest - len(f), -1)]) for f in feats])
