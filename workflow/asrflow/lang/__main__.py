"""CLI of the lang stage: lexicon (file or CMUdict) + training text → Kaldi lang directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asrflow.common import AsrflowError, cli_main, parse_json_arg, read_kaldi_table
from asrflow.lang.lexicon import Lexicon, check_oov, cmudict_lexicon, read_lexicon
from asrflow.lang.prepare import LangConfig, prepare_lang


def load_lexicon(cfg: dict, texts: dict[str, str]) -> Lexicon:
    """The lexicon named by the `lexicon` config section; CMUdict covers exactly the training words."""
    source = cfg.get("source")
    if source == "file":
        return read_lexicon(Path(cfg["path"]))
    if source == "cmudict":
        return cmudict_lexicon({w for t in texts.values() for w in t.split()})
    raise AsrflowError(f"lexicon.source must be 'file' or 'cmudict', got {source!r}")


def cmd_prepare(args: argparse.Namespace) -> None:
    """Build the lang dir, refusing training transcripts with OOV words."""
    texts = read_kaldi_table(args.train_text)
    lexicon = load_lexicon(parse_json_arg(args.lexicon, "--lexicon"), texts)
    check_oov(lexicon, texts, f"the training transcripts {args.train_text}")
    prepare_lang(lexicon, args.out, LangConfig.from_dict(parse_json_arg(args.cfg, "--cfg")))


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.lang`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.lang", description=__doc__)
    parser.add_argument("--lexicon", required=True, help="lexicon config as JSON ({source, path})")
    parser.add_argument("--cfg", required=True, help="lang config as JSON")
    parser.add_argument("--train-text", type=Path, required=True, help="Kaldi text file of the training part")
    parser.add_argument("--out", type=Path, required=True, help="lang directory to write")
    parser.set_defaults(func=cmd_prepare)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.lang", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
