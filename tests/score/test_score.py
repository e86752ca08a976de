"""Tests of scoring: WER counts, Kaldi output formats, per-speaker split and the results table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asrflow.common import AsrflowError
from asrflow.score.__main__ import main
from asrflow.score.table import summarize
from asrflow.score.wer import score, write_scores


def test_known_pair_is_one_sub_one_ins() -> None:
    result = score({"u1": "A B C D"}, {"u1": "A X C D E"}, None)
    t = result.total
    assert (t.words, t.sub, t.ins, t.dels, t.errors, t.corr) == (4, 1, 1, 0, 2, 3)
    assert t.wer == pytest.approx(50.0)
    assert (t.sentences, t.sentence_errors, t.ser) == (1, 1, 100.0)


def test_empty_hypothesis_is_all_deletions() -> None:
    result = score({"u1": "A B C", "u2": "D"}, {"u1": "", "u2": "D"}, None)
    assert (result.total.dels, result.total.words, result.total.sentence_errors) == (3, 4, 1)
    assert result.missing_hyps == []


def test_missing_hypothesis_counts_as_deletions_and_is_listed() -> None:
    result = score({"u1": "A B", "u2": "C D E"}, {"u1": "A B"}, None)
    assert (result.total.dels, result.total.wer) == (3, pytest.approx(60.0))
    assert result.missing_hyps == ["u2"]


def test_hypothesis_for_unknown_utterance_is_an_error() -> None:
    with pytest.raises(AsrflowError, match="u9"):
        score({"u1": "A"}, {"u1": "A", "u9": "B"}, None)


def test_per_speaker_split() -> None:
    refs = {"s1-u1": "A B", "s1-u2": "C D", "s2-u1": "E F G H"}
    hyps = {"s1-u1": "A B", "s1-u2": "C X", "s2-u1": "E F"}
    spk = {"s1-u1": "s1", "s1-u2": "s1", "s2-u1": "s2"}
    result = score(refs, hyps, spk)
    assert (result.per_spk["s1"].words, result.per_spk["s1"].sub, result.per_spk["s1"].wer) == (4, 1, 25.0)
    assert (result.per_spk["s2"].dels, result.per_spk["s2"].wer) == (2, 50.0)
    assert result.total.wer == pytest.approx(3 / 8 * 100)


def test_written_files_use_kaldi_formats(tmp_path: Path) -> None:
    result = score({"u1": "A B C D", "u2": "E"}, {"u1": "A X C D E"}, {"u1": "s1", "u2": "s1"})
    write_scores(result, tmp_path, {"stage": "mono", "test_set": "test", "rtf": 0.1})
    assert (tmp_path / "wer.txt").read_text() == (
        "%WER 60.00 [ 3 / 5, 1 ins, 1 del, 1 sub ]\n"
        "%SER 100.00 [ 2 / 2 ]\n"
        "Scored 2 sentences, 1 not present in hyp.\n"
    )
    assert (tmp_path / "per_utt.txt").read_text().splitlines()[:4] == [
        "u1 ref A B C D ***",
        "u1 hyp A X C D E",
        "u1 op  C S C C I",
        "u1 #csid 3 1 1 0",
    ]
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["wer"] == 60.0 and scores["del"] == 1 and scores["stage"] == "mono"
    assert scores["missing_hyps"] == ["u2"]
    assert (tmp_path / "per_spk.tsv").read_text().splitlines()[1].startswith("s1\t2\t5\t")


def test_perfect_score_line() -> None:
    result = score({"u1": "YES NO"}, {"u1": "YES NO"}, None)
    assert result.total.wer == 0.0 and result.total.errors == 0


def write_json(path: Path, **scores: object) -> Path:
    """Write a scores.json with default totals overridden by `scores`."""
    base = {"wer": 0.0, "ins": 0, "del": 0, "sub": 0, "words": 10, "ser": 0.0, "rtf": 0.05}
    path.write_text(json.dumps({**base, **scores}))
    return path


def test_summarize_column_order_and_sorting(tmp_path: Path) -> None:
    files = [
        write_json(tmp_path / "a.json", stage="tri2", test_set="test", wer=5.5),
        write_json(tmp_path / "b.json", stage="mono", test_set="test", wer=10.614, lm="tg"),
        write_json(tmp_path / "c.json", stage="mono", test_set="dev", wer=12.0, lm="tg"),
        write_json(tmp_path / "d.json", stage="nnet", test_set="test", wer=3.0),
        write_json(tmp_path / "e.json", stage="tri1", test_set="test", wer=7.0),
        write_json(tmp_path / "f.json", stage="mono_fmllr", test_set="test", wer=4.0),  # next to its stage
    ]
    tsv, md = tmp_path / "wer.tsv", tmp_path / "RESULTS.md"
    summarize(files, tsv, md, "an4", published={("mono", "test"): 10.61})
    lines = [line.split("\t") for line in tsv.read_text().splitlines()]
    assert lines[0] == ["stage", "test_set", "wer", "ins", "del", "sub", "words", "ser", "rtf", "lm"]
    assert [(row[0], row[1]) for row in lines[1:]] == [
        ("mono", "dev"), ("mono", "test"), ("mono_fmllr", "test"), ("tri1", "test"), ("tri2", "test"), ("nnet", "test"),
    ]
    assert lines[2][2] == "10.61" and lines[2][9] == "tg" and lines[3][9] == ""
    text = md.read_text()
    assert "an4" in text.splitlines()[0]
    assert "| mono | test | 10.61 | 0 | 0 | 0 | 10 | 0.00 | 0.050 | tg | 10.61 |" in text
    # a dev row shows the stage's published figure on the official test set, naming that set
    assert "| mono | dev | 12.00 | 0 | 0 | 0 | 10 | 0.00 | 0.050 | tg | 10.61 (test) |" in text


def test_results_md_lists_training_and_alignment_changes(tmp_path: Path) -> None:
    score = write_json(tmp_path / "s.json", stage="tri1", test_set="dev", wer=5.0)
    logs = []
    for stage, changed in (("tri1", 0.125), ("mono", None)):
        entry = {"iter": 3, "num_gauss": 100, "loglike_per_frame": -60.5}
        if changed is not None:
            entry["phone_frames_changed_vs_prev"] = changed
        path = tmp_path / stage / "train_log.json"
        path.parent.mkdir()
        path.write_text(json.dumps([entry]))
        logs.append(path)
    summarize([score], tmp_path / "wer.tsv", tmp_path / "RESULTS.md", "x", train_logs=logs)
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.index("| mono | 100 | -60.500 |  |") < text.index("| tri1 | 100 | -60.500 | 12.5% |")


def test_cli_score_then_summarize(tmp_path: Path) -> None:
    (tmp_path / "text").write_text("u1 YES NO YES\nu2 NO NO\n")
    (tmp_path / "hyp").write_text("u1 YES NO NO\nu2\n")
    (tmp_path / "utt2spk").write_text("u1 s1\nu2 s2\n")
    (tmp_path / "info.json").write_text('{"rtf": 0.02}')
    out = tmp_path / "mono_test"
    assert main([
        "score", "--ref-text", str(tmp_path / "text"), "--hyp", str(tmp_path / "hyp"),
        "--utt2spk", str(tmp_path / "utt2spk"), "--stage", "mono", "--test-set", "test",
        "--decode-info", str(tmp_path / "info.json"), "--out", str(out),
    ]) == 0
    assert (out / "wer.txt").read_text().startswith("%WER 60.00 [ 3 / 5, 0 ins, 2 del, 1 sub ]\n")
    assert main([
        "summarize", "--recipe", "yesno", "--out-tsv", str(tmp_path / "wer.tsv"),
        "--out-md", str(tmp_path / "RESULTS.md"), "--published", '{"mono/test": 0.0}', str(out / "scores.json"),
    ]) == 0
    assert (tmp_path / "wer.tsv").read_text().splitlines()[1] == "mono\ttest\t60.00\t0\t2\t1\t5\t100.00\t0.020"


def test_cli_unknown_hyp_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "text").write_text("u1 YES\n")
    (tmp_path / "hyp").write_text("u1 YES\nzz NO\n")
    rc = main(["score", "--ref-text", str(tmp_path / "text"), "--hyp", str(tmp_path / "hyp"),
               "--stage", "mono", "--test-set", "test", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "zz" in err and "Traceback" not in err


def test_results_md_lists_lm_perplexities(tmp_path: Path) -> None:
    """A unigram with p(YES) = p(NO) = p(</s>) = 1/3 has perplexity 3 on any in-vocabulary text; OOVs are counted."""
    third = "-0.4771213"
    (tmp_path / "u.arpa").write_text(f"\\data\\\nngram 1=4\n\n\\1-grams:\n-99\t<s>\n{third}\tYES\n{third}\tNO\n"
                                     f"{third}\t</s>\n\n\\end\\\n")
    (tmp_path / "text").write_text("u1 YES NO\nu2 NO MAYBE\n")
    (tmp_path / "s.json").write_text(json.dumps({"stage": "mono", "test_set": "test", "wer": 0.0, "ins": 0, "del": 0,
                                                 "sub": 0, "words": 4, "ser": 0.0, "rtf": 0.01}))
    summarize([tmp_path / "s.json"], tmp_path / "wer.tsv", tmp_path / "RESULTS.md", "toy",
              lms={"u": tmp_path / "u.arpa"}, test_texts={"test": tmp_path / "text"})
    assert "| u | 4 | 3.00 (1 OOV) |" in (tmp_path / "RESULTS.md").read_text()


def test_results_md_compares_lexicons_and_lms_side_by_side(tmp_path: Path) -> None:
    files = [write_json(tmp_path / f"{lex}_{lm}.json", stage="tri3", test_set="dev", wer=wer, lm=lm, lexicon=lex)
             for lex, lm, wer in (("cmudict", "tg", 5.0), ("cmudict", "bg", 6.0), ("an4dic", "tg", 4.5),
                                  ("an4dic", "bg", 5.5), ("cmudict", "fg", 4.75))]
    summarize(files, tmp_path / "wer.tsv", tmp_path / "RESULTS.md", "an4")
    text = (tmp_path / "RESULTS.md").read_text()
    section = text[text.index("## Lexicons × LMs"):]
    assert "| stage | lexicon | bg | fg | tg |" in section  # names in sorted order, as the rows
    assert "| tri3 | an4dic | 5.50 |  | 4.50 |" in section and "| tri3 | cmudict | 6.00 | 4.75 | 5.00 |" in section


def test_results_md_has_no_comparison_for_one_lexicon_and_lm(tmp_path: Path) -> None:
    summarize([write_json(tmp_path / "a.json", stage="mono", test_set="test", wer=1.0, lm="tg", lexicon="x")],
              tmp_path / "wer.tsv", tmp_path / "RESULTS.md", "x")
    assert "Lexicons × LMs" not in (tmp_path / "RESULTS.md").read_text()


def test_results_md_counts_each_lexicons_g2p_pronunciations(tmp_path: Path) -> None:
    for name, g2p in (("cmudict", None), ("cmudict_g2p", "TEN\tT EH N\nJULY\tJH UW L IY\n")):
        lang = tmp_path / f"lang_{name}"
        lang.mkdir()
        (lang / "words.txt").write_text("<eps> 0\nJULY 1\nTEN 2\n#0 3\n<s> 4\n</s> 5\n")
        (lang / "phones.txt").write_text("<eps> 0\nSIL 1\nT 2\nEH 3\n#0 4\n")
        if g2p:
            (lang / "g2p_lexicon.txt").write_text(g2p)
    summarize([write_json(tmp_path / "a.json", stage="mono", test_set="test", wer=1.0)], tmp_path / "wer.tsv",
              tmp_path / "RESULTS.md", "x", langs={n: tmp_path / f"lang_{n}" for n in ("cmudict", "cmudict_g2p")})
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| cmudict | 2 | 3 | 0 |" in text
    assert "| cmudict_g2p | 2 | 3 | 2 (`lang_cmudict_g2p/g2p_lexicon.txt`) |" in text


def test_results_md_reports_command_grammar_decodes(tmp_path: Path) -> None:
    report = tmp_path / "grammar.json"
    report.write_text(json.dumps({"stage": "tri3", "test_set": "dev", "lm": "commands", "lexicon": "cmudict",
                                  "in_grammar": 40, "out_of_grammar": 60, "threshold": 1.0, "oog_rejected": 81.7,
                                  "false_rejected": 5.0, "equal_error_rate": 8.3, "wer": 4.2, "ins": 1, "del": 2,
                                  "sub": 7, "words": 240}))
    scores = [write_json(tmp_path / f"{lm}.json", stage="tri3", test_set="dev", wer=wer, lm=lm, lexicon="cmudict")
              for lm, wer in (("tg", 5.0), ("bg", 6.0), ("commands", 60.0))]
    summarize(scores, tmp_path / "wer.tsv", tmp_path / "RESULTS.md", "an4", grammar_reports=[report])
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| tri3 | cmudict | commands | dev | 40 | 4.20 (1/2/7 of 240) | 60 | 1 | 81.7 | 5.0 | 8.3 |" in text
    assert "| stage | lexicon | bg | tg |" in text  # the grammar is not an LM column
