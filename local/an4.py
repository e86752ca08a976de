"""Corpus module for CMU AN4 (released layout): train part with a held-out dev part by speaker, plus test if present.

Utterance ids are `<speaker>-<corpus id>` (e.g. `fash-an251-fash-b`), so sorting groups speakers as Kaldi wants.
"""

from __future__ import annotations

import re
from pathlib import Path

from asrflow.common import AsrflowError
from asrflow.data.corpus import Part, make_part

LINE = re.compile(r"\s*(?:<s>)?(.*?)(?:</s>)?\s*\(([^()\s]+)\)\s*")
SETS = {"train": ("an4_clstk", "an4_train.transcription"), "test": ("an4test_clstk", "an4_test.transcription")}
DEFAULT_NUM_DEV_SPEAKERS = 8


def has_test(corpus_dir: Path) -> bool:
    """Tell whether the corpus holds the official test part (the full CMU release does)."""
    wav_dir, trans = SETS["test"]
    return (corpus_dir / "wav" / wav_dir).is_dir() and (corpus_dir / "etc" / trans).is_file()


def parts(corpus_dir: Path | None, cfg: dict) -> list[str]:
    """Name the parts this corpus yields: train, dev and, when present, test."""
    return ["train", "dev"] + (["test"] if corpus_dir is not None and has_test(Path(corpus_dir)) else [])


def read_set(corpus_dir: Path, name: str) -> list[tuple[str, Path, str, str]]:
    """Read one AN4 set's transcription into `(utt_id, wav, speaker, text)` rows, checking each wav exists."""
    wav_dir, trans = SETS[name]
    wavs = {p.stem: p for p in (corpus_dir / "wav" / wav_dir).glob("*/*.wav")}
    trans_path = corpus_dir / "etc" / trans
    if not trans_path.is_file():
        raise AsrflowError(f"an4: {trans_path} is missing: corpus_dir must be the AN4 release folder")
    rows = []
    for n, line in enumerate(trans_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        m = LINE.fullmatch(line)
        if not m:
            raise AsrflowError(f"an4: {trans_path}:{n}: expected `<s> WORDS </s> (utt-id)`, got {line!r}")
        text, utt = m[1].strip(), m[2]
        if utt not in wavs:
            raise AsrflowError(f"an4: {trans_path}:{n}: no wav/{wav_dir}/*/{utt}.wav for utterance {utt}")
        speaker = wavs[utt].parent.name
        rows.append((f"{speaker}-{utt}", wavs[utt], speaker, text))
    return rows


def dev_speakers(speakers: list[str], cfg: dict) -> list[str]:
    """Return cfg["dev_speakers"], or every k-th of the sorted speakers (cfg["num_dev_speakers"] of them)."""
    chosen = list(cfg.get("dev_speakers") or [])
    if chosen:
        unknown = sorted(set(chosen) - set(speakers))
        if unknown:
            raise AsrflowError(f"an4: dev_speakers {unknown} not in the training part; available: {speakers}")
        return chosen
    num = int(cfg.get("num_dev_speakers", DEFAULT_NUM_DEV_SPEAKERS))
    if not 0 < num < len(speakers):
        raise AsrflowError(f"an4: num_dev_speakers must be between 1 and {len(speakers) - 1}, got {num}")
    step = len(speakers) // num
    return [speakers[i * step + step // 2] for i in range(num)]


def prepare(corpus_dir: Path | None, cfg: dict) -> dict[str, Part]:
    """Prepare train/dev (dev held out by speaker from AN4's training set) and test when the corpus has it."""
    if corpus_dir is None:
        raise AsrflowError("an4: corpus_dir is required (this recipe does not download)")
    root = Path(corpus_dir).resolve()
    rows = read_set(root, "train")
    dev = set(dev_speakers(sorted({r[2] for r in rows}), cfg))
    result = {
        "train": make_part([r for r in rows if r[2] not in dev]),
        "dev": make_part([r for r in rows if r[2] in dev]),
    }
    if has_test(root):
        result["test"] = make_part(read_set(root, "test"))
    return result
