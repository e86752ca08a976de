"""CLI of the scoring stage: `score` one decode against its references, `summarize` scores into the results table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asrflow.common import AsrflowError, cli_main, read_kaldi_table
from asrflow.score.grammar import evaluate_decode
from asrflow.score.table import summarize
from asrflow.score.wer import score, write_scores

DECODE_INFO_KEYS = ("rtf", "lm", "lexicon", "first_pass_lm")


def read_decode_info(path: Path | None) -> dict:
    """Return the rtf (and lm, lexicon, first_pass_lm of a rescored decode, if present) from decode_info.json, or {"rtf": None} without one."""
    if path is None:
        return {"rtf": None}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AsrflowError(f"cannot read decode info {path}: {e}") from e
    if "rtf" not in info:
        raise AsrflowError(f"{path}: no 'rtf' (decoding real-time factor)")
    return {k: info[k] for k in DECODE_INFO_KEYS if k in info}


def parse_published(text: str | None) -> dict[tuple[str, str], float] | None:
    """Parse `{"stage/test_set": wer, ...}` into {(stage, test_set): wer}."""
    if text is None:
        return None
    try:
        raw = json.loads(text)
        published = {}
        for key, wer in raw.items():
            stage, test_set = key.split("/")
            published[(stage, test_set)] = float(wer)
    except (json.JSONDecodeError, AttributeError, ValueError, TypeError) as e:
        raise AsrflowError(f'--published must be JSON like {{"mono/test": 10.61}}: {e}') from e
    return published


def best_of_sweep(refs: dict[str, str], sweep_dir: Path) -> dict:
    """Score every `<lmwt>_<wip>.txt` of a decode's scoring sweep; return the best (Kaldi's best_wer)."""
    best = None
    for path in sorted(sweep_dir.glob("*_*.txt")):
        lmwt, wip = (float(x) for x in path.stem.split("_"))
        wer = score(refs, read_kaldi_table(path), None).total.wer
        if best is None or wer < best["best_wer"]:
            best = {"best_wer": round(wer, 4), "best_lmwt": lmwt, "best_wip": wip}
    if best is None:
        raise AsrflowError(f"no <lmwt>_<wip>.txt hypotheses in {sweep_dir}")
    return best


def cmd_score(args: argparse.Namespace) -> None:
    """Score a hypothesis text file (and the LM-weight sweep, if given) and write the score files."""
    utt2spk = read_kaldi_table(args.utt2spk) if args.utt2spk else None
    refs = read_kaldi_table(args.ref_text)
    result = score(refs, read_kaldi_table(args.hyp), utt2spk)
    info = {"stage": args.stage, "test_set": args.test_set, **read_decode_info(args.decode_info)}
    if args.sweep_dir is not None:
        info.update(best_of_sweep(refs, args.sweep_dir))
    write_scores(result, args.out, info)


def cmd_grammar(args: argparse.Namespace) -> None:
    """Evaluate a command-grammar decode: in-grammar WER and out-of-grammar rejection."""
    info = {"stage": args.stage, "test_set": args.test_set, "lm": args.lm, "lexicon": args.lexicon}
    evaluate_decode(args.ref_text, args.grammar_dir, args.free_dir, args.G, args.words, args.threshold, info, args.out)


def cmd_summarize(args: argparse.Namespace) -> None:
    """Write the results table from score files."""
    summarize(args.scores, args.out_tsv, args.out_md, args.recipe, parse_published(args.published), args.train_logs,
              named_paths(args.lm, "--lm"), named_paths(args.test_text, "--test-text"), named_paths(args.lang, "--lang"),
              args.grammar_reports)


def named_paths(items: list[str], flag: str) -> dict[str, Path]:
    """Parse NAME=PATH arguments into {name: path}."""
    bad = [i for i in items if "=" not in i]
    if bad:
        raise AsrflowError(f"{flag} takes NAME=PATH, got {bad[0]!r}")
    return {name: Path(path) for name, path in (i.split("=", 1) for i in items)}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with its `score` and `summarize` subcommands."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.score", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sc = sub.add_parser("score", help="score one decode")
    sc.add_argument("--ref-text", type=Path, required=True, help="Kaldi text file of references")
    sc.add_argument("--hyp", type=Path, required=True, help="Kaldi text file of hypotheses")
    sc.add_argument("--utt2spk", type=Path, help="for the per-speaker table")
    sc.add_argument("--stage", required=True)
    sc.add_argument("--test-set", required=True)
    sc.add_argument("--decode-info", type=Path, help='JSON with {"rtf": ...} (and optionally lm, lexicon)')
    sc.add_argument("--sweep-dir", type=Path, help="decode's scoring/ dir of <lmwt>_<wip>.txt hypotheses")
    sc.add_argument("--out", type=Path, required=True, help="output directory")
    sc.set_defaults(func=cmd_score)
    gr = sub.add_parser("grammar", help="in-grammar WER and out-of-grammar rejection of a grammar decode")
    gr.add_argument("--ref-text", type=Path, required=True)
    gr.add_argument("--grammar-dir", type=Path, required=True, help="the decode dir with the grammar's G")
    gr.add_argument("--free-dir", type=Path, required=True, help="the same audio decoded with the n-gram LM")
    gr.add_argument("--G", type=Path, required=True, help="the grammar's G.fst (decides which references are in it)")
    gr.add_argument("--words", type=Path, required=True)
    gr.add_argument("--threshold", type=float, required=True, help="reject below -threshold (nats per frame)")
    gr.add_argument("--stage", required=True)
    gr.add_argument("--test-set", required=True)
    gr.add_argument("--lexicon", required=True)
    gr.add_argument("--lm", required=True, help="the grammar's name")
    gr.add_argument("--out", type=Path, required=True, help="grammar.json")
    gr.set_defaults(func=cmd_grammar)
    sm = sub.add_parser("summarize", help="collect scores.json files into wer.tsv and RESULTS.md")
    sm.add_argument("--recipe", required=True)
    sm.add_argument("--out-tsv", type=Path, required=True)
    sm.add_argument("--out-md", type=Path, required=True)
    sm.add_argument("--published", help='published WERs as JSON, e.g. {"mono/test": 10.61}')
    sm.add_argument("--train-logs", type=Path, nargs="*", default=[], help="exp_<lexicon>/<stage>/train_log.json files")
    sm.add_argument("--lm", action="append", default=[], metavar="NAME=ARPA", help="an LM to report perplexities of")
    sm.add_argument("--test-text", action="append", default=[], metavar="SET=TEXT",
                    help="a test set's Kaldi text file, for the perplexities")
    sm.add_argument("--lang", action="append", default=[], metavar="NAME=DIR",
                    help="a lexicon's lang dir, for its size and G2P count")
    sm.add_argument("--grammar-reports", type=Path, nargs="*", default=[], help="grammar.json files")
    sm.add_argument("scores", type=Path, nargs="+", metavar="SCORES_JSON")
    sm.set_defaults(func=cmd_summarize)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.score", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
