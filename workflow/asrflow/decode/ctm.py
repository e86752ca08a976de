"""Word timings from a frame alignment and the lexicon, written as CTM (Kaldi's lattice-align-words-lexicon)."""

from __future__ import annotations

from asrflow.lang.langdir import LangDir


def read_prons(lang: LangDir) -> dict[str, list[tuple[int, ...]]]:
    """Word → its pronunciations as phone-id tuples (the lang dir's lexicon.txt)."""
    prons: dict[str, list[tuple[int, ...]]] = {}
    for line in (lang.path / "lexicon.txt").read_text(encoding="utf-8").splitlines():
        word, *phones = line.split()
        prons.setdefault(word, []).append(tuple(lang.phones[p] for p in phones))
    return prons


def word_segments(
    phone_segs: list[tuple[int, int, int]], words: list[str], prons: dict[str, list[tuple[int, ...]]],
    silence: set[int],
) -> list[tuple[str, int, int]]:
    """Group phone segments into (word, first frame, end frame); silence between words is skipped."""
    speech = [s for s in phone_segs if s[0] not in silence]
    out, i = [], 0
    for word in words:
        phones = tuple(p for p, _, _ in speech[i:])
        pron = next((p for p in sorted(prons.get(word, []), key=len, reverse=True) if phones[: len(p)] == p), None)
        if pron is None:  # the alignment does not spell this word: give up on timing the rest
            break
        out.append((word, speech[i][1], speech[i + len(pron) - 1][2]))
        i += len(pron)
    return out


def ctm_lines(utt: str, segs: list[tuple[str, int, int]], frame_shift: float) -> list[str]:
    """CTM lines `utt 1 start duration WORD` (seconds, two decimals as Kaldi)."""
    return [f"{utt} 1 {a * frame_shift:.2f} {(b - a) * frame_shift:.2f} {w}" for w, a, b in segs]

