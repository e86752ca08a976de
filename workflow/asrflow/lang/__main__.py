"""CLI of the lang stage: lexicon (Kaldi file, Sphinx dictionary, CMUdict or graphemes) + training text → lang dir."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asrflow.common import AsrflowError, cli_main, get_logger, parse_json_arg, read_kaldi_table
from asrflow.lang.lexicon import (Lexicon, check_oov, cmudict_lexicon, find_oov, grapheme_lexicon, read_lexicon,
                                  read_sphinx_dict)
from asrflow.lang.prepare import LangConfig, prepare_lang

log = get_logger("asrflow.lang")
SOURCES = ("file", "sphinx", "cmudict", "grapheme")
OOV_POLICIES = ("error", "unk")


def load_lexicon(cfg: dict, texts: dict[str, str]) -> Lexicon:
    """The lexicon named by the `lexicon` config section; CMUdict and graphemes cover exactly the training words."""
    source = cfg.get("source")
    words = {w for t in texts.values() for w in t.split()}
    if source == "file":
        return read_lexicon(Path(cfg["path"]))
    if source == "sphinx":
        return read_sphinx_dict(Path(cfg["path"]))
    if source == "cmudict":
        return cmudict_lexicon(words)
    if source == "grapheme":
        return grapheme_lexicon(words)
    raise AsrflowError(f"lexicon.source must be one of {', '.join(SOURCES)}, got {source!r}")


def cmd_prepare(args: argparse.Namespace) -> None:
    """Build the lang dir; OOV words of the training transcripts are an error, or (oov: unk) map to the OOV word."""
    texts = read_kaldi_table(args.train_text)
    cfg = parse_json_arg(args.lexicon, "--lexicon")
    policy = cfg.get("oov", "error")
    if policy not in OOV_POLICIES:
        raise AsrflowError(f"lexicon.oov must be one of {', '.join(OOV_POLICIES)}, got {policy!r}")
    lexicon = load_lexicon(cfg, texts)
    lang = LangConfig.from_dict(parse_json_arg(args.cfg, "--cfg"))
    if policy == "error":
        check_oov(lexicon, texts, f"the training transcripts {args.train_text}")
    elif oov := find_oov(lexicon, texts):
        if not lang.oov_word:
            raise AsrflowError("lexicon.oov is unk but lang.oov_word is empty: name the OOV word (e.g. <UNK>)")
        log.warning("%d OOV word(s) in %s map to %s: %s", len(oov), args.train_text, lang.oov_word,
                    " ".join(sorted(oov)[:30]))
    prepare_lang(lexicon, args.out, lang)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.lang`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.lang", description=__doc__)
    parser.add_argument("--lexicon", required=True, help="lexicon config as JSON ({source, path, oov})")
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
