"""Word error rate scoring with kaldialign, written in the formats of Kaldi's compute-wer and per_utt details."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import kaldialign

from asrflow.common import AsrflowError, write_text_atomic

EPS = "***"


@dataclass
class Counts:
    """Error counts over a set of utterances."""

    words: int = 0
    corr: int = 0
    ins: int = 0
    dels: int = 0
    sub: int = 0
    sentences: int = 0
    sentence_errors: int = 0

    @property
    def errors(self) -> int:
        """Insertions + deletions + substitutions."""
        return self.ins + self.dels + self.sub

    @property
    def wer(self) -> float:
        """Word error rate in percent."""
        return _percent(self.errors, self.words)

    @property
    def ser(self) -> float:
        """Sentence error rate in percent."""
        return _percent(self.sentence_errors, self.sentences)

    def add(self, other: Counts) -> None:
        """Accumulate `other` into these counts."""
        for name in ("words", "corr", "ins", "dels", "sub", "sentences", "sentence_errors"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def totals(self) -> dict[str, float | int]:
        """Return the counts and rates as a flat dict (keys as in scores.json: `del`, not `dels`)."""
        return {
            "words": self.words, "corr": self.corr, "ins": self.ins, "del": self.dels, "sub": self.sub,
            "errors": self.errors, "wer": round(self.wer, 4), "sentences": self.sentences,
            "sentence_errors": self.sentence_errors, "ser": round(self.ser, 4),
        }


@dataclass
class UttScore:
    """The alignment of one utterance and its counts."""

    utt: str
    alignment: list[tuple[str, str]]
    counts: Counts


@dataclass
class ScoreResult:
    """Totals, per-utterance alignments, per-speaker counts and the utterances that had no hypothesis."""

    total: Counts
    utts: list[UttScore]
    per_spk: dict[str, Counts] = field(default_factory=dict)
    missing_hyps: list[str] = field(default_factory=list)


def _percent(num: int, den: int) -> float:
    """Return 100 * num / den; 0 for 0/0 and inf for n/0 (a speaker with only empty references and insertions)."""
    if den == 0:
        return 0.0 if num == 0 else math.inf
    return 100.0 * num / den


def score_utt(utt: str, ref: list[str], hyp: list[str]) -> UttScore:
    """Align one reference with its hypothesis and count the errors."""
    alignment = kaldialign.align(ref, hyp, EPS)
    counts = Counts(words=len(ref), sentences=1)
    for r, h in alignment:
        if r == EPS:
            counts.ins += 1
        elif h == EPS:
            counts.dels += 1
        elif r != h:
            counts.sub += 1
        else:
            counts.corr += 1
    counts.sentence_errors = int(counts.errors > 0)
    return UttScore(utt, alignment, counts)


def score(refs: dict[str, str], hyps: dict[str, str], utt2spk: dict[str, str] | None) -> ScoreResult:
    """Score `hyps` against `refs`; a missing hypothesis counts as all deletions, an unknown utterance is an error."""
    unknown = sorted(set(hyps) - set(refs))
    if unknown:
        raise AsrflowError(f"hypotheses for utterances not in the reference: {_show(unknown)}")
    if utt2spk is not None and (no_spk := sorted(set(refs) - set(utt2spk))):
        raise AsrflowError(f"utterances not in utt2spk: {_show(no_spk)}")
    result = ScoreResult(Counts(), [], missing_hyps=sorted(set(refs) - set(hyps)))
    for utt in sorted(refs):
        scored = score_utt(utt, refs[utt].split(), hyps.get(utt, "").split())
        result.utts.append(scored)
        result.total.add(scored.counts)
        if utt2spk is not None:
            result.per_spk.setdefault(utt2spk[utt], Counts()).add(scored.counts)
    if result.total.words == 0:
        raise AsrflowError("the references have no words: WER is undefined")
    return result


def _show(items: list[str], limit: int = 10) -> str:
    """Return the first `limit` items joined, with the total count if there are more."""
    return " ".join(items[:limit]) + (f" ... ({len(items)} in all)" if len(items) > limit else "")


def wer_lines(total: Counts, missing: int) -> str:
    """Return compute-wer's summary: `%WER`, `%SER` and `Scored` lines."""
    return (
        f"%WER {total.wer:.2f} [ {total.errors} / {total.words}, {total.ins} ins, {total.dels} del, {total.sub} sub ]\n"
        f"%SER {total.ser:.2f} [ {total.sentence_errors} / {total.sentences} ]\n"
        f"Scored {total.sentences} sentences, {missing} not present in hyp.\n"
    )


def per_utt_lines(utt: UttScore) -> list[str]:
    """Return Kaldi's per_utt block for one utterance (ref, hyp, op with columns aligned, then #csid)."""
    ops = ["C" if r == h else "I" if r == EPS else "D" if h == EPS else "S" for r, h in utt.alignment]
    widths = [max(len(r), len(h)) for r, h in utt.alignment]
    rows = {
        "ref": [r for r, _ in utt.alignment],
        "hyp": [h for _, h in utt.alignment],
        "op": ops,
    }
    lines = [
        f"{utt.utt} {name:<3} " + " ".join(x.ljust(w) for x, w in zip(row, widths)) for name, row in rows.items()
    ]
    c = utt.counts
    lines.append(f"{utt.utt} #csid {c.corr} {c.sub} {c.ins} {c.dels}")
    return [line.rstrip() for line in lines]


def per_spk_tsv(per_spk: dict[str, Counts]) -> str:
    """Return the per-speaker table as TSV (speaker, sentences, words, corr, sub, ins, del, errors, wer, ser)."""
    header = "speaker\tsentences\twords\tcorr\tsub\tins\tdel\terrors\twer\tsentence_errors\tser"
    rows = [
        f"{spk}\t{c.sentences}\t{c.words}\t{c.corr}\t{c.sub}\t{c.ins}\t{c.dels}\t{c.errors}\t{c.wer:.2f}"
        f"\t{c.sentence_errors}\t{c.ser:.2f}"
        for spk, c in sorted(per_spk.items())
    ]
    return "\n".join([header, *rows]) + "\n"


def write_scores(result: ScoreResult, out_dir: Path, info: dict | None = None) -> None:
    """Write wer.txt, per_utt.txt, per_spk.tsv and scores.json (totals plus `info`, e.g. stage and rtf) atomically."""
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "wer.txt", wer_lines(result.total, len(result.missing_hyps)))
    write_text_atomic(out_dir / "per_utt.txt", "".join(line + "\n" for u in result.utts for line in per_utt_lines(u)))
    write_text_atomic(out_dir / "per_spk.tsv", per_spk_tsv(result.per_spk))
    scores = {**(info or {}), **result.total.totals(), "missing_hyps": result.missing_hyps}
    write_text_atomic(out_dir / "scores.json", json.dumps(scores, indent=2, sort_keys=True) + "\n")
