"""CLI of the GMM stage: `mono` and `tri` train a system and write model, tree, alignments and logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from asrflow.common import (AsrflowError, cli_main, load_arrays, parse_json_arg, save_arrays, write_json_atomic,
                            write_text_atomic)
from asrflow.data.features import load_features
from asrflow.gmm.model import AcousticModel, write_kaldi_tree
from asrflow.gmm.mono import MonoConfig, train_mono
from asrflow.gmm.shards import Utt
from asrflow.gmm.tri import TriConfig, align_fmllr, train_tri
from asrflow.lang.langdir import LangDir


def phone_durations(model: AcousticModel, alignments: dict[str, np.ndarray], lang: LangDir) -> str:
    """TSV of each phone's count and duration in frames (mean, median, min, max) over the alignments."""
    lengths: dict[int, list[int]] = {}
    for ali in alignments.values():
        for phone, start, end in model.phone_segments(ali):
            lengths.setdefault(phone, []).append(end - start)
    rows = ["phone\tcount\tmean_frames\tmedian_frames\tmin_frames\tmax_frames"]
    for phone in sorted(lengths):
        d = np.array(lengths[phone])
        rows.append(f"{lang.id2phone[phone]}\t{len(d)}\t{d.mean():.1f}\t{np.median(d):g}\t{d.min()}\t{d.max()}")
    return "\n".join(rows) + "\n"


def save_system(out: Path, model: AcousticModel, alignments: dict[str, np.ndarray], history: list[dict],
                lang: LangDir) -> None:
    """Write a stage's outputs; the model last, since it is the rule's main target."""
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "train_log.json", history)
    write_text_atomic(out / "phone_durations.tsv", phone_durations(model, alignments, lang))
    write_kaldi_tree(model.tree, out / "tree")
    save_arrays(alignments, out / "ali.npz")
    model.save(out / "final.mdl")


def cmd_mono(args: argparse.Namespace) -> None:
    """Train the monophone system on a data part and save it under --out."""
    cfg = MonoConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    utts = Utt.of_part(args.data, load_features(args.data, **cfg.features))
    if not utts:
        raise AsrflowError(f"no training utterances in {args.data}")
    model, alignments, history = train_mono(utts, args.lang, cfg, args.seed, args.num_jobs)
    save_system(args.out, model, alignments, history, LangDir(args.lang))


def cmd_tri(args: argparse.Namespace) -> None:
    """Train a triphone stage from the previous stage's model and alignments and save it under --out."""
    cfg = TriConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    prev = AcousticModel.load(args.prev / "final.mdl")
    system = train_tri(args.data, args.lang, prev, load_arrays(args.prev / "ali.npz"), cfg, args.seed, args.num_jobs)
    if system.si_model is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        save_arrays(system.speaker_transforms, args.out / "trans.npz")
        system.si_model.save(args.out / "final.alimdl")
    save_system(args.out, system.model, system.alignments, system.history, LangDir(args.lang))


def cmd_align_fmllr(args: argparse.Namespace) -> None:
    """Align a data part with a SAT stage (two passes, fMLLR per speaker) and save ali.npz + trans.npz."""
    cfg = TriConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    model = AcousticModel.load(args.model_dir / "final.mdl")
    si_model = AcousticModel.load(args.model_dir / "final.alimdl")
    alignments, transforms, _ = align_fmllr(args.data, args.lang, model, si_model, cfg, args.num_jobs)
    if not alignments:
        raise AsrflowError(f"no utterance of {args.data} could be aligned with {args.model_dir}")
    args.out.mkdir(parents=True, exist_ok=True)
    save_arrays(transforms, args.out / "trans.npz")
    save_arrays(alignments, args.out / "ali.npz")


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.gmm`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.gmm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (("mono", cmd_mono, "train a monophone HMM-GMM system"),
                             ("tri", cmd_tri, "train a triphone stage (deltas, lda_mllt or sat)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--data", type=Path, required=True, help="training part dir (cuts with features, cmvn)")
        p.add_argument("--lang", type=Path, required=True, help="lang directory")
        p.add_argument("--cfg", required=True, help="stage config as JSON")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--num-jobs", type=int, default=1, help="worker processes (utterance shards)")
        p.add_argument("--out", type=Path, required=True, help="experiment dir, e.g. exp/tri1")
        if name == "tri":
            p.add_argument("--prev", type=Path, required=True, help="experiment dir of the stage to start from")
        p.set_defaults(func=func)
    al = sub.add_parser("align_fmllr", help="align a data part with a SAT stage (Kaldi's align_fmllr.sh)")
    al.add_argument("--data", type=Path, required=True, help="data part dir to align (transcripts needed)")
    al.add_argument("--lang", type=Path, required=True, help="lang directory")
    al.add_argument("--model-dir", type=Path, required=True, help="SAT experiment dir (final.mdl, final.alimdl)")
    al.add_argument("--cfg", required=True, help="the SAT stage's config as JSON")
    al.add_argument("--num-jobs", type=int, default=1, help="worker processes (speaker shards)")
    al.add_argument("--out", type=Path, required=True, help="alignment dir, e.g. exp/tri3_ali_train")
    al.set_defaults(func=cmd_align_fmllr)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.gmm", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
