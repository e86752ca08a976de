"""CLI of the LM stage: `train` (or copy a hand-written ARPA), `G` (compile G.fst) and `grammar` (G from a
command grammar)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asrflow.common import AsrflowError, cli_main, read_kaldi_table, write_text_atomic
from asrflow.lm.arpa import log, problems, read_arpa
from asrflow.lm.commands import grammar_to_G
from asrflow.lm.grammar import arpa_to_G
from asrflow.lm.train import train_arpa

SOURCES = ("train_text", "text", "arpa")


def read_transcripts(text_file: Path) -> list[str]:
    """Return the word sequences of a Kaldi `text` file (`utt-id WORD WORD ...`), dropping the ids."""
    return list(read_kaldi_table(text_file).values())


def read_sentences(path: Path) -> list[str]:
    """Return the non-empty lines of a plain text file (one sentence a line, words separated by spaces)."""
    if not path.is_file():
        raise AsrflowError(f"LM text {path} does not exist: set lm.text to a file with one sentence a line")
    sentences = [" ".join(line.split()) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not sentences:
        raise AsrflowError(f"LM text {path} has no sentences")
    return sentences


def parse_cfg(text: str) -> dict:
    """Parse and check the LM config JSON (`name`, `source`, `order`, `discount`, `arpa`, optional `prune`)."""
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise AsrflowError(f"--cfg is not valid JSON: {e}") from e
    if not isinstance(cfg, dict) or cfg.get("source") not in SOURCES:
        raise AsrflowError(f"LM config needs 'source' in {SOURCES}: {text}")
    if cfg["source"] == "arpa" and not cfg.get("arpa"):
        raise AsrflowError(f"LM config {cfg.get('name')!r} has source 'arpa' but no 'arpa' path")
    if cfg["source"] == "text" and not cfg.get("text"):
        raise AsrflowError(f"LM config {cfg.get('name')!r} has source 'text' but no 'text' path (one sentence a line)")
    if cfg["source"] in ("train_text", "text") and not isinstance(cfg.get("order"), int):
        raise AsrflowError(f"LM config {cfg.get('name')!r} needs an integer 'order'")
    return cfg


def copy_arpa(src: Path, out_arpa: Path) -> None:
    """Validate a hand-written ARPA file and copy it atomically; non-normalised probabilities only warn."""
    lm = read_arpa(src)
    for problem in problems(lm):
        log.warning("%s: %s", src, problem)
    write_text_atomic(out_arpa, src.read_text(encoding="utf-8"))


def cmd_train(args: argparse.Namespace) -> None:
    """Train (source train_text) or copy (source arpa) the LM named in --cfg."""
    cfg = parse_cfg(args.cfg)
    if cfg["source"] == "arpa":
        copy_arpa(Path(cfg["arpa"]), args.out_arpa)
        return
    if cfg["source"] == "text":
        sentences = read_sentences(Path(cfg["text"]))
    elif args.text is None:
        raise AsrflowError(f"LM config {cfg.get('name')!r} trains on the training transcripts: give --text")
    else:
        sentences = read_transcripts(args.text)
    train_arpa(
        sentences, cfg["order"], args.out_arpa,
        discount=cfg.get("discount") or "kneser_ney", prune=float(cfg.get("prune") or 0.0),
    )


def cmd_g(args: argparse.Namespace) -> None:
    """Compile G.fst from an ARPA file and words.txt."""
    arpa_to_G(args.arpa, args.words, args.out)


def cmd_grammar(args: argparse.Namespace) -> None:
    """Compile G.fst from a command grammar file and words.txt."""
    grammar_to_G(args.grammar, args.words, args.out)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with its `train`, `G` and `grammar` subcommands."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.lm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an ARPA LM on a Kaldi text file, or copy a given ARPA")
    train.add_argument("--text", type=Path, help="Kaldi text file (utt-id WORD ...); needed for source train_text")
    train.add_argument("--cfg", required=True, help="LM config as JSON")
    train.add_argument("--out-arpa", type=Path, required=True)
    train.set_defaults(func=cmd_train)
    g = sub.add_parser("G", help="compile G.fst from an ARPA LM")
    g.add_argument("--arpa", type=Path, required=True)
    g.add_argument("--words", type=Path, required=True, help="words.txt of the lang directory")
    g.add_argument("--out", type=Path, required=True)
    g.set_defaults(func=cmd_g)
    gr = sub.add_parser("grammar", help="compile G.fst from a command grammar (asrflow.lm.commands)")
    gr.add_argument("--grammar", type=Path, required=True)
    gr.add_argument("--words", type=Path, required=True, help="words.txt of the lang directory")
    gr.add_argument("--out", type=Path, required=True)
    gr.set_defaults(func=cmd_grammar)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.lm", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
