"""ARPA n-gram files: parse, sanity-check, score sentences and compute perplexity."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from asrflow.common import AsrflowError, get_logger

BOS = "<s>"
EOS = "</s>"
# kaldingram writes log10(1e-99) for probabilities it estimated as zero; ARPA uses -99 for "never" (<s>).
DEGENERATE_LOG10 = -98.0
# kaldingram drops a history's discount mass when every vocabulary word was seen after it (bow = 1, sum < 1);
# a leak under 1% is harmless, a larger one means the order is too high for the text.
SUM_TOLERANCE = 1e-2

Ngrams = dict[tuple[str, ...], tuple[float, "float | None"]]
ArpaLm = dict[int, Ngrams]

_COUNT_RE = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
_SECTION_RE = re.compile(r"^\\(\d+)-grams:$")

log = get_logger("asrflow.lm")


def read_arpa(path: str | Path) -> ArpaLm:
    """Read an ARPA file into {order: {ngram: (log10 prob, log10 backoff or None)}}."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise AsrflowError(f"cannot read ARPA file {path}: {e.strerror}") from e
    return parse_arpa(text.splitlines(), str(path))


def parse_arpa(lines: Iterable[str], source: str) -> ArpaLm:
    """Parse ARPA text lines; `source` names the file in errors as `source:line`."""
    counts: dict[int, int] = {}
    lm: ArpaLm = {}
    order = 0  # 0 before \data\, -1 inside \data\, n inside \n-grams:
    ended = False
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        where = f"{source}:{lineno}"
        if not line or ended:
            continue
        if line == "\\data\\":
            order = -1
        elif line == "\\end\\":
            ended = True
        elif order == 0:
            continue  # free text before \data\ is allowed
        elif m := _COUNT_RE.match(line):
            if order != -1:
                raise AsrflowError(f"{where}: 'ngram N=M' line outside the \\data\\ section")
            counts[int(m.group(1))] = int(m.group(2))
        elif m := _SECTION_RE.match(line):
            order = int(m.group(1))
            if order not in counts:
                raise AsrflowError(f"{where}: section \\{order}-grams: has no 'ngram {order}=' count in \\data\\")
            lm[order] = {}
        elif order > 0:
            ngram, entry = _parse_entry(line, order, where)
            lm[order][ngram] = entry
        else:
            raise AsrflowError(f"{where}: unexpected line {line!r} in ARPA \\data\\ section")
    _check_structure(counts, lm, ended, source)
    return lm


def _parse_entry(line: str, order: int, where: str) -> tuple[tuple[str, ...], tuple[float, float | None]]:
    """Parse one `logprob w1 .. wN [backoff]` line of an N-gram section."""
    fields = line.split()
    if len(fields) not in (order + 1, order + 2):
        raise AsrflowError(f"{where}: expected 'log10prob' + {order} word(s) + optional backoff, got {line!r}")
    try:
        prob = float(fields[0])
        backoff = float(fields[-1]) if len(fields) == order + 2 else None
    except ValueError as e:
        raise AsrflowError(f"{where}: bad number in {line!r}") from e
    if not math.isfinite(prob) or (backoff is not None and not math.isfinite(backoff)):
        raise AsrflowError(f"{where}: non-finite number in {line!r}")
    if prob > 0:
        raise AsrflowError(f"{where}: log10 probability {prob} is positive")
    return tuple(fields[1 : order + 1]), (prob, backoff)


def _check_structure(counts: dict[int, int], lm: ArpaLm, ended: bool, source: str) -> None:
    """Check sections against the \\data\\ counts and that the file ends with \\end\\."""
    if not counts:
        raise AsrflowError(f"{source}: no \\data\\ section with 'ngram N=M' counts; is this an ARPA file?")
    if not ended:
        raise AsrflowError(f"{source}: missing \\end\\ (truncated file?)")
    for order, expected in sorted(counts.items()):
        found = len(lm.get(order, {}))
        if found != expected:
            raise AsrflowError(f"{source}: \\data\\ says ngram {order}={expected} but the section has {found} entries")
    if 1 not in lm or not lm[1]:
        raise AsrflowError(f"{source}: no unigrams")


def format_arpa(lm: ArpaLm) -> str:
    """Write an ArpaLm back as ARPA text."""
    out = ["\\data\\"] + [f"ngram {n}={len(lm[n])}" for n in sorted(lm)] + [""]
    for n in sorted(lm):
        out.append(f"\\{n}-grams:")
        for ngram, (prob, backoff) in lm[n].items():
            bo = "" if backoff is None else f"\t{backoff:.7f}"
            out.append(f"{prob:.7f}\t{' '.join(ngram)}{bo}")
        out.append("")
    out.append("\\end\\")
    return "\n".join(out) + "\n"


