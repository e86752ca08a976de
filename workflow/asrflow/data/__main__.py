"""CLI of the data stage: `synth` the offline digits corpus, `prepare` a corpus into parts, `speed_perturb` a part
into a new one (train_sp), `features` for one part."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asrflow.common import cli_main, parse_json_arg


def cmd_synth(args: argparse.Namespace) -> None:
    """Synthesize the eSpeak NG digits corpus."""
    from asrflow.data.synth import synthesize_corpus

    synthesize_corpus(args.out, parse_json_arg(args.cfg, "--cfg"), args.seed, args.num_jobs)


def cmd_prepare(args: argparse.Namespace) -> None:
    """Prepare, validate and write a corpus's parts (imported lazily: Lhotse is slow to import)."""
    from asrflow.data.corpus import prepare_parts

    corpus_dir = None if args.corpus_dir.lower() == "none" else Path(args.corpus_dir)
    prepare_parts(args.local, corpus_dir, parse_json_arg(args.cfg, "--cfg"), args.out)


def cmd_speed_perturb(args: argparse.Namespace) -> None:
    """Write a part with speed-perturbed copies of another's utterances."""
    from asrflow.data.corpus import perturb_part

    perturb_part(args.src, args.factors, args.out)


def cmd_features(args: argparse.Namespace) -> None:
    """Compute MFCCs and CMVN statistics for one part."""
    from asrflow.data.features import compute_features

    compute_features(args.part_dir, parse_json_arg(args.cfg, "--cfg"), args.num_jobs)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.data`; --cfg is a JSON object (a config section)."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    synth = sub.add_parser("synth", help="synthesize the offline digits corpus with eSpeak NG")
    synth.add_argument("--out", type=Path, required=True, help="corpus folder to create")
    synth.add_argument("--cfg", required=True, help="JSON config object (section `synth` + sample_rate)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--num-jobs", type=int, default=1)
    synth.set_defaults(func=cmd_synth)
    prep = sub.add_parser("prepare", help="prepare a corpus's parts (manifests + Kaldi data dirs)")
    prep.add_argument("--local", type=Path, required=True, help="corpus module, e.g. local/yesno.py")
    prep.add_argument("--corpus-dir", required=True, help="corpus folder, or `none` to download")
    prep.add_argument("--cfg", required=True, help="JSON config object")
    prep.add_argument("--out", type=Path, required=True, help="output folder (one subfolder per part)")
    prep.set_defaults(func=cmd_prepare)
    sp = sub.add_parser("speed_perturb", help="a part plus speed-perturbed copies of it, e.g. train -> train_sp")
    sp.add_argument("--src", type=Path, required=True, help="the part to copy, e.g. results/<recipe>/data/train")
    sp.add_argument("--factors", type=float, nargs="+", required=True, help="speed factors, e.g. 0.9 1.1")
    sp.add_argument("--out", type=Path, required=True, help="the new part's folder")
    sp.set_defaults(func=cmd_speed_perturb)
    feats = sub.add_parser("features", help="compute MFCCs and CMVN stats for one part")
    feats.add_argument("--part-dir", type=Path, required=True)
    feats.add_argument("--cfg", required=True, help="JSON config object")
    feats.add_argument("--num-jobs", type=int, default=1)
    feats.set_defaults(func=cmd_features)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.data", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
