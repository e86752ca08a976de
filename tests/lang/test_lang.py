"""The lang stage: lexicon reading, disambiguation, L.fst paths, position-dependent phones, OOV errors."""

from __future__ import annotations

import math
import re
from pathlib import Path

import kaldifst
import pytest

from asrflow.common import AsrflowError
from asrflow.lang.__main__ import main
from asrflow.lang.langdir import LangDir
from asrflow.lang.lexicon import check_oov, cmudict_lexicon, grapheme_lexicon, read_lexicon, read_sphinx_dict
from asrflow.lang.prepare import LangConfig, prepare_lang

REPO = Path(__file__).resolve().parents[2]


def transduce(lang: LangDir, phones: list[str], disambig: bool = False) -> list[str] | None:
    """Words L maps `phones` to along its best path, or None if L rejects the phone sequence."""
    acceptor = kaldifst.make_linear_acceptor([lang.phones[p] for p in phones])
    lfst = lang.lexicon_fst(disambig)
    kaldifst.arcsort(lfst, sort_type="ilabel")
    composed = kaldifst.compose(acceptor, lfst)
    if composed.num_states == 0:
        return None
    _, _, words, _ = kaldifst.get_linear_symbol_sequence(kaldifst.shortest_path(composed))
    return [lang.id2word[w] for w in words if w]


@pytest.fixture()
def digits(tmp_path: Path) -> LangDir:
    prepare_lang(read_lexicon(REPO / "lang/digits/lexicon.txt"), tmp_path / "lang", LangConfig())
    return LangDir(tmp_path / "lang")


def test_tables_follow_kaldi_conventions(digits: LangDir) -> None:
    assert digits.words["<eps>"] == 0 and digits.phones["<eps>"] == 0
    assert list(digits.words)[-3:] == ["#0", "<s>", "</s>"]
    assert digits.oov == "<UNK>" and digits.phones["SPN"] in digits.silence
    assert [digits.id2phone[i] for i in digits.disambig] == ["#0"]


def test_topology_transitions_sum_to_one(digits: LangDir) -> None:
    """Every emitting state of both topologies (speech and Kaldi's ergodic silence) is a distribution."""
    states = re.findall(r"<State> \d+ <PdfClass> \d+ (.*?) </State>", digits.topo_text)
    assert len(states) == 3 + 5
    for state in states:
        probs = [float(p) for p in re.findall(r"<Transition> \d+ ([0-9.e-]+)", state)]
        assert sum(probs) == pytest.approx(1.0)


def test_lexicon_fst_spells_words_with_optional_silence(digits: LangDir) -> None:
    assert transduce(digits, ["W", "AH", "N", "T", "UW"]) == ["ONE", "TWO"]
    assert transduce(digits, ["SIL", "W", "AH", "N", "SIL", "T", "UW", "SIL"]) == ["ONE", "TWO"]
    assert transduce(digits, ["Z", "IY", "R", "OW"]) == ["ZERO"]  # second pronunciation
    assert transduce(digits, ["W", "AH"]) is None


def test_homophones_and_prefixes_get_disambiguation_symbols(tmp_path: Path) -> None:
    lex = tmp_path / "lexicon.txt"
    lex.write_text("A AH\nAN AH N\nEH AH\nB B IY\n")
    prepare_lang(read_lexicon(lex), tmp_path / "lang", LangConfig(oov_word=None))
    lang = LangDir(tmp_path / "lang")
    assert {"#1", "#2"} <= set(lang.phones)
    # without its #n the ambiguous pronunciation is not in L_disambig, with it the word comes out
    assert transduce(lang, ["AH", "#1"], disambig=True) in (["A"], ["EH"])
    assert transduce(lang, ["AH", "N"], disambig=True) == ["AN"]
    assert transduce(lang, ["AH"], disambig=False) in (["A"], ["EH"])


