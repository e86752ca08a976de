"""Corpus preparation for `synth_digits`: lhotse manifests from a corpus made by asrflow.data.synth."""

from __future__ import annotations

from pathlib import Path

from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from asrflow.common import AsrflowError
from asrflow.data.synth import corpus_split


def prepare(corpus_dir: Path, cfg: dict) -> dict[str, tuple[RecordingSet, SupervisionSet]]:
    """Return {"train", "test"} recordings and whole-recording supervisions; `cfg` is unused (shared signature)."""
    corpus_dir = Path(corpus_dir)
    transcripts = corpus_dir / "transcripts.tsv"
    if not transcripts.is_file():
        raise AsrflowError(f"{corpus_dir} has no transcripts.tsv, so it is not a synthesized corpus; "
                           "delete it and rerun the synth_digits recipe to synthesize it again")
    split = corpus_split(corpus_dir)
    parts: dict[str, tuple[list[Recording], list[SupervisionSegment]]] = {"train": ([], []), "test": ([], [])}
    for line in transcripts.read_text(encoding="utf-8").splitlines():
        utt_id, voice_id, words = line.split("\t")
        rec = Recording.from_file(corpus_dir / "wav" / voice_id / f"{utt_id}.wav", recording_id=utt_id)
        recs, sups = parts[split[voice_id]]
        recs.append(rec)
        sups.append(SupervisionSegment(id=utt_id, recording_id=utt_id, start=0.0, duration=rec.duration, channel=0,
                                       speaker=voice_id, text=words, language="English"))
    return {name: (RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups))
            for name, (recs, sups) in parts.items()}
