"""CLI of the decode stage: 1-best decoding of a data part on HCLG (or HLG), and LM rescoring of its lattices."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asrflow.common import AsrflowError, cli_main, parse_json_arg
from asrflow.decode.ctc import CtcDecodeOptions, decode_ctc_part
from asrflow.decode.decoder import DecodeOptions
from asrflow.decode.run import decode_part


def run(a: argparse.Namespace) -> None:
    """Decode with a GMM or hybrid system on HCLG, or with a CTC network on HLG."""
    if a.lattices is not None:
        if a.rescore_G is None:
            raise AsrflowError("--lattices needs --rescore-G, the LM to rescore them with")
        from asrflow.decode.rescore import rescore_part  # k2 only where lattices are rescored

        rescore_part(a.lattices, a.lang, a.rescore_G, a.data, a.out, parse_json_arg(a.info, "--info"))
        return
    if a.graph is None or a.cfg is None:
        raise AsrflowError("--graph and --cfg are required unless --lattices is given")
    cfg = parse_json_arg(a.cfg, "--cfg")
    if a.ctc is not None:
        keys = ["beam", "max_active", "min_active", "acoustic_scale", "lattice_beam"]
        if a.ctc == "kaldi":  # k2's decodes keep no sweep
            keys += ["lmwt_search", "wip_search"]
        opts = CtcDecodeOptions(**{k: tuple(cfg[k]) if isinstance(cfg[k], list) else cfg[k] for k in keys if k in cfg})
        decode_ctc_part(a.graph, a.lang, a.nnet, a.data, opts, a.out, a.ctc, parse_json_arg(a.info, "--info"),
                        a.rescore_G)
        return
    if a.model is None:
        raise AsrflowError("--model is required unless --ctc is given")
    decode_part(a.graph, a.lang, a.model, a.data, DecodeOptions.from_dict(cfg), a.out,
                parse_json_arg(a.info, "--info"), a.si_model, a.nnet, a.transforms)


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of `python -m asrflow.decode`."""
    parser = argparse.ArgumentParser(prog="python -m asrflow.decode", description=__doc__)
    parser.add_argument("--graph", type=Path, help="graph dir holding HCLG.fst (HLG.fst with --ctc)")
    parser.add_argument("--lang", type=Path, required=True)
    parser.add_argument("--model", type=Path, help="GMM model (HCLG decoding)")
    parser.add_argument("--data", type=Path, required=True, help="data part dir to decode")
    parser.add_argument("--cfg", help="decode config as JSON")
    parser.add_argument("--info", default="{}", help="JSON object copied into decode_info.json (e.g. lm, lexicon)")
    parser.add_argument("--si-model", type=Path, default=None,
                        help="speaker-independent model of a SAT system (final.alimdl): decode in two fMLLR passes")
    parser.add_argument("--nnet", type=Path, default=None,
                        help="hybrid network dir (final.pt, prior.npy): it scores frames instead of the GMMs")
    parser.add_argument("--transforms", type=Path, default=None,
                        help="per-speaker fMLLR (trans.npz) to apply first, e.g. from the SAT stage's decode")
    parser.add_argument("--out", type=Path, required=True, help="decode directory to write")
    parser.add_argument("--ctc", choices=("kaldi", "k2"), default=None,
                        help="decode a CTC network (--nnet) on the graph dir's HLG.fst with this decoder")
    parser.add_argument("--rescore-G", type=Path, default=None,
                        help="with --ctc k2 or --lattices: rescore the lattices with this (larger) G.fst, whole-lattice")
    parser.add_argument("--lattices", type=Path, default=None,
                        help="a decode dir with lattices.npz: rescore them with --rescore-G instead of decoding")
    parser.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one line and exit 1."""
    return cli_main("asrflow.decode", build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
