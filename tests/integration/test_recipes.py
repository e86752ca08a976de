"""Whole recipes through Snakemake: WER bounds on real and synthesized speech, caching, config errors."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asrflow.gmm.model import AcousticModel

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def snakemake(*args: str, check: bool = True, cores: int = 2) -> subprocess.CompletedProcess:
    """Run Snakemake from the repository root with the test interpreter (the project venv)."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=1500)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def planned_rules(*args: str) -> set[str]:
    """Rule names a dry run would execute (from Snakemake's job-stats table)."""
    out = snakemake("-n", *args)
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return set()
    stats = text.split("Job stats:")[1].split("total")[0]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", stats, re.MULTILINE)} - {"job"}


def wer_rows(recipe: str) -> list[dict]:
    """Rows of results/<recipe>/wer.tsv."""
    with open(REPO / "results" / recipe / "wer.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def yesno(corpora_dir: Path) -> Iterator[list[str]]:
    """The yesno recipe run end to end under results/it_yesno; yields its Snakemake arguments."""
    args = ["--configfile", "conf/yesno.yaml", "--config", f"corpus_dir={corpora_dir / 'yesno'}",
            "recipe=it_yesno", "corpus=yesno"]
    shutil.rmtree(REPO / "results/it_yesno", ignore_errors=True)
    snakemake(*args)
    yield args
    shutil.rmtree(REPO / "results/it_yesno", ignore_errors=True)


@pytest.fixture(scope="module")
def synth() -> Iterator[list[str]]:
    """The default recipe (offline eSpeak NG digits, about 9 minutes on 2 cores) under results/it_synth."""
    args = ["--configfile", "conf/synth_digits.yaml", "--config", "recipe=it_synth", "corpus=synth_digits"]
    shutil.rmtree(REPO / "results/it_synth", ignore_errors=True)
    snakemake(*args)
    yield args
    shutil.rmtree(REPO / "results/it_synth", ignore_errors=True)


def test_yesno_wer_per_stage(yesno: list[str]) -> None:
    # Kaldi publishes 0.00% (mono); asrflow's mono makes one insertion (an onset burst in 1_1_1_1_0_1_0_0
    # that no training file has) at the default seed, so the bound is one error in 232 words
    rows = {r["stage"]: r for r in wer_rows("it_yesno")}
    assert list(rows) == ["mono", "tri1", "tri2", "tri3"]
    for row in rows.values():
        assert row["test_set"] == "test" and row["words"] == "232"
        assert float(row["wer"]) <= 0.5, row
        assert float(row["best_wer"]) <= float(row["wer"]), row
    assert float(rows["mono"]["rtf"]) < 0.05 and float(rows["tri3"]["rtf"]) < 0.1
    md = (REPO / "results/it_yesno/RESULTS.md").read_text()
    assert "0.00" in md and "## Training and alignments" in md
    for stage in rows:
        assert (REPO / f"results/it_yesno/exp_yesno/{stage}/phone_durations.tsv").is_file()
        assert (REPO / f"results/it_yesno/exp_yesno/{stage}/tree").read_bytes().startswith(b"ContextDependency")


def test_same_seed_reproduces_every_model_and_wer_on_fewer_cores(yesno: list[str], corpora_dir: Path) -> None:
    # one core instead of two: training jobs still compute with config `threads` (2), so the bits are the same
    again = REPO / "results/it_yesno_again"
    shutil.rmtree(again, ignore_errors=True)
    try:
        snakemake("--configfile", "conf/yesno.yaml", "--config", f"corpus_dir={corpora_dir / 'yesno'}",
                  "recipe=it_yesno_again", "corpus=yesno", cores=1)
        first = REPO / "results/it_yesno"
        def without_rtf(rows: list[dict]) -> list[dict]:
            return [{k: v for k, v in r.items() if k != "rtf"} for r in rows]  # timing, not a result

        assert without_rtf(wer_rows("it_yesno_again")) == without_rtf(wer_rows("it_yesno"))
        for stage in ("mono", "tri1", "tri2", "tri3"):
            a = AcousticModel.load(first / f"exp_yesno/{stage}/final.mdl")
            b = AcousticModel.load(again / f"exp_yesno/{stage}/final.mdl")
            np.testing.assert_array_equal(a.gmm.means, b.gmm.means)
            np.testing.assert_array_equal(a.gmm.vars, b.gmm.vars)
            assert (first / f"exp_yesno/{stage}/tree").read_bytes() == (again / f"exp_yesno/{stage}/tree").read_bytes()
            assert (first / f"exp_yesno/{stage}/decode_unigram_test/hyp.txt").read_text() == (
                again / f"exp_yesno/{stage}/decode_unigram_test/hyp.txt").read_text()
    finally:
        shutil.rmtree(again, ignore_errors=True)


def test_rerun_schedules_nothing(yesno: list[str]) -> None:
    assert planned_rules(*yesno) == set()


def test_adding_mmi_and_a_rescoring_lm_schedules_only_their_jobs(yesno: list[str], tmp_path: Path) -> None:
    conf = tmp_path / "mmi.yaml"
    conf.write_text("stages: [mono, tri1, tri2, tri3, mmi]\nrescore_lm: {name: fg, source: train_text, order: 4}\n")
    rules = planned_rules("--configfile", "conf/yesno.yaml", str(conf), *yesno[yesno.index("--config"):])
    # no data, lang, GMM or first-pass decode jobs: the HCLG stages' kept lattices are rescored (lmrescore)
    assert rules == {"lm", "G", "train_seqnet", "graph_seqnet", "decode_seqnet", "rescore_seqnet", "lmrescore",
                     "score", "summary", "all"}


def test_an_fmllr_decode_of_the_monophones_retrains_and_redecodes_nothing(yesno: list[str], tmp_path: Path) -> None:
    conf = tmp_path / "fmllr.yaml"
    conf.write_text("decode: {fmllr_stages: [mono]}\n")
    args = ["--configfile", "conf/yesno.yaml", str(conf), *yesno[yesno.index("--config"):]]
    assert planned_rules(*args) == {"decode", "score", "summary", "all"}
    out = snakemake("-n", "-p", *args)
    text = out.stdout + out.stderr
    # one new decode, of mono's model on mono's graph, with mono's model as its first-pass model
    assert re.findall(r"wildcards: lex=yesno, stage=(\w+), lm=unigram, test_set=test", text) == ["mono_fmllr"] * 2
    assert "--graph results/it_yesno/exp_yesno/mono/graph_unigram" in text
    assert "--model results/it_yesno/exp_yesno/mono/final.mdl" in text
    assert "--si-model results/it_yesno/exp_yesno/mono/final.mdl" in text


def test_an_fmllr_decode_of_a_sat_stage_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "fmllr.yaml"
    conf.write_text("decode: {fmllr_stages: [tri3]}\n")
    out = snakemake("-n", "--configfile", "conf/synth_digits.yaml", str(conf), check=False)
    assert out.returncode != 0 and "decode.fmllr_stages: 'tri3' must be a speaker-independent" in out.stdout + out.stderr


def test_nnet_speed_perturbation_retrains_only_the_networks(yesno: list[str], tmp_path: Path) -> None:
    conf = tmp_path / "sp.yaml"
    conf.write_text("data: {nnet_speed_perturb: [0.9, 1.1]}\nstages: [mono, tri1, tri2, tri3, hybrid, ctc]\n")
    args = ["--configfile", "conf/yesno.yaml", str(conf), *yesno[yesno.index("--config"):]]
    text = snakemake("-n", *args).stdout
    rules = planned_rules(*args)
    # Kaldi's train_sp: the copies get features and SAT alignments; data prep and the GMMs are not redone
    assert {"speed_perturb_nnet", "features", "align_fmllr", "train_hybrid", "train_seqnet"} <= rules
    assert not rules & {"data_prepare", "lang", "mono", "train_tri1", "train_tri2", "train_tri3"}
    assert set(re.findall(r"wildcards: (?:lex=\w+, stage=\w+, )?part=(\w+)", text)) == {"train_sp"}
    assert "tri3_ali_train_sp/ali.npz" in text and "data/train_sp/feats.lca" in text


def test_small_networks_train_and_decode_through_the_dag(yesno: list[str], tmp_path: Path) -> None:
    # the last test on results/it_yesno: it adds rows to its wer.tsv. Small nets (one probe run on 1 thread, before
    # config `threads`: hybrid 0.86%, ctc 0.43%, 1.6 min in all); the full-size yesno figures are the README's
    conf = tmp_path / "nets.yaml"
    conf.write_text("stages: [mono, tri1, tri2, tri3, hybrid, ctc]\n"
                    "hybrid: {hidden_dim: 128, epochs: 4, patience: 4, average_last: 2}\n"
                    "ctc: {epochs: 30, patience: 30, restarts: 1}\n")
    snakemake("--configfile", "conf/yesno.yaml", str(conf), *yesno[yesno.index("--config"):])
    rows = {r["stage"]: r for r in wer_rows("it_yesno")}
    assert {"hybrid", "ctc", "ctc_k2"} <= set(rows)
    assert all(float(rows[s]["wer"]) <= 3.0 for s in ("hybrid", "ctc", "ctc_k2")), rows
    exp = REPO / "results/it_yesno/exp_yesno"
    # kaldi-decoder and k2 decode the same HLG to the same words
    assert (exp / "ctc/decode_unigram_test/hyp.txt").read_text() == (exp / "ctc_k2/decode_unigram_test/hyp.txt").read_text()
    md = (REPO / "results/it_yesno/RESULTS.md").read_text()
    for net in ("hybrid", "ctc"):
        assert f"exp_yesno/{net}/training_curve.png" in md
        assert (exp / net / "final.onnx").stat().st_size > 0 and (exp / net / "final.ts").stat().st_size > 0


def test_speed_perturbing_every_stage_and_the_networks_again_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "sp.yaml"
    conf.write_text("data: {speed_perturb: [0.9], nnet_speed_perturb: [0.9, 1.1]}\n")
    out = snakemake("-n", "--configfile", "conf/synth_digits.yaml", str(conf), check=False)
    assert out.returncode != 0 and "perturbed twice" in out.stdout + out.stderr


def test_synth_digits_wer(synth: list[str]) -> None:
    # measured (seed 0, kernels pinned): mono 2.00, tri1 3.26, tri2 4.26, tri3 0.25 — the speaker-independent
    # triphones split long single-phone "OH"s into "OH OH" on unseen voices; SAT removes most of it
    rows = {r["stage"]: r for r in wer_rows("it_synth")}
    assert list(rows) == ["mono", "tri1", "tri2", "tri3"]
    assert float(rows["mono"]["wer"]) <= 2.5, rows["mono"]
    assert float(rows["tri3"]["wer"]) <= 1.5, rows["tri3"]
    assert float(rows["tri3"]["wer"]) < float(rows["mono"]["wer"])
    assert all(float(r["wer"]) <= 6.0 for r in rows.values()), rows


def test_lm_order_change_reschedules_only_lm_and_downstream(synth: list[str], tmp_path: Path) -> None:
    conf = tmp_path / "bigram.yaml"
    conf.write_text("lm: {order: 2}\n")
    rules = planned_rules("--configfile", "conf/synth_digits.yaml", str(conf), *synth[synth.index("--config"):])
    assert rules == {"lm", "G", "graph", "decode", "score", "summary", "all"}


def test_adding_an_lm_decodes_with_it_and_retrains_nothing(synth: list[str], tmp_path: Path) -> None:
    conf = tmp_path / "lms.yaml"
    conf.write_text("lms: {bg: {order: 2}}\n")
    rules = planned_rules("--configfile", "conf/synth_digits.yaml", str(conf), *synth[synth.index("--config"):])
    assert rules == {"lm", "G", "graph", "decode", "score", "summary", "all"}


def test_a_new_lexicon_retrains_from_lang_but_not_data_or_features(synth: list[str], tmp_path: Path) -> None:
    conf = tmp_path / "lexicon.yaml"
    # the same digits lexicon beside the first under another name, with the monophone stage only
    conf.write_text("lexicons: {digits_again: {stages: [mono]}}\n")
    rules = planned_rules("--configfile", "conf/synth_digits.yaml", str(conf), *synth[synth.index("--config"):])
    assert rules == {"lang", "G", "mono", "graph", "decode", "score", "summary", "all"}
    conf.write_text("lexicon: {name: digits_renamed}\n")  # the primary lexicon swapped: its whole ladder
    rules = planned_rules("--configfile", "conf/synth_digits.yaml", str(conf), *synth[synth.index("--config"):])
    assert rules == {"lang", "G", "mono", "train_tri1", "train_tri2", "train_tri3", "align_fmllr", "graph", "decode",
                     "score", "summary", "all"}


def test_unknown_config_key_is_rejected() -> None:
    out = snakemake("-n", "--config", "bogus_key=1", check=False)
    assert out.returncode != 0 and "bogus_key" in out.stdout + out.stderr


def test_unknown_recipe_names_the_choices() -> None:
    out = snakemake("-n", "--config", "recipe=nope", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "nope" in text and "yesno" in text


def test_a_command_grammar_as_the_primary_lm_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "grammar.yaml"
    conf.write_text("lm: {name: cmds, source: grammar, grammar: lang/an4/commands.grammar}\n")
    out = snakemake("-n", "--configfile", "conf/synth_digits.yaml", str(conf), check=False)
    assert out.returncode != 0 and "put the command grammar 'cmds' under `lms`" in out.stdout + out.stderr


def test_an_extra_lexicon_with_the_primary_name_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "lexicons.yaml"
    conf.write_text("lexicons: {digits: {source: grapheme}}\n")
    out = snakemake("-n", "--configfile", "conf/synth_digits.yaml", str(conf), check=False)
    assert out.returncode != 0 and "'digits' is the primary's name" in out.stdout + out.stderr
