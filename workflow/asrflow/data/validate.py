"""Validate prepared corpus parts before anything is written, so bad data fails early with an actionable message.

All problems (up to MAX_SHOWN) are collected and raised together as one AsrflowError naming each
utterance, its audio file and the fix. Audio checks open each "file" source's header with soundfile.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path

import soundfile as sf
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from asrflow.common import AsrflowError

MAX_SHOWN = 20
DEFAULT_MIN_DURATION = 0.1


def normalise_text(text: str) -> str:
    """Return the canonical transcript: NFKC-normalised, uppercase, words separated by single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).upper().split())


def describe_char(c: str) -> str:
    """Name a character for an error message, e.g. `U+200B (ZERO WIDTH SPACE)`."""
    return f"U+{ord(c):04X} ({unicodedata.name(c, 'unnamed')})"


def file_sources(rec: Recording) -> list[Path]:
    """Return the paths of a recording's file-backed audio sources (other source types are not checked)."""
    return [Path(s.source) for s in rec.sources if s.type == "file"]


def audio_problems(rec: Recording, cfg: dict) -> list[str]:
    """Check that each audio file of a recording exists, decodes, is mono, long enough and at the right rate."""
    problems = []
    target_sr = int(cfg["sample_rate"])
    min_dur = float(cfg.get("min_duration", DEFAULT_MIN_DURATION))
    for path in file_sources(rec):
        where = f"utterance {rec.id}: audio file {path}"
        if not path.is_file():
            problems.append(f"{where} is missing: restore it or drop the utterance from the corpus")
            continue
        try:
            info = sf.info(str(path))
        except (OSError, RuntimeError, sf.LibsndfileError) as err:
            problems.append(f"{where} is unreadable or corrupt ({err}): re-export it as PCM WAV or remove it")
            continue
        if info.frames == 0:
            problems.append(f"{where} is empty (0 samples): re-export it or remove it")
        elif info.frames / info.samplerate < min_dur:
            problems.append(
                f"{where} is too short ({info.frames / info.samplerate:.3f} s < data.min_duration {min_dur} s): "
                "remove it or lower data.min_duration"
            )
        if info.samplerate != target_sr and not cfg.get("resample"):
            problems.append(
                f"{where} has sample rate {info.samplerate} Hz, not data.sample_rate {target_sr} Hz: "
                f"set data.resample: true or data.sample_rate: {info.samplerate}"
            )
        if info.channels != 1:
            problems.append(f"{where} has {info.channels} channels, not 1: downmix it (sox in.wav -c 1 out.wav)")
    return problems


def text_problems(sup: SupervisionSegment, audio: str) -> list[str]:
    """Check that a transcript is non-empty and has only printable characters after NFKC normalisation."""
    where = f"utterance {sup.id} (audio {audio})"
    text = normalise_text(sup.text or "")
    if not text:
        return [f"{where} has an empty transcript: fix the transcript or remove the utterance"]
    bad = sorted({c for c in text if not c.isprintable()})
    if bad:
        chars = ", ".join(describe_char(c) for c in bad)
        return [f"{where} has non-printable characters in its transcript ({chars}): delete them from the transcript"]
    return []


def duplicate_problems(ids: list[str], what: str) -> list[str]:
    """Report ids that occur more than once."""
    return [f"duplicate {what} id {i} ({n} times): make utterance ids unique" for i, n in Counter(ids).items() if n > 1]


def link_problems(recordings: RecordingSet, supervisions: SupervisionSet) -> list[str]:
    """Check that every recording has exactly one supervision and every supervision has a recording."""
    rec_ids = set(recordings.ids)
    per_rec = Counter(s.recording_id for s in supervisions)
    problems = [f"supervision {s.id} refers to unknown recording {s.recording_id}" for s in supervisions
                if s.recording_id not in rec_ids]
    problems += [f"utterance {r} has {per_rec[r]} transcripts, expected exactly 1" for r in sorted(rec_ids)
                 if per_rec[r] != 1]
    return problems


def part_problems(recordings: RecordingSet, supervisions: SupervisionSet, cfg: dict) -> list[str]:
    """Collect every problem of one part."""
    problems = duplicate_problems(list(recordings.ids), "recording")
    problems += duplicate_problems([s.id for s in supervisions], "utterance")
    problems += link_problems(recordings, supervisions)
    audio = {r.id: r.sources[0].source if r.sources else "?" for r in recordings}
    for rec in recordings:
        problems += audio_problems(rec, cfg)
    for sup in supervisions:
        problems += text_problems(sup, audio.get(sup.recording_id, "?"))
    return problems


def cross_part_problems(parts: dict[str, tuple[RecordingSet, SupervisionSet]]) -> list[str]:
    """Report utterance ids that occur in more than one part (a train/test leak)."""
    owner: dict[str, list[str]] = {}
    for name, (recordings, _) in sorted(parts.items()):
        for rec_id in set(recordings.ids):
            owner.setdefault(rec_id, []).append(name)
    return [f"utterance {i} is in several parts ({', '.join(p)}): each utterance must be in one part"
            for i, p in sorted(owner.items()) if len(p) > 1]


def validate_parts(parts: dict[str, tuple[RecordingSet, SupervisionSet]], cfg: dict) -> None:
    """Raise one AsrflowError listing every problem found in the parts (the first MAX_SHOWN of them)."""
    if "sample_rate" not in cfg:
        raise AsrflowError("data config lacks sample_rate: set data.sample_rate (e.g. 16000)")
    problems = []
    for name, (recordings, supervisions) in sorted(parts.items()):
        if len(recordings) == 0:
            problems.append(f"part {name} has no utterances: check the corpus directory and the split settings")
        problems += [f"[{name}] {p}" for p in part_problems(recordings, supervisions, cfg)]
    problems += cross_part_problems(parts)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:MAX_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise AsrflowError(f"{len(problems)} problem(s) in the corpus data:\n{shown}{more}")
