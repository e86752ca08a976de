"""Tests of the LM stage: kaldingram training and its guard, ARPA parsing, G.fst compilation, perplexity."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import kaldifst
import pytest

from asrflow.common import AsrflowError
from asrflow.lm.__main__ import main
from asrflow.lm.arpa import history_sums, perplexity, read_arpa
from asrflow.lm.grammar import arpa_to_G
from asrflow.lm.train import train_arpa

REPO = Path(__file__).resolve().parents[2]
YESNO_LM = REPO / "lang" / "yesno" / "lm_unigram.arpa"
TOY = [
    "THE CAT SAT", "THE DOG SAT", "A CAT RAN", "THE CAT RAN", "A DOG SAT",
    "THE DOG RAN FAST", "A CAT SAT DOWN", "THE CAT SAT DOWN", "A DOG RAN", "THE DOG SAT DOWN",
]
WORDS_TXT = "<eps> 0\nNO 1\nYES 2\n#0 3\n<s> 4\n</s> 5\n"


def yesno_text(n_lines: int = 31, seed: int = 0) -> list[str]:
    """Return yesno-like transcripts: lines of 8 random YES/NO words."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(["YES", "NO"]) for _ in range(8)) for _ in range(n_lines)]


def ngram_log10(lm: dict, *words: str) -> float:
    """Return the explicit log10 probability of an n-gram."""
    return lm[len(words)][tuple(words)][0]


def test_bigram_on_toy_corpus_is_normalised_and_prefers_seen_bigrams(tmp_path: Path) -> None:
    out = tmp_path / "bg.arpa"
    train_arpa(TOY, 2, out)
    lm = read_arpa(out)
    assert sorted(lm) == [1, 2]
    assert sum(10**p for ngram, (p, _) in lm[1].items() if ngram != ("<s>",)) == pytest.approx(1.0, abs=1e-4)
    assert all(total == pytest.approx(1.0, abs=1e-4) for total in history_sums(lm).values())
    assert lm[1][("<s>",)][0] == -99
    # "THE CAT" is seen, "THE THE" is not: p(CAT | THE) is explicit, p(THE | THE) = bow(THE) * p(THE)
    seen = ngram_log10(lm, "THE", "CAT")
    unseen = lm[1][("THE",)][1] + ngram_log10(lm, "THE")
    assert ("THE", "THE") not in lm[2] and seen > unseen


def test_degenerate_trigram_falls_back_to_a_sane_order(tmp_path: Path) -> None:
    out = tmp_path / "tg.arpa"
    train_arpa(yesno_text(), 3, out)
    lm = read_arpa(out)
    assert max(lm) < 3
    assert [ngram for order in lm.values() for ngram, (p, _) in order.items() if p <= -98] == [("<s>",)]
    assert all(total == pytest.approx(1.0, abs=1e-2) for total in history_sums(lm).values())


def test_all_singleton_trigrams_are_detected(tmp_path: Path) -> None:
    out = tmp_path / "tg.arpa"
    train_arpa(["YES NO YES YES", "NO NO YES NO"], 3, out)
    lm = read_arpa(out)
    assert max(lm) < 3
    assert all(p > -98 for order in lm.values() for ngram, (p, _) in order.items() if ngram != ("<s>",))


def test_unsupported_discount_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AsrflowError, match="witten_bell"):
        train_arpa(TOY, 2, tmp_path / "x.arpa", discount="witten_bell")


def test_malformed_arpa_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-0.3\tYES\nnot-a-number NO\n\n\\end\\\n")
    with pytest.raises(AsrflowError, match=r"bad\.arpa:6"):
        read_arpa(bad)


def test_count_mismatch_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.arpa"
    bad.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-0.3\tYES\n-0.3\tNO\n\n\\end\\\n")
    with pytest.raises(AsrflowError, match="ngram 1=3"):
        read_arpa(bad)