def vocabulary(lm: ArpaLm) -> set[str]:
    """Return the words of the LM (its unigrams, <s> and </s> included)."""
    return {ngram[0] for ngram in lm[1]}


def log10_prob(lm: ArpaLm, context: tuple[str, ...], word: str) -> float:
    """Return log10 p(word | context) with ARPA back-off; `word` must be a unigram of the LM."""
    keep = max(lm) - 1
    context = context[-keep:] if keep else ()
    backoff = 0.0
    for start in range(len(context) + 1):
        history = context[start:]
        entry = lm.get(len(history) + 1, {}).get(history + (word,))
        if entry is not None:
            return backoff + entry[0]
        hist_entry = lm.get(len(history), {}).get(history) if history else None
        if hist_entry is not None and hist_entry[1] is not None:
            backoff += hist_entry[1]
    raise KeyError(word)


def problems(lm: ArpaLm) -> list[str]:
    """List what makes the LM unusable: zero-probability n-grams and histories whose probabilities do not sum to 1."""
    found = [
        f"{' '.join(ngram)} has log10 p = {prob}"
        for order in sorted(lm)
        for ngram, (prob, _) in lm[order].items()
        if prob <= DEGENERATE_LOG10 and ngram != (BOS,)
    ]
    for history, total in history_sums(lm).items():
        if abs(total - 1.0) > SUM_TOLERANCE:
            found.append(f"p(. | {' '.join(history) or '<empty>'}) sums to {total:.4f}")
    return found


def history_sums(lm: ArpaLm) -> dict[tuple[str, ...], float]:
    """Return sum_w p(w | h) over the vocabulary (except <s>) for each history h with explicit n-grams.

    Uses sum = sum_seen p(h w) + bow(h) * (1 - sum_seen p(w | h[1:])), exact for back-off models and linear in size.
    """
    seen: dict[tuple[str, ...], list[str]] = {}
    for order in lm:
        for ngram in lm[order]:
            if ngram[-1] != BOS:
                seen.setdefault(ngram[:-1], []).append(ngram[-1])
    sums = {}
    for history, words in seen.items():
        explicit = sum(10 ** lm[len(history) + 1][history + (w,)][0] for w in words)
        if not history:
            sums[history] = explicit
            continue
        hist_entry = lm.get(len(history), {}).get(history)
        bow = 10 ** hist_entry[1] if hist_entry is not None and hist_entry[1] is not None else 1.0
        lower = sum(10 ** log10_prob(lm, history[1:], w) for w in words)
        sums[history] = explicit + bow * (1.0 - lower)
    return sums


@dataclass(frozen=True)
class PerplexityStats:
    """Totals of scoring sentences with an LM, as SRILM's `ngram -ppl` reports them."""

    sentences: int
    words: int
    oovs: int
    log10_prob: float

    @property
    def perplexity(self) -> float:
        """Perplexity over in-vocabulary words plus one </s> per sentence."""
        return 10 ** (-self.log10_prob / (self.words - self.oovs + self.sentences))


def score_sentences(lm: ArpaLm, sentences: Iterable[str]) -> PerplexityStats:
    """Score sentences with </s>; OOV words are skipped and counted (the next word then backs off past them)."""
    vocab = vocabulary(lm) - {BOS}
    n_sent = n_words = n_oov = 0
    total = 0.0
    for sentence in sentences:
        words = sentence.split()
        n_sent += 1
        n_words += len(words)
        context: tuple[str, ...] = (BOS,)
        for word in words + [EOS]:
            if word in vocab:
                total += log10_prob(lm, context, word)
            else:
                n_oov += 1
            context += (word,)
    return PerplexityStats(n_sent, n_words, n_oov, total)


def perplexity(arpa: str | Path, sentences: list[str]) -> float:
    """Return the perplexity of `arpa` on `sentences` (with </s>, OOVs skipped; logged with their count)."""
    stats = score_sentences(read_arpa(arpa), sentences)
    if stats.sentences == 0:
        raise AsrflowError(f"perplexity of {arpa}: no sentences to score")
    ppl = stats.perplexity
    log.info(
        "%s: %d sentences, %d words, %d OOVs skipped, logprob %.2f, ppl %.2f",
        arpa, stats.sentences, stats.words, stats.oovs, stats.log10_prob, ppl,
    )
    return ppl

