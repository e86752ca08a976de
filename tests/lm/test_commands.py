"""Tests of command grammars: parsing, compilation to a deterministic G, acceptance, errors naming file and line."""

from __future__ import annotations

import math
from pathlib import Path

import kaldifst
import pytest

from asrflow.common import AsrflowError
from asrflow.lm.__main__ import main
from asrflow.lm.commands import accepts, compile_grammar, read_grammar

REPO = Path(__file__).resolve().parents[2]
WORDS = "<eps> YES NO A B C TURN ON OFF THE LIGHT FAN PLEASE".split()
SYMBOLS = {w: i for i, w in enumerate(WORDS)}
TOY = """# a toy command set
$LETTER = {A|B|C}
YES
NO
$LETTER+
TURN {ON|OFF} THE {LIGHT|FAN} [PLEASE]
"""


def toy_G(tmp_path: Path, text: str = TOY) -> kaldifst.StdVectorFst:
    """Compile `text` as a grammar file over SYMBOLS."""
    (tmp_path / "g.grammar").write_text(text)
    return compile_grammar(read_grammar(tmp_path / "g.grammar"), SYMBOLS)


def ids(sentence: str) -> list[int]:
    """Word ids of a sentence."""
    return [SYMBOLS[w] for w in sentence.split()]


def path_cost(fst: kaldifst.StdVectorFst, sentence: str) -> float:
    """Total cost of the (unique, G being deterministic) path of `sentence`, final weight included."""
    state, cost = fst.start, 0.0
    for word in ids(sentence):
        arc = next(a for a in kaldifst.ArcIterator(fst, state) if a.ilabel == word)
        state, cost = arc.nextstate, cost + arc.weight.value
    return cost + fst.final(state).value


def test_grammar_accepts_its_templates_and_nothing_else(tmp_path: Path) -> None:
    G = toy_G(tmp_path)
    for sentence in ("YES", "NO", "A", "C B A A", "TURN ON THE FAN", "TURN OFF THE LIGHT PLEASE"):
        assert accepts(G, ids(sentence)), sentence
    for sentence in ("", "YES NO", "TURN THE FAN", "TURN ON THE", "PLEASE", "A YES"):
        assert not accepts(G, ids(sentence)), sentence


def test_G_is_deterministic_epsilon_free_and_stochastic(tmp_path: Path) -> None:
    G = toy_G(tmp_path)
    for state in kaldifst.StateIterator(G):
        labels = [arc.ilabel for arc in kaldifst.ArcIterator(G, state)]
        assert 0 not in labels and len(labels) == len(set(labels))
    # four templates, then each choice point splits its share equally
    assert path_cost(G, "YES") == pytest.approx(math.log(4), abs=1e-4)
    assert path_cost(G, "TURN ON THE FAN PLEASE") == pytest.approx(math.log(4 * 2 * 2 * 2), abs=1e-4)
    # a letter string: 1/3 per letter, 1/2 to go on or stop after each
    assert path_cost(G, "A B") == pytest.approx(math.log(4) + 2 * math.log(3) + 2 * math.log(2), abs=1e-4)


def test_words_missing_from_the_lexicon_are_named_with_their_line(tmp_path: Path) -> None:
    with pytest.raises(AsrflowError, match=r"g.grammar.*DIM \(line 2\)"):
        toy_G(tmp_path, "YES\nTURN {ON|DIM}\n")


@pytest.mark.parametrize("text, message", [
    ("TURN {ON|OFF THE\n", r"g.grammar:1: expected '\}'"),
    ("$X\n", r"g.grammar:1: \$X is not defined"),
    ("$X = A $X\n$X\n", r"refers to itself"),
    ("+ A\n", r"must follow"),
    ("$X = A\n", r"no command template"),
    ("{A||B}\n", r"empty"),
])
def test_malformed_grammars_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AsrflowError, match=message):
        toy_G(tmp_path, text)


def test_an4_command_grammar_compiles_over_cmudict_words(tmp_path: Path) -> None:
    grammar = read_grammar(REPO / "lang" / "an4" / "commands.grammar")
    symbols = {w: i for i, w in enumerate(["<eps>", *sorted(grammar.words())])}
    G = compile_grammar(grammar, symbols)
    for sentence in ("YES", "RUBOUT", "P I T T S B U R G H", "ERASE C", "ENTER ONE FIVE"):
        assert accepts(G, [symbols[w] for w in sentence.split()]), sentence
    for sentence in ("ONE FIVE TWO", "ENTER A", "YES NO", "P G H ONE"):
        assert not accepts(G, [symbols[w] for w in sentence.split()]), sentence


def test_cli_writes_G_atomically(tmp_path: Path) -> None:
    (tmp_path / "g.grammar").write_text(TOY)
    (tmp_path / "words.txt").write_text("".join(f"{w} {i}\n" for w, i in SYMBOLS.items()))
    out = tmp_path / "G.fst"
    assert main(["grammar", "--grammar", str(tmp_path / "g.grammar"), "--words", str(tmp_path / "words.txt"),
                 "--out", str(out)]) == 0
    assert accepts(kaldifst.StdVectorFst.read(str(out)), ids("TURN OFF THE FAN"))
    (tmp_path / "g.grammar").write_text("DIM\n")
    assert main(["grammar", "--grammar", str(tmp_path / "g.grammar"), "--words", str(tmp_path / "words.txt"),
                 "--out", str(tmp_path / "bad.fst")]) == 1
    assert not (tmp_path / "bad.fst").exists()
