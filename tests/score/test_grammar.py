"""Tests of command-grammar evaluation: in-grammar detection, WER on those utterances, OOG rejection, EER."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from asrflow.lm.commands import compile_grammar, read_grammar
from asrflow.score.__main__ import main
from asrflow.score.grammar import equal_error_rate, evaluate

SYMBOLS = {w: i for i, w in enumerate("<eps> YES NO GO STOP ONE TWO".split())}


def grammar(tmp_path: Path):
    """G for `{YES|NO|GO|STOP}`: ONE and TWO are words of the lexicon but out of grammar."""
    (tmp_path / "g.grammar").write_text("{YES|NO|GO|STOP}\n")
    return compile_grammar(read_grammar(tmp_path / "g.grammar"), SYMBOLS)


def test_rejection_rates_wer_and_eer(tmp_path: Path) -> None:
    refs = {"a": "YES", "b": "NO", "c": "GO", "d": "STOP", "e": "ONE TWO", "f": "TWO", "g": "ONE"}
    hyps = {"a": "YES", "b": "NO", "c": "NO", "d": "STOP", "e": "NO", "f": "GO", "g": "YES"}
    free = {u: -50.0 for u in refs}
    # grammar decodes fit the in-grammar audio as well as the free decode (d a little worse); OOG audio much worse
    gram = {"a": -50.0, "b": -50.1, "c": -50.2, "d": -51.5, "e": -53.0, "f": -52.0, "g": -50.5}
    report, rows = evaluate(refs, hyps, gram, free, grammar(tmp_path), SYMBOLS, threshold=1.0)
    assert (report.in_grammar, report.out_of_grammar) == (4, 3)
    assert report.in_grammar_wer["wer"] == pytest.approx(25.0) and report.in_grammar_wer["sub"] == 1
    assert report.oog_rejected == pytest.approx(200 / 3)  # e and f below -1.0; g is accepted
    assert report.false_rejected == pytest.approx(25.0)  # d
    assert rows[0] == "utt\tin_grammar\tscore\trejected" and "e\t0\t-3.0000\t1" in rows


def test_equal_error_rate_of_separable_and_identical_scores() -> None:
    assert equal_error_rate([0.0, -0.1], [-2.0, -3.0]) == 0.0
    assert equal_error_rate([-1.0, -1.0], [-1.0, -1.0]) == pytest.approx(50.0)
    assert math.isnan(equal_error_rate([0.0], []))


def test_cli_writes_report_and_per_utterance_table(tmp_path: Path) -> None:
    G = grammar(tmp_path)
    G.write(str(tmp_path / "G.fst"))
    (tmp_path / "words.txt").write_text("".join(f"{w} {i}\n" for w, i in SYMBOLS.items()))
    (tmp_path / "text").write_text("u1 YES\nu2 ONE TWO\n")
    for name, hyp, scores in (("gram", "u1 YES\nu2 NO\n", (-40.0, -45.0)), ("free", "u1 YES\nu2 ONE TWO\n", (-40.0, -40.0))):
        d = tmp_path / name
        d.mkdir()
        (d / "hyp.txt").write_text(hyp)
        (d / "utt_scores.tsv").write_text(f"utt\tframes\tam_loglike_per_frame\nu1\t50\t{scores[0]}\nu2\t80\t{scores[1]}\n")
    out = tmp_path / "gram" / "grammar.json"
    assert main(["grammar", "--ref-text", str(tmp_path / "text"), "--grammar-dir", str(tmp_path / "gram"),
                 "--free-dir", str(tmp_path / "free"), "--G", str(tmp_path / "G.fst"), "--words",
                 str(tmp_path / "words.txt"), "--threshold", "1", "--stage", "mono", "--test-set", "dev",
                 "--lexicon", "x", "--lm", "cmds", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["lm"] == "cmds" and report["in_grammar"] == 1 and report["oog_rejected"] == 100.0
    assert report["wer"] == 0.0 and (tmp_path / "gram" / "grammar_utts.tsv").is_file()
