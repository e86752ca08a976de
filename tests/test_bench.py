"""bench/bench.py's parsing of a results tree (benchmark TSVs + decode_info.json), on a fabricated tree."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from conftest import REPO

TSV_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _load_bench():
    """Import bench/bench.py (a script, not a package) as a module."""
    spec = importlib.util.spec_from_file_location("bench", REPO / "bench" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def _write_tsv(path: Path, *rows: str) -> None:
    """Write a Snakemake-style benchmark TSV with the given data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TSV_HEADER + "".join(r + "\n" for r in rows))


def _write_decode(results: Path, stage: str, name: str, rtf: float) -> None:
    """Write exp_digits/<stage>/<name>/decode_info.json as the decode rule does."""
    d = results / "exp_digits" / stage / name
    d.mkdir(parents=True)
    (d / "decode_info.json").write_text(json.dumps({"rtf": rtf, "decode_seconds": rtf * 100, "audio_seconds": 100.0}))


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A results/<recipe> tree: training, a passing mono decode, a failing one, a tri1 decode, an NA cell."""
    r = tmp_path / "results" / "toy"
    _write_tsv(r / "benchmarks" / "train_mono.tsv", "5.11\t0:00:05\t631.89\t6586.70\t1\t1\t0\t0\t147\t8.33")
    _write_tsv(r / "benchmarks" / "features_train.tsv", "1.00\t0:00:01\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA",
               "1.50\t0:00:01\t273.04\t2276.79\t1\t1\t0\t0\t32\t1.00")
    _write_tsv(r / "benchmarks" / "decode_mono_digits_tg_test.tsv", "2.95\t0:00:02\t301.70\t2170\t1\t1\t0\t0\t68\t2.52")
    _write_tsv(r / "benchmarks" / "decode_mono_digits_tg_dev.tsv", "9.00\t0:00:09\t300.00\t2170\t1\t1\t0\t0\t68\t9.00")
    _write_decode(r, "mono", "decode_tg_test", 0.0011)
    _write_decode(r, "mono", "decode_tg_dev", 0.2)
    _write_decode(r, "tri1", "decode_tg_test", 0.3)  # no benchmark file: still reported
    _write_decode(r, "tri3", "decode_tg_test", 0.08)
    (r / "exp_digits" / "tri3" / "final.alimdl").write_bytes(b"")  # a SAT stage: the two-pass target applies
    return r


def test_collect_reads_wall_rss_and_rtf(results: Path) -> None:
    """Every TSV and every decode_info.json gives one row; decodes are joined to their TSV by name."""
    rows = {r.step: r for r in bench.collect(results, "toy")}
    assert sorted(rows) == ["decode_mono_digits_tg_dev", "decode_mono_digits_tg_test", "decode_tri1_digits_tg_test",
                            "decode_tri3_digits_tg_test", "features_train", "train_mono"]
    assert (rows["train_mono"].wall_s, rows["train_mono"].max_rss_mb, rows["train_mono"].rtf) == (5.11, 631.89, None)
    assert (rows["features_train"].wall_s, rows["features_train"].max_rss_mb) == (1.5, 273.04)  # last repeat
    test = rows["decode_mono_digits_tg_test"]
    assert (test.stage, test.wall_s, test.rtf) == ("mono", 2.95, 0.0011)
    tri1 = rows["decode_tri1_digits_tg_test"]
    assert (tri1.stage, tri1.wall_s, tri1.max_rss_mb, tri1.rtf) == ("tri1", None, None, 0.3)


def test_verdicts_apply_the_mono_and_sat_targets(results: Path) -> None:
    """Mono decodes pass at RTF <= 0.05, SAT decodes at <= 0.1; other stages and non-decodes get no verdict."""
    verdicts = {r.step: r.verdict for r in bench.collect(results, "toy")}
    assert verdicts == {"decode_mono_digits_tg_dev": "FAIL", "decode_mono_digits_tg_test": "PASS", "decode_tri1_digits_tg_test": "",
                        "decode_tri3_digits_tg_test": "PASS", "features_train": "", "train_mono": ""}


def test_na_cells_become_none(tmp_path: Path) -> None:
    """Snakemake writes NA when it could not measure memory; that is read as missing, not as an error."""
    path = tmp_path / "b.tsv"
    _write_tsv(path, "0.40\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA")
    assert bench.read_benchmark_tsv(path) == (0.4, None)


def test_fresh_marks_rows_older_than_the_run(results: Path) -> None:
    """With a run start time, TSVs written before it are marked stale (not rerun, so not measured on one core)."""
    old = results / "benchmarks" / "train_mono.tsv"
    os.utime(old, (1_000_000, 1_000_000))
    rows = {r.step: r for r in bench.collect(results, "toy", since=2_000_000)}
    assert rows["train_mono"].fresh is False
    assert rows["decode_mono_digits_tg_test"].fresh is True
    assert all(r.fresh is None for r in bench.collect(results, "toy"))


def test_format_table_lists_rows_verdicts_and_total(results: Path) -> None:
    """The table has a header, one line per row with its verdict, and the recipe's total wall time."""
    lines = bench.format_table(bench.collect(results, "toy")).splitlines()
    assert lines[0].split()[:3] == ["recipe", "step", "wall"]
    assert any("decode_mono_digits_tg_dev" in line and "FAIL" in line for line in lines)
    assert "18.56" in lines[-1] and "TOTAL" in lines[-1]  # 5.11 + 1.50 + 2.95 + 9.00


def test_empty_results_dir_gives_no_rows(tmp_path: Path) -> None:
    """A recipe that has not run yet reports nothing rather than failing."""
    assert bench.collect(tmp_path, "toy") == []


def test_corpus_dirs_pair_with_recipes_in_order(tmp_path: Path) -> None:
    """The n-th --corpus-dir belongs to the n-th --recipe; the rest use their default; extra dirs are an error."""
    assert bench.pair_corpus_dirs(["yesno", "synth_digits"], [str(tmp_path)]) == [
        ("yesno", tmp_path.resolve()), ("synth_digits", None)]
    with pytest.raises(SystemExit):
        bench.pair_corpus_dirs(["yesno"], ["a", "b"])
