"""Compile an ARPA LM into the grammar FST G.fst, as Kaldi's `arpa2fst --disambig-symbol=#0` does."""

from __future__ import annotations

from pathlib import Path

import kaldifst
import kaldilm

from asrflow.common import AsrflowError, atomic_path
from asrflow.lang.langdir import read_symbols
from asrflow.lm.arpa import BOS, EOS, read_arpa, vocabulary

DISAMBIG = "#0"


def arpa_to_G(arpa: Path, words_txt: Path, out_fst: Path) -> None:
    """Write G.fst for `arpa` over the ids of `words_txt`: backoff arcs take #0 on input, <s>/</s> become epsilon."""
    symbols = read_symbols(words_txt)
    missing = sorted(vocabulary(read_arpa(arpa)) - set(symbols) - {BOS, EOS})
    if missing:
        shown = " ".join(missing[:20]) + (f" ... ({len(missing)} in all)" if len(missing) > 20 else "")
        raise AsrflowError(f"{arpa}: LM words not in {words_txt} (the lexicon must cover the LM vocabulary): {shown}")
    if DISAMBIG not in symbols:
        raise AsrflowError(f"{words_txt}: no {DISAMBIG} symbol (needed on G's backoff arcs)")
    text = kaldilm.arpa2fst(input_arpa=str(arpa), read_symbol_table=str(words_txt), disambig_symbol=DISAMBIG)
    fst = kaldifst.compile(text)
    _check_G(fst, symbols[DISAMBIG], arpa)
    with atomic_path(out_fst) as tmp:
        fst.write(str(tmp))


def _check_G(fst: kaldifst.StdVectorFst, disambig: int, arpa: Path) -> None:
    """Check that G is an acceptor except for backoff arcs `#0:<eps>`, and that it has a start and a final state."""
    if fst.start < 0 or fst.num_states == 0:
        raise AsrflowError(f"G built from {arpa} is empty")
    has_final = False
    for state in kaldifst.StateIterator(fst):
        has_final |= fst.final(state).value != float("inf")
        for arc in kaldifst.ArcIterator(fst, state):
            if not (arc.ilabel == arc.olabel != 0 or (arc.ilabel == disambig and arc.olabel == 0)):
                raise AsrflowError(
                    f"G built from {arpa}: arc {arc.ilabel}:{arc.olabel} from state {state} is neither a word "
                    f"arc (w:w) nor a backoff arc ({DISAMBIG}:<eps>); is <eps> 0 in words.txt?"
                )
    if not has_final:
        raise AsrflowError(f"G built from {arpa} has no final state (no </s> in the LM?)")