def test_yesno_G_accepts_yes_no_yes_with_expected_cost(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text(WORDS_TXT)
    g_path = tmp_path / "G.fst"
    arpa_to_G(YESNO_LM, words, g_path)
    g = kaldifst.StdVectorFst.read(str(g_path))
    kaldifst.arcsort(g, "ilabel")
    path = kaldifst.shortest_path(kaldifst.compose(kaldifst.make_linear_acceptor([2, 1, 2]), g))
    ok, ilabels, olabels, weight = kaldifst.get_linear_symbol_sequence(path)
    # as Kaldi's yesno task.arpabo: each word and </s> have log10 p = -1, i.e. cost ln 10
    assert ok and ilabels == olabels == [2, 1, 2]
    assert weight.value == pytest.approx(4 * math.log(10), abs=1e-4)


def test_bigram_G_has_backoff_arcs_on_disambig(tmp_path: Path) -> None:
    arpa, words, g_path = tmp_path / "bg.arpa", tmp_path / "words.txt", tmp_path / "G.fst"
    train_arpa(TOY, 2, arpa)
    vocab = ["THE", "CAT", "SAT", "DOG", "A", "RAN", "FAST", "DOWN"]
    words.write_text("\n".join(f"{w} {i}" for i, w in enumerate(["<eps>", *vocab, "#0", "<s>", "</s>"])) + "\n")
    arpa_to_G(arpa, words, g_path)
    g = kaldifst.StdVectorFst.read(str(g_path))
    labels = {(arc.ilabel, arc.olabel) for s in kaldifst.StateIterator(g) for arc in kaldifst.ArcIterator(g, s)}
    assert (len(vocab) + 1, 0) in labels


def test_lm_words_missing_from_words_txt_are_listed(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("<eps> 0\nYES 1\n#0 2\n")
    with pytest.raises(AsrflowError, match=r"not in .*words\.txt.*: NO$"):
        arpa_to_G(YESNO_LM, words, tmp_path / "G.fst")
    assert not (tmp_path / "G.fst").exists()


def test_perplexity_of_uniform_unigram(tmp_path: Path) -> None:
    arpa = tmp_path / "uniform.arpa"
    third = math.log10(1 / 3)
    arpa.write_text(f"\\data\\\nngram 1=4\n\n\\1-grams:\n-99\t<s>\n{third}\tA\n{third}\tB\n{third}\t</s>\n\n\\end\\\n")
    # every scored token (A, B and </s>) has p = 1/3; the OOV Z is skipped
    assert perplexity(arpa, ["A B A", "B Z"]) == pytest.approx(3.0)


def test_perplexity_with_backoff_matches_hand_computation(tmp_path: Path) -> None:
    arpa = tmp_path / "bg.arpa"
    arpa.write_text(
        "\\data\\\nngram 1=3\nngram 2=1\n\n\\1-grams:\n-99\t<s>\t-0.5\n-0.2\tA\n-0.4\t</s>\n\n"
        "\\2-grams:\n-0.1\t<s> A\n\n\\end\\\n"
    )
    # p(A|<s>) explicit; p(</s>|A) = p(</s>) (A has no bow); p(</s>|<s>) = bow(<s>) p(</s>)
    expected = 10 ** (-(-0.1 - 0.4 + (-0.5 - 0.4)) / 3)
    assert perplexity(arpa, ["A", ""]) == pytest.approx(expected)


def test_cli_trains_and_copies(tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.write_text("".join(f"utt{i} {line}\n" for i, line in enumerate(TOY)))
    cfg = {"name": "bg", "source": "train_text", "order": 2, "discount": "kneser_ney", "arpa": None}
    assert main(["train", "--text", str(text), "--cfg", json.dumps(cfg), "--out-arpa", str(tmp_path / "bg.arpa")]) == 0
    assert max(read_arpa(tmp_path / "bg.arpa")) == 2
    cfg = {"name": "ug", "source": "arpa", "order": 1, "arpa": str(YESNO_LM)}
    assert main(["train", "--cfg", json.dumps(cfg), "--out-arpa", str(tmp_path / "ug.arpa")]) == 0
    assert (tmp_path / "ug.arpa").read_text() == YESNO_LM.read_text()


def test_cli_user_error_exits_1_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    words = tmp_path / "words.txt"
    words.write_text("<eps> 0\n#0 1\n")
    rc = main(["G", "--arpa", str(YESNO_LM), "--words", str(words), "--out", str(tmp_path / "G.fst")])
    err = capsys.readouterr().err
    assert rc == 1 and "NO YES" in err and "Traceback" not in err


def test_cli_trains_on_a_user_text_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """source text: the LM is trained on a plain file (one sentence a line), not on the training transcripts."""
    (tmp_path / "domain.txt").write_text("".join(f"  {line}  \n\n" for line in TOY))
    cfg = {"name": "dom", "source": "text", "text": str(tmp_path / "domain.txt"), "order": 2}
    assert main(["train", "--cfg", json.dumps(cfg), "--out-arpa", str(tmp_path / "dom.arpa")]) == 0
    assert vocabulary_of(tmp_path / "dom.arpa") == {w for line in TOY for w in line.split()}
    cfg["text"] = str(tmp_path / "missing.txt")
    assert main(["train", "--cfg", json.dumps(cfg), "--out-arpa", str(tmp_path / "x.arpa")]) == 1
    assert "missing.txt" in capsys.readouterr().err and not (tmp_path / "x.arpa").exists()


def vocabulary_of(arpa: Path) -> set[str]:
    """The words of an ARPA LM, without <s> and </s>."""
    from asrflow.lm.arpa import vocabulary

    return vocabulary(read_arpa(arpa)) - {"<s>", "</s>"}
