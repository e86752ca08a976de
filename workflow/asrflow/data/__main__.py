"""CLI of the data stage: `prepare` a corpus into parts, compute `features` for one part."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asrflow.common import AsrflowError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse `prepare` / `features` arguments; --cfg is a JSON object (a config section)."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.data")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="prepare a corpus's parts (manifests + Kaldi data dirs)")
    prep.add_argument("--local", type=Path, required=True, help="corpus module, e.g. local/yesno.py")
    prep.add_argument("--corpus-dir", required=True, help="corpus folder, or `none` to download")
    prep.add_argument("--cfg", type=json.loads, required=True, help="JSON config object")
    prep.add_argument("--out", type=Path, required=True, help="output folder (one subfolder per part)")
    feats = sub.add_parser("features", help="compute MFCCs and CMVN stats for one part")
    feats.add_argument("--part-dir", type=Path, required=True)
    feats.add_argument("--cfg", type=json.loads, required=True, help="JSON config object")
    feats.add_argument("--num-jobs", type=int, default=1)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    """Dispatch to the stage functions (imported lazily: Lhotse is slow to import)."""
    if args.command == "prepare":
        from asrflow.data.corpus import prepare_parts

        corpus_dir = None if args.corpus_dir.lower() == "none" else Path(args.corpus_dir)
        prepare_parts(args.local, corpus_dir, args.cfg, args.out)
    else:
        from asrflow.data.features import compute_features

        compute_features(args.part_dir, args.cfg, args.num_jobs)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print their message (no traceback) and exit 1."""
    try:
        run(parse_args(argv))
    except AsrflowError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
