"""CLI of the graph stage: HCLG.fst from a lang dir, G.fst and an acoustic model (Kaldi's mkgraph.sh)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asrflow.common import cli_main
from asrflow.graph.ctc import build_ctc_graphs
from asrflow.graph.hclg import build_graph


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.graph`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.graph", description=__doc__)
    parser.add_argument("--lang", type=Path, required=True)
    parser.add_argument("--G", type=Path, required=True, dest="g_fst")
    parser.add_argument("--model", type=Path, help="acoustic model (HCLG only)")
    parser.add_argument("--self-loop-scale", type=float, default=0.1)
    parser.add_argument("--out", type=Path, required=True, help="graph directory to write")
    parser.add_argument("--ctc", action="store_true", help="build CTC graphs H, HL, HLG instead (no --model)")
    parser.set_defaults(func=lambda a: build_ctc_graphs(a.lang, a.g_fst, a.out) if a.ctc
                        else build_graph(a.lang, a.g_fst, a.model, a.out, a.self_loop_scale))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.graph", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
