"""Benchmark asrflow recipes on one core: wall time and peak memory per rule, and the decoding real-time factor.

Runs Snakemake from the repository root with --cores 1, pinned to one CPU, then reads the rules' `benchmark:`
TSVs (results/<recipe>/benchmarks/*.tsv) and every decode_info.json, and prints one table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MONO_RTF_TARGET = 0.05  # mono decoding must run at least 20x faster than real time on one core
SAT_RTF_TARGET = 0.1  # two-pass fMLLR decoding (a SAT stage, or a <stage>_fmllr decode), one core
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@dataclass(frozen=True)
class BenchRow:
    """One benchmarked rule run (or one decode without a benchmark file) of a recipe."""

    recipe: str
    step: str  # the benchmark file's stem: the rule and its wildcards, e.g. train_mono, decode_mono_tg_test
    wall_s: float | None
    max_rss_mb: float | None
    stage: str | None = None  # acoustic-model stage, for decodes
    rtf: float | None = None  # decode seconds / audio seconds, for decodes
    target: float | None = None  # the RTF this decode must reach, where one is set
    fresh: bool | None = None  # written by this benchmark run; False: left over from an earlier run; None: no run

    @property
    def verdict(self) -> str:
        """PASS/FAIL against the decode's RTF target; empty for rows without one."""
        if self.target is None or self.rtf is None:
            return ""
        return "PASS" if self.rtf <= self.target else "FAIL"


def _number(text: str) -> float | None:
    """A benchmark TSV cell as a float; None for Snakemake's "NA" (or anything else non-numeric)."""
    try:
        return float(text)
    except ValueError:
        return None


def read_benchmark_tsv(path: Path) -> tuple[float | None, float | None]:
    """Wall seconds and max RSS (MB) from a Snakemake benchmark TSV; with repeats, the last row counts."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        return None, None
    return _number(rows[-1]["s"]), _number(rows[-1].get("max_rss", "NA"))


def read_decode_infos(results_dir: Path) -> dict[str, tuple[str, float]]:
    """Map each decode's benchmark stem (decode_<stage>_<lexicon>_<lm>_<set>) to (stage, RTF) from its
    exp_<lexicon>/<stage>/decode_<lm>_<set>/decode_info.json."""
    infos = {}
    for path in sorted(results_dir.glob("exp_*/*/decode_*/decode_info.json")):
        lexicon, stage, decode_dir = path.parents[2].name.removeprefix("exp_"), path.parent.parent.name, path.parent.name
        step = f"decode_{stage}_{lexicon}_{decode_dir.removeprefix('decode_')}"
        infos[step] = (stage, float(json.loads(path.read_text())["rtf"]))
    return infos


def rtf_target(results_dir: Path, stage: str | None) -> float | None:
    """The decoding RTF target of a stage: mono's, a two-pass fMLLR decode's (a SAT stage, which has final.alimdl,
    or an <stage>_fmllr decode), or none."""
    if stage == "mono":
        return MONO_RTF_TARGET
    if stage is not None and (stage.endswith("_fmllr")
                              or any((d / stage / "final.alimdl").exists() for d in results_dir.glob("exp_*"))):
        return SAT_RTF_TARGET
    return None


def collect(results_dir: Path, recipe: str, since: float | None = None) -> list[BenchRow]:
    """All benchmark rows of one recipe's results dir, sorted by step; `since` (run start, epoch s) sets `fresh`."""
    decodes = read_decode_infos(results_dir)
    tsvs = {p.stem: p for p in (results_dir / "benchmarks").glob("*.tsv")}
    rows = []
    for step in sorted(tsvs.keys() | decodes.keys()):
        wall, rss = read_benchmark_tsv(tsvs[step]) if step in tsvs else (None, None)
        stage, rtf = decodes.get(step, (None, None))
        fresh = None if since is None else step in tsvs and tsvs[step].stat().st_mtime >= since
        rows.append(BenchRow(recipe, step, wall, rss, stage, rtf, target=rtf_target(results_dir, stage), fresh=fresh))
    return rows


def _cell(value: float | None, fmt: str) -> str:
    """A number formatted for the table, or "-" when absent."""
    return "-" if value is None else format(value, fmt)


def format_table(rows: list[BenchRow]) -> str:
    """The rows as an aligned text table, with a per-recipe total of the wall times."""
    header = ("recipe", "step", "wall s", "max RSS MB", "RTF", "RTF target", "from")
    lines = [header]
    for r in rows:
        lines.append((r.recipe, r.step, _cell(r.wall_s, ".2f"), _cell(r.max_rss_mb, ".0f"), _cell(r.rtf, ".4f"),
                      f"{r.verdict} (<={r.target})" if r.verdict else "", {True: "this run", False: "earlier", None: ""}[r.fresh]))
    for recipe in dict.fromkeys(r.recipe for r in rows):
        total = sum(r.wall_s or 0.0 for r in rows if r.recipe == recipe)
        lines.append((recipe, "TOTAL (benchmarked rules)", f"{total:.2f}", "", "", "", ""))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def machine_description() -> str:
    """CPU model and core count of this machine (the table's numbers mean little without them)."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"machine: {model}, {os.cpu_count()} cores"


def run_recipe(recipe: str, corpus_dir: Path | None, force: bool, cpu: int) -> float:
    """Run the recipe through Snakemake on one core from the repo root; return the start time (epoch s)."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", f"conf/{recipe}.yaml"]
    if force:
        cmd.append("--forceall")
    if corpus_dir is not None:
        cmd += ["--config", f"corpus_dir={corpus_dir}"]
    start = time.time()
    subprocess.run(cmd, cwd=REPO, env={**os.environ, **SINGLE_THREAD_ENV}, check=True,
                   preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    return start


def pair_corpus_dirs(recipes: list[str], corpus_dirs: list[str]) -> list[tuple[str, Path | None]]:
    """Pair the n-th --corpus-dir with the n-th --recipe (made absolute: Snakemake runs from the repo root)."""
    if len(corpus_dirs) > len(recipes):
        raise SystemExit("bench: more --corpus-dir than --recipe options")
    dirs = [Path(d).resolve() for d in corpus_dirs] + [None] * (len(recipes) - len(corpus_dirs))
    return list(zip(recipes, dirs))


def main(argv: list[str] | None = None) -> int:
    """Run (unless --no-run) each recipe on one core and print the machine and the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", help="conf/<recipe>.yaml; repeatable (default: synth_digits)")
    parser.add_argument("--corpus-dir", action="append", default=[],
                        help="corpus of the n-th --recipe (default: the recipe's own: download or synthesize)")
    parser.add_argument("--force", action="store_true", help="rerun every rule (--forceall), so all rows are fresh")
    parser.add_argument("--no-run", action="store_true", help="only report what results/<recipe>/ already holds")
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)), help="the CPU to pin to")
    args = parser.parse_args(argv)
    rows = []
    for recipe, corpus_dir in pair_corpus_dirs(args.recipe or ["synth_digits"], args.corpus_dir):
        since = None if args.no_run else run_recipe(recipe, corpus_dir, args.force, args.cpu)
        rows += collect(REPO / "results" / recipe, recipe, since)
    print(machine_description())
    if not args.no_run:
        print(f"runs: snakemake --cores 1, pinned to CPU {args.cpu}; decodes on 1 BLAS/OpenMP thread, training jobs on "
              "config `threads` sharing that CPU (so they train the same models as on more cores)")
    print(format_table(rows))
    return 1 if any(r.verdict == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
