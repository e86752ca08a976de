"""Grapheme-to-phoneme conversion for OOV words: a joint-sequence ("graphone") n-gram model, as Phonetisaurus.

Training aligns every lexicon entry's letters to its phones with EM (many-to-many: one or two letters to zero,
one or two phones), trains a Kneser-Ney n-gram (kaldingram) on the aligned graphone sequences, and pronounces a
new word by a beam search over its segmentations into graphones scored by that n-gram.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from asrflow.common import AsrflowError, get_logger
from asrflow.lm.arpa import BOS, EOS, ArpaLm, log10_prob, read_arpa, vocabulary
from asrflow.lm.train import train_arpa

log = get_logger("asrflow.lang.g2p")

Unit = tuple[str, tuple[str, ...]]
"""A graphone: a letter chunk and the phones it spells (possibly none)."""

# (letters, phones) shapes a graphone may take: a silent letter, one letter to one or two phones (X -> K S),
# two letters to one phone (SH -> SH, PH -> F)
SHAPES = ((1, 0), (1, 1), (1, 2), (2, 1))
_SEP, _JOIN, _NONE = "}", "|", "_"


@dataclass(frozen=True)
class G2PConfig:
    """Knobs of the G2P model (config `lexicon.g2p`)."""

    order: int = 4          # n-gram order over graphones
    em_iters: int = 5       # EM passes of the letter-phone alignment
    beam: int = 20          # hypotheses kept per letter position when pronouncing


def unit_token(unit: Unit) -> str:
    """The graphone as one LM token, e.g. ('x', ('K', 'S')) -> 'x}K|S', a silent 'e' -> 'e}_'."""
    letters, phones = unit
    return f"{letters}{_SEP}{_JOIN.join(phones) or _NONE}"


def token_unit(token: str) -> Unit:
    """Inverse of `unit_token`."""
    letters, _, phones = token.rpartition(_SEP)
    return letters, tuple(p for p in phones.split(_JOIN) if p != _NONE)


def spelling(word: str) -> str:
    """The letters G2P sees: the word lower-cased (apostrophes, hyphens and digits are letters too)."""
    return word.lower()


def _segmentations(letters: str, phones: tuple[str, ...]):
    """For each end point (i, j) of the letter/phone grid, the graphones that can end there, with their start."""
    for i in range(len(letters) + 1):
        for j in range(len(phones) + 1):
            arcs = [((i - a, j - b), (letters[i - a:i], phones[j - b:j])) for a, b in SHAPES if a <= i and b <= j]
            yield (i, j), arcs


def _expected_counts(grid: list, final: tuple[int, int], prob: dict[Unit, float],
                     counts: dict[Unit, float]) -> bool:
    """E-step of one entry (forward-backward over its alignment grid); False if no alignment exists."""
    alpha: dict[tuple[int, int], float] = {(0, 0): 1.0}
    for end, arcs in grid:
        if end != (0, 0):
            alpha[end] = sum(alpha.get(start, 0.0) * prob.get(unit, 0.0) for start, unit in arcs)
    total = alpha[final]
    if total <= 0.0:
        return False
    beta: dict[tuple[int, int], float] = {final: 1.0}
    for end, arcs in reversed(grid):
        b = beta.get(end, 0.0)
        if b == 0.0:
            continue
        for start, unit in arcs:
            p = prob.get(unit, 0.0)
            if p > 0.0 and (a := alpha.get(start, 0.0)) > 0.0:
                beta[start] = beta.get(start, 0.0) + p * b
                counts[unit] += a * p * b / total
    return True


def _best_alignment(letters: str, phones: tuple[str, ...], prob: dict[Unit, float]) -> list[Unit] | None:
    """Viterbi alignment of one entry into graphones under `prob`, or None if none exists."""
    best: dict[tuple[int, int], tuple[float, tuple[int, int] | None, Unit | None]] = {(0, 0): (0.0, None, None)}
    for end, arcs in _segmentations(letters, phones):
        if end == (0, 0):
            continue
        cands = [(best[s][0] + math.log(prob[u]), s, u) for s, u in arcs if s in best and prob.get(u, 0.0) > 0.0]
        if cands:
            best[end] = max(cands, key=lambda c: c[0])
    node: tuple[int, int] | None = (len(letters), len(phones))
    if node not in best:
        return None
    units: list[Unit] = []
    while node != (0, 0):
        _, prev, unit = best[node]
        units.append(unit)
        node = prev
    return units[::-1]


def align_lexicon(entries: list[tuple[str, tuple[str, ...]]], iters: int) -> list[list[Unit]]:
    """EM many-to-many alignment of lexicon entries into graphone sequences (entries with none are dropped)."""
    pairs = [(spelling(w), p) for w, p in entries]
    prob: dict[Unit, float] = defaultdict(float)
    grids = [(list(_segmentations(letters, phones)), (len(letters), len(phones))) for letters, phones in pairs]
    for grid, _ in grids:  # uniform start: every graphone seen in some segmentation
        for _, arcs in grid:
            for _, unit in arcs:
                prob[unit] = 1.0
    for it in range(iters):
        counts: dict[Unit, float] = defaultdict(float)
        aligned = sum(_expected_counts(grid, final, prob, counts) for grid, final in grids)
        total = sum(counts.values())
        prob = defaultdict(float, {u: c / total for u, c in counts.items() if c > 1e-6})
        log.info("G2P alignment EM iteration %d: %d of %d entries aligned, %d graphones", it + 1, aligned,
                 len(pairs), len(prob))
    alignments = [a for letters, phones in pairs if (a := _best_alignment(letters, phones, prob))]
    if not alignments:
        raise AsrflowError("G2P: no lexicon entry could be aligned letter-to-phone (are the words spelled?)")
    return alignments


class G2P:
    """A trained graphone n-gram that pronounces words."""

    def __init__(self, lm: ArpaLm, cfg: G2PConfig):
        self.lm, self.cfg = lm, cfg
        self.by_letters: dict[str, list[str]] = defaultdict(list)
        for token in sorted(vocabulary(lm) - {BOS, EOS}):
            self.by_letters[token_unit(token)[0]].append(token)

    @classmethod
    def train(cls, entries: list[tuple[str, tuple[str, ...]]], arpa: Path, cfg: G2PConfig) -> "G2P":
        """Align `entries`, train the graphone n-gram, write it to `arpa` (the cached model) and load it."""
        alignments = align_lexicon(entries, cfg.em_iters)
        train_arpa([" ".join(unit_token(u) for u in a) for a in alignments], cfg.order, arpa)
        log.info("G2P trained on %d entries: %s", len(alignments), arpa)
        return cls.load(arpa, cfg)

    @classmethod
    def load(cls, arpa: Path, cfg: G2PConfig) -> "G2P":
        """Load a trained model from its ARPA file."""
        return cls(read_arpa(arpa), cfg)

    def pronounce(self, word: str) -> tuple[str, ...]:
        """The best pronunciation of `word` under the model (beam search over graphone segmentations)."""
        letters = spelling(word)
        history = self.cfg.order - 1
        # hypotheses ending at each letter position: (LM context) -> (log10 score, phones)
        hyps: list[dict[tuple[str, ...], tuple[float, tuple[str, ...]]]] = [{} for _ in range(len(letters) + 1)]
        hyps[0][(BOS,)] = (0.0, ())
        for pos in range(len(letters)):
            beam = sorted(hyps[pos].items(), key=lambda kv: -kv[1][0])[: self.cfg.beam]
            for context, (score, phones) in beam:
                for size in (1, 2):
                    if pos + size > len(letters):
                        continue
                    for token in self.by_letters.get(letters[pos:pos + size], ()):
                        new = score + log10_prob(self.lm, context, token)
                        key = (context + (token,))[-history:] if history else ()
                        end = hyps[pos + size]
                        if key not in end or end[key][0] < new:
                            end[key] = (new, phones + token_unit(token)[1])
        final = [(s + log10_prob(self.lm, c, EOS), p) for c, (s, p) in hyps[-1].items()]
        best = max(final, default=None, key=lambda sp: sp[0])
        if best is None or not best[1]:
            raise AsrflowError(f"G2P cannot pronounce {word!r}: some of its letters never occur in the lexicon it "
                               "was trained on; add the word to the lexicon by hand")
        return best[1]

