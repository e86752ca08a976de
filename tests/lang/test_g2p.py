"""G2P: graphone alignment, pronunciation accuracy on held-out CMUdict words, and `oov: g2p` in the lang stage."""

from __future__ import annotations

import random
from pathlib import Path

import kaldialign
import pytest

from asrflow.lang.__main__ import main
from asrflow.lang.g2p import G2P, G2PConfig, align_lexicon, token_unit, unit_token
from asrflow.lang.langdir import LangDir
from asrflow.lang.lexicon import cmudict_entries, read_lexicon


@pytest.fixture(scope="module")
def split() -> tuple[list, dict]:
    """3000 CMUdict words to train on, 200 others (all their pronunciations) to test on."""
    entries = cmudict_entries()
    words = sorted({w for w, _ in entries})
    random.Random(0).shuffle(words)
    train_words, test_words = set(words[:3000]), set(words[3000:3200])
    refs: dict[str, list] = {}
    for w, p in entries:
        if w in test_words:
            refs.setdefault(w, []).append(p)
    return [(w, p) for w, p in entries if w in train_words], refs


def test_graphone_tokens_round_trip() -> None:
    for unit in [("x", ("K", "S")), ("e", ()), ("sh", ("SH",))]:
        assert token_unit(unit_token(unit)) == unit


def test_alignment_finds_digraphs_and_letters_spelling_two_phones(split: tuple[list, dict]) -> None:
    train, _ = split
    entries = [*train, ("SHAKE", ("SH", "EY", "K")), ("BOX", ("B", "AA", "K", "S"))]
    aligned = {"".join(u[0] for u in a): a for a in align_lexicon(entries, iters=5)}
    assert aligned["shake"][:2] == [("sh", ("SH",)), ("a", ("EY",))]  # the digraph is one unit
    assert [p for _, ps in aligned["shake"] for p in ps] == ["SH", "EY", "K"]  # the final e spells nothing
    assert aligned["box"][-1] == ("x", ("K", "S"))


def test_g2p_pronounces_held_out_words(split: tuple[list, dict], tmp_path: Path) -> None:
    train, refs = split
    model = G2P.train(train, tmp_path / "g2p.arpa", G2PConfig())
    errors = length = correct = 0
    for word, prons in refs.items():
        hyp = model.pronounce(word)
        correct += hyp in prons
        errors += min(sum(a != b for a, b in kaldialign.align(list(r), list(hyp), "*")) for r in prons)
        length += len(prons[0])
    # measured: 3000 training words give ~40% of words exactly right and ~16% phone errors
    assert correct / len(refs) > 0.3
    assert errors / length < 0.22
    assert G2P.load(tmp_path / "g2p.arpa", G2PConfig()).pronounce("TESTING") == model.pronounce("TESTING")


def test_oov_g2p_adds_generated_pronunciations_to_the_lang_dir(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    text = tmp_path / "text"
    text.write_text("utt1 ONE TWO\nutt2 TEN NINE\n")
    lexicon = '{"source": "file", "oov": "g2p", "path": "%s"}' % (repo / "lang/digits/lexicon.txt")
    assert main(["--lexicon", lexicon, "--cfg", "{}", "--train-text", str(text), "--out", str(tmp_path / "lang")]) == 0
    generated = read_lexicon(tmp_path / "lang/g2p_lexicon.txt")
    assert [w for w, _ in generated] == ["TEN"]
    phones = set(LangDir(tmp_path / "lang").phones)
    assert generated[0][1] and set(generated[0][1]) <= phones  # spelled with the lexicon's own phones
    assert (tmp_path / "lang/g2p.arpa").is_file()
    assert "TEN" in LangDir(tmp_path / "lang").words


def test_dropped_words_are_oovs_error_names_them_g2p_pronounces_them(tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("utt1 SEVEN TWO\n")
    for oov, rc in (("error", 1), ("g2p", 0)):
        lexicon = ('{"source": "cmudict", "oov": "%s", "drop": ["SEVEN"], "g2p": {"train_words": 3000}}' % oov)
        out = tmp_path / f"lang_{oov}"
        assert main(["--lexicon", lexicon, "--cfg", "{}", "--train-text", str(text), "--out", str(out)]) == rc
    assert not (tmp_path / "lang_error").exists()
    assert [w for w, _ in read_lexicon(tmp_path / "lang_g2p/g2p_lexicon.txt")] == ["SEVEN"]