def test_position_dependent_phones(tmp_path: Path) -> None:
    prepare_lang(read_lexicon(REPO / "lang/digits/lexicon.txt"), tmp_path / "lang",
                 LangConfig(position_dependent=True))
    lang = LangDir(tmp_path / "lang")
    assert transduce(lang, ["OW_S"]) == ["OH"]
    assert transduce(lang, ["W_B", "AH_I", "N_E"]) == ["ONE"]
    assert "W" not in lang.phones and "SIL" in lang.phones
    assert ["OW_B", "OW_E", "OW_I", "OW_S"] in [[lang.id2phone[i] for i in s] for s in lang.sets]
    assert "W_B begin" in (lang.path / "phones/word_boundary.txt").read_text()


def test_cmudict_strips_stress_and_names_oovs() -> None:
    lex = cmudict_lexicon({"YES", "SEVEN"})
    assert ("YES", ("Y", "EH", "S")) in lex
    assert ("SEVEN", ("S", "EH", "V", "AH", "N")) in lex
    with pytest.raises(AsrflowError, match="QWXZZ"):
        cmudict_lexicon({"YES", "QWXZZ"})


def test_oov_in_training_text_is_an_error_naming_word_and_utterance(tmp_path: Path) -> None:
    lex = read_lexicon(REPO / "lang/yesno/lexicon.txt")
    with pytest.raises(AsrflowError, match=r"MAYBE \(e.g. utt7\)"):
        check_oov(lex, {"utt7": "YES MAYBE"}, "train")
    text = tmp_path / "text"
    text.write_text("utt7 YES MAYBE\n")
    lexicon = '{"source": "file", "path": "%s"}' % (REPO / "lang/yesno/lexicon.txt")
    rc = main(["--lexicon", lexicon, "--cfg", "{}", "--train-text", str(text), "--out", str(tmp_path / "lang")])
    assert rc == 1
    assert not (tmp_path / "lang").exists()


def test_malformed_lexicon_line_names_file_and_line(tmp_path: Path) -> None:
    lex = tmp_path / "lexicon.txt"
    lex.write_text("YES Y\nNO\n")
    with pytest.raises(AsrflowError, match=r"lexicon.txt:2"):
        read_lexicon(lex)


def test_sphinx_dictionary_variants_become_alternative_pronunciations(tmp_path: Path) -> None:
    dic = tmp_path / "an4.dic"
    dic.write_text("A                    AH\nA(2)                 EY\nAND  AE N D\nAND(2) ah n d\nAND(3) AH N D\n")
    assert read_sphinx_dict(dic) == [("A", ("AH",)), ("A", ("EY",)), ("AND", ("AE", "N", "D")),
                                     ("AND", ("AH", "N", "D"))]
    (tmp_path / "bad.dic").write_text("A AH\nB\n")
    with pytest.raises(AsrflowError, match=r"bad.dic:2"):
        read_sphinx_dict(tmp_path / "bad.dic")


def test_grapheme_lexicon_spells_words_and_builds_a_lang_dir(tmp_path: Path) -> None:
    lex = grapheme_lexicon({"CAT", "DON'T", "É"})
    assert dict(lex) == {"CAT": ("C", "A", "T"), "DON'T": ("D", "O", "N", "U0027", "T"), "É": ("U00C9",)}
    prepare_lang(lex, tmp_path / "lang", LangConfig())
    assert transduce(LangDir(tmp_path / "lang"), ["SIL", "C", "A", "T", "D", "O", "N", "U0027", "T"]) == ["CAT", "DON'T"]


def test_oov_unk_maps_training_oovs_to_the_oov_word(tmp_path: Path) -> None:
    text = tmp_path / "text"
    lexicon = '{"source": "file", "oov": "unk", "path": "%s"}' % (REPO / "lang/digits/lexicon.txt")
    text.write_text("utt7 ONE MAYBE TWO\n")
    assert main(["--lexicon", lexicon, "--cfg", "{}", "--train-text", str(text), "--out", str(tmp_path / "lang")]) == 0
    lang = LangDir(tmp_path / "lang")
    assert lang.word_ids("ONE MAYBE TWO") == [lang.words["ONE"], lang.words["<UNK>"], lang.words["TWO"]]


