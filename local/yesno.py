"""Corpus module for Kaldi's "yesno" (OpenSLR 1): 60 files named by their words, one speaker."""

from __future__ import annotations

from pathlib import Path

from asrflow.common import AsrflowError
from asrflow.data.corpus import Part, make_part

SPEAKER = "yesno"
WORDS = {"0": "NO", "1": "YES"}
NUM_TRAIN = 31  # Kaldi's egs/yesno: the first 31 file names (sorted) train, the other 29 test


def parts(corpus_dir: Path | None, cfg: dict) -> list[str]:
    """Name the parts this corpus yields."""
    return ["train", "test"]


def resolve_dir(corpus_dir: Path | None, cfg: dict) -> Path:
    """Return the corpus folder, downloading it with Lhotse into cfg["download_dir"] when none is given."""
    if corpus_dir is not None:
        return Path(corpus_dir).resolve()
    if not cfg.get("download_dir"):
        raise AsrflowError("yesno: no corpus_dir and no download_dir: set one of them in the config")
    from lhotse.recipes import download_yesno

    return download_yesno(cfg["download_dir"]).resolve()


def transcript(stem: str) -> str:
    """Turn a file name like `0_1_1` into `NO YES YES`."""
    return " ".join(WORDS[w] for w in stem.split("_"))


def prepare(corpus_dir: Path | None, cfg: dict) -> dict[str, Part]:
    """Split the 60 files Kaldi's way into train (31) and test (29)."""
    root = resolve_dir(corpus_dir, cfg)
    files = sorted(p for p in root.glob("*.wav") if set(p.stem.split("_")) <= set(WORDS))
    if not files:
        raise AsrflowError(f"yesno: no files like 0_1_1_0_0_1_1_0.wav in {root}: check corpus_dir")
    rows = [(p.stem, p, SPEAKER, transcript(p.stem)) for p in files]
    return {"train": make_part(rows[:NUM_TRAIN]), "test": make_part(rows[NUM_TRAIN:])}
