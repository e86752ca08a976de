"""Compile an ARPA LM into the grammar FST G.fst, as Kaldi's `arpa2fst --disambig-symbol=#0` does."""

from __future__ import annotations

from pathlib import Path

import kaldifst
import kaldilm

from ..common import AsrflowError, atomic_path
from .arpa import BOS, EOS, read_arpa, vocabulary

DISAMBIG = "#0"


def read_symbol_table(path: Path) -> dict[str, int]:
    """Read a Kaldi `words.txt` (`symbol id` per line) into {symbol: id}."""
    table: dict[str, int] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise AsrflowError(f"cannot read symbol table {path}: {e.strerror}") from e
    for lineno, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit():
            raise AsrflowError(f"{path}:{lineno}: expected 'symbol id', got {line!r}")
        table[fields[0]] = int(fields[1])
    return table


def arpa_to_G(arpa: Path, words_txt: Path, out_fst: Path) -> None:
    """Write G.fst for `arpa` over the ids of `words_txt`: backoff arcs take #0 on input, <s>/</s> become epsilon."""
    symbols = read_symbol_table(words_txt)
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
