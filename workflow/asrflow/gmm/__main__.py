"""CLI of the GMM stage: `mono` trains a monophone system and writes model, tree, alignments, log."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from asrflow.common import AsrflowError, atomic_path, cli_main, parse_json_arg
from asrflow.data.features import load_features, load_utterances
from asrflow.gmm.model import write_kaldi_tree
from asrflow.gmm.mono import MonoConfig, train_mono, write_history


def cmd_mono(args: argparse.Namespace) -> None:
    """Train the monophone system on a data part and save it under --out."""
    cfg = MonoConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    feats = load_features(args.data, **cfg.features)
    utts = [(u.id, u.text, feats[u.id]) for u in load_utterances(args.data)]
    if not utts:
        raise AsrflowError(f"no training utterances in {args.data}")
    model, alignments, history = train_mono(utts, args.lang, cfg, args.seed, args.num_jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    write_history(history, args.out / "train_log.json")
    write_kaldi_tree(model.tree, args.out / "tree")
    with atomic_path(args.out / "ali.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **alignments)
    model.save(args.out / "final.mdl")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.gmm`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.gmm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    mono = sub.add_parser("mono", help="train a monophone HMM-GMM system")
    mono.add_argument("--data", type=Path, required=True, help="training part dir (cuts with features, cmvn)")
    mono.add_argument("--lang", type=Path, required=True, help="lang directory")
    mono.add_argument("--cfg", required=True, help="mono config as JSON")
    mono.add_argument("--seed", type=int, default=0)
    mono.add_argument("--num-jobs", type=int, default=1, help="worker processes (utterance shards)")
    mono.add_argument("--out", type=Path, required=True, help="experiment dir, e.g. exp/mono")
    mono.set_defaults(func=cmd_mono)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.gmm", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
