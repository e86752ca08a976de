"""Corpus module for `synth_digits`: manifests from a corpus synthesized by asrflow.data.synth (split by voice)."""

from __future__ import annotations

from pathlib import Path

from asrflow.common import AsrflowError
from asrflow.data.corpus import Part, make_part
from asrflow.data.synth import corpus_split


def parts(corpus_dir: Path | None, cfg: dict) -> list[str]:
    """Name the parts this corpus yields."""
    return ["train", "test"]


def prepare(corpus_dir: Path | None, cfg: dict) -> dict[str, Part]:
    """Train and test parts of a synthesized corpus; test voices are those voices.tsv marks `test`."""
    corpus_dir = Path(corpus_dir or "")
    transcripts = corpus_dir / "transcripts.tsv"
    if not transcripts.is_file():
        raise AsrflowError(f"{corpus_dir} has no transcripts.tsv, so it is not a synthesized corpus; "
                           "delete it and rerun the synth_digits recipe to synthesize it again")
    split = corpus_split(corpus_dir)
    rows: dict[str, list[tuple[str, Path, str, str]]] = {"train": [], "test": []}
    for line in transcripts.read_text(encoding="utf-8").splitlines():
        utt_id, voice_id, words = line.split("\t")
        rows[split[voice_id]].append((utt_id, corpus_dir / "wav" / voice_id / f"{utt_id}.wav", voice_id, words))
    return {name: make_part(r) for name, r in rows.items()}