def best_cost(lang: LangDir, phones: list[str]) -> float:
    """Cost of L's best path for the phone sequence."""
    acceptor = kaldifst.make_linear_acceptor([lang.phones[p] for p in phones])
    lfst = lang.lexicon_fst()
    kaldifst.arcsort(lfst, sort_type="ilabel")
    best = kaldifst.shortest_path(kaldifst.compose(acceptor, lfst))
    return sum(arc.weight.value for s in kaldifst.StateIterator(best) for arc in kaldifst.ArcIterator(best, s)) + sum(
        best.final(s).value for s in kaldifst.StateIterator(best) if best.final(s).value != float("inf"))


def test_lexiconp_probabilities_weight_the_pronunciations(tmp_path: Path) -> None:
    (tmp_path / "lexiconp.txt").write_text("TOMATO 1.0 T AH M EY T OW\nTOMATO 0.25 T AH M AA T OW\nYES 1.0 Y EH S\n")
    text = tmp_path / "text"
    text.write_text("u1 TOMATO YES\n")
    lexicon = '{"source": "file", "path": "%s"}' % (tmp_path / "lexiconp.txt")
    assert main(["--lexicon", lexicon, "--cfg", "{}", "--train-text", str(text), "--out", str(tmp_path / "lang")]) == 0
    lang = LangDir(tmp_path / "lang")
    # the second pronunciation costs -ln 0.25 more than the first, the rest of the path being equal
    diff = best_cost(lang, "T AH M AA T OW".split()) - best_cost(lang, "T AH M EY T OW".split())
    assert diff == pytest.approx(math.log(4), abs=1e-4)
    assert "TOMATO 0.25 T AH M AA T OW" in (tmp_path / "lang/lexiconp.txt").read_text()


@pytest.mark.parametrize("text, message", [
    ("A 1.0 AH\nB B IY\n", r"lexicon.txt:2: mixes lexicon.txt and lexiconp.txt"),
    ("A 1.5 AH\n", r"lexicon.txt:1: pronunciation probability 1.5"),
    ("A 0.5\n", r"followed by phones"),
])
def test_bad_lexiconp_lines_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "lexicon.txt").write_text(text)
    with pytest.raises(AsrflowError, match=message):
        read_lexicon(tmp_path / "lexicon.txt")


def test_bpe_lexicon_spells_every_word_in_pieces_and_builds_a_lang_dir(tmp_path: Path) -> None:
    text = tmp_path / "text"
    sentences = ["PITTSBURGH", "P I T T", "ONE FIVE TWO ONE THREE", "YES", "NO", "STOP", "ENTER SEVEN", "REPEAT"]
    text.write_text("".join(f"u{i} {s}\n" for i, s in enumerate(sentences * 5)))
    lexicon = '{"source": "bpe", "bpe": {"vocab_size": 40}}'
    assert main(["--lexicon", lexicon, "--cfg", "{}", "--train-text", str(text), "--out", str(tmp_path / "lang")]) == 0
    lang = LangDir(tmp_path / "lang")
    assert (tmp_path / "lang/bpe.model").is_file()
    entries = dict(read_lexicon(tmp_path / "lang/lexicon.txt"))
    assert len(entries["PITTSBURGH"]) < len("PITTSBURGH")  # merged pieces, not letters
    # each word opens with a word-start unit (a piece `_W`, or the bare mark WORD_START) and has none inside
    for word, pron in entries.items():
        if word == "<UNK>":
            continue
        assert pron[0] == "WORD_START" or pron[0].endswith("_W"), pron
        assert not any(p == "WORD_START" or p.endswith("_W") for p in pron[1:]), pron
    # L spells a sentence in its pieces
    pieces = [p for w in ("YES", "STOP") for p in entries[w]]
    assert transduce(lang, pieces) == ["YES", "STOP"]
