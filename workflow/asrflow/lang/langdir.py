"""Read a lang directory written by `prepare_lang` into the tables and FSTs later stages need."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import kaldifst

from asrflow.common import AsrflowError, read_fields

REQUIRED = ("words.txt", "phones.txt", "L.fst", "L_disambig.fst", "topo", "oov.txt",
            "phones/silence.int", "phones/disambig.int", "phones/sets.int")


def read_symbols(path: Path) -> dict[str, int]:
    """Read a Kaldi symbol table (words.txt, phones.txt: `symbol id` per line)."""
    table = {}
    for n, line, fields in read_fields(path):
        if len(fields) != 2 or not fields[1].isdigit():
            raise AsrflowError(f"{path}:{n}: expected 'symbol integer-id', got {line!r}")
        table[fields[0]] = int(fields[1])
    return table


def _ints(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()]


@dataclass(frozen=True)
class LangDir:
    """A validated Kaldi lang directory."""

    path: Path

    def __post_init__(self) -> None:
        missing = [f for f in REQUIRED if not (self.path / f).exists()]
        if missing:
            raise AsrflowError(f"lang dir {self.path} is incomplete (missing {', '.join(missing)}); rebuild it")

    @cached_property
    def words(self) -> dict[str, int]:
        """Word → id (words.txt)."""
        return read_symbols(self.path / "words.txt")

    @cached_property
    def id2word(self) -> dict[int, str]:
        """Id → word."""
        return {i: w for w, i in self.words.items()}

    @cached_property
    def phones(self) -> dict[str, int]:
        """Phone → id (phones.txt)."""
        return read_symbols(self.path / "phones.txt")

    @cached_property
    def id2phone(self) -> dict[int, str]:
        """Id → phone."""
        return {i: p for p, i in self.phones.items()}

    @cached_property
    def silence(self) -> list[int]:
        """Ids of the silence phones."""
        return _ints(self.path / "phones/silence.int")

    @cached_property
    def optional_silence(self) -> int:
        """Id of the optional-silence phone (phones/optional_silence.int)."""
        return _ints(self.path / "phones/optional_silence.int")[0]

    @cached_property
    def disambig(self) -> list[int]:
        """Ids of the phone-level disambiguation symbols #0 … #K."""
        return _ints(self.path / "phones/disambig.int")

    @cached_property
    def sets(self) -> list[list[int]]:
        """Phone sets that share pdfs in a monophone system (one line of sets.int each)."""
        return [[int(x) for x in line.split()] for line in (self.path / "phones/sets.int").read_text().splitlines()]

    @cached_property
    def oov(self) -> str:
        """The word that stands for out-of-vocabulary words."""
        return (self.path / "oov.txt").read_text().strip()

    @property
    def topo_text(self) -> str:
        """Kaldi HMM topology text."""
        return (self.path / "topo").read_text()

    def lexicon_fst(self, disambig: bool = False) -> kaldifst.StdVectorFst:
        """L.fst (or L_disambig.fst) as an OpenFST object."""
        return kaldifst.StdVectorFst.read(str(self.path / ("L_disambig.fst" if disambig else "L.fst")))

    def word_ids(self, text: str) -> list[int]:
        """Map a transcript to word ids, unknown words to the OOV word."""
        oov = self.words.get(self.oov)
        ids = [self.words.get(w, oov) for w in text.split()]
        if None in ids:
            raise AsrflowError(f"transcript {text!r} has words not in {self.path}/words.txt and no OOV word is set")
        return ids
