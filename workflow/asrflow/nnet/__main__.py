"""CLI of the neural stages: `hybrid` (TDNN on a SAT stage's alignments) and `ctc` (phone CTC or LF-MMI TDNN)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import kaldifst  # noqa: F401  # the Kaldi wheels must be imported before torch (see tests/test_toolchain.py)
import numpy as np

from asrflow.common import atomic_path, cli_main, load_arrays, parse_json_arg, write_json_atomic
from asrflow.gmm.model import AcousticModel
from asrflow.nnet.ctc import CtcConfig, train_ctc_model
from asrflow.nnet.export import export_onnx, export_torchscript
from asrflow.nnet.hybrid import HybridConfig, train_hybrid
from asrflow.nnet.train import TrainConfig, TrainResult, plot_history, save_model


def save_network(result: TrainResult, cfg: TrainConfig, out: Path, title: str) -> None:
    """Write a trained network's log, curve and exports, then the checkpoint (the rule's main target) last."""
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "train_log.json", result.history)
    plot_history(result.history, out / "training_curve.png", title)
    export_torchscript(result.model, out / "final.ts")
    export_onnx(result.model, out / "final.onnx", result.model.input_dim)
    save_model(result.model, cfg, out / "final.pt")


def with_run_settings(nnet: TrainConfig, args: argparse.Namespace) -> TrainConfig:
    """The training config with the run's seed and thread count (they are not config-file knobs)."""
    return replace(nnet, seed=args.seed, num_threads=args.num_threads)


def cmd_hybrid(args: argparse.Namespace) -> None:
    """Train the hybrid TDNN; write prior.npy, then the network (`save_network`)."""
    cfg = HybridConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    cfg = replace(cfg, nnet=with_run_settings(cfg.nnet, args))
    gmm = AcousticModel.load(args.gmm_dir / "final.mdl")
    result, prior = train_hybrid(args.data, gmm, load_arrays(args.ali_dir / "ali.npz"),
                                 load_arrays(args.ali_dir / "trans.npz"), cfg)
    with atomic_path(args.out / "prior.npy") as tmp:
        with open(tmp, "wb") as f:
            np.save(f, prior)
    save_network(result, cfg.nnet, args.out, f"hybrid TDNN on {cfg.align_from} alignments")


def cmd_ctc(args: argparse.Namespace) -> None:
    """Train the phone CTC (or LF-MMI) TDNN; write features.json, then the network (`save_network`)."""
    cfg = CtcConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    cfg = replace(cfg, nnet=with_run_settings(cfg.nnet, args))
    result = train_ctc_model(args.data, args.lang, cfg)
    write_json_atomic(args.out / "features.json", cfg.features)
    save_network(result, cfg.nnet, args.out, f"{cfg.objective.upper()} TDNN over phones")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.nnet`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.nnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    hy = sub.add_parser("hybrid", help="train a hybrid TDNN-HMM on a SAT stage's alignments")
    hy.add_argument("--gmm-dir", type=Path, required=True, help="the GMM stage's exp dir (final.mdl)")
    hy.add_argument("--ali-dir", type=Path, required=True, help="its alignments of --data (ali.npz, trans.npz)")
    hy.set_defaults(func=cmd_hybrid)
    ct = sub.add_parser("ctc", help="train a CTC or LF-MMI (objective in --cfg) TDNN over the lang dir's phones")
    ct.add_argument("--lang", type=Path, required=True, help="lang directory (phones, L.fst)")
    ct.set_defaults(func=cmd_ctc)
    for p, name in ((hy, "hybrid"), (ct, "ctc")):
        p.add_argument("--data", type=Path, required=True, help="training part dir")
        p.add_argument("--cfg", required=True, help=f"{name} config section as JSON")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--num-threads", type=int, default=1)
        p.add_argument("--out", type=Path, required=True, help=f"experiment dir, e.g. exp/{name}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.nnet", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
