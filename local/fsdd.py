"""Corpus module for the Free Spoken Digit Dataset: `{digit}_{speaker}_{take}.wav`, one digit per file."""

from __future__ import annotations

import re
from pathlib import Path

from asrflow.common import AsrflowError
from asrflow.data.corpus import Part, make_part

WORDS = ["ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE"]
NAME = re.compile(r"(\d)_([A-Za-z]+)_(\d+)")
NUM_TEST_TAKES = 5  # the dataset's own split: takes 0-4 are test


def parts(corpus_dir: Path | None, cfg: dict) -> list[str]:
    """Name the parts this corpus yields."""
    return ["train", "test"]


def find_files(corpus_dir: Path) -> list[tuple[str, Path, str, str, int]]:
    """Return `(utt_id, path, speaker, text, take)` for every FSDD file below `corpus_dir`."""
    rows = []
    for path in sorted(Path(corpus_dir).resolve().rglob("*.wav")):
        m = NAME.fullmatch(path.stem)
        if m:
            digit, speaker, take = int(m[1]), m[2], int(m[3])
            rows.append((f"{speaker}-{digit}-{take:02d}", path, speaker, WORDS[digit], take))
    if not rows:
        raise AsrflowError(f"fsdd: no files like 3_jackson_7.wav below {corpus_dir}: check corpus_dir")
    return rows


def is_test(row: tuple[str, Path, str, str, int], test_speakers: list[str]) -> bool:
    """Tell whether a file belongs to the test part under the configured split."""
    return row[2] in test_speakers if test_speakers else row[4] < NUM_TEST_TAKES


def prepare(corpus_dir: Path | None, cfg: dict) -> dict[str, Part]:
    """Split by cfg["test_speakers"] (speaker-independent) or, if empty, by take (the dataset's split)."""
    if corpus_dir is None:
        raise AsrflowError("fsdd: corpus_dir is required (this recipe does not download)")
    rows = find_files(corpus_dir)
    test_speakers = list(cfg.get("test_speakers") or [])
    known = sorted({r[2] for r in rows})
    unknown = sorted(set(test_speakers) - set(known))
    if unknown:
        raise AsrflowError(f"fsdd: test_speakers {unknown} not in the corpus; available speakers: {known}")
    split = {"train": [], "test": []}
    for row in rows:
        split["test" if is_test(row, test_speakers) else "train"].append(row[:4])
    return {name: make_part(utts) for name, utts in split.items()}
