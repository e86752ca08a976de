"""A sentencepiece BPE unit set as a lexicon: every word spelled in the word pieces of a model trained on the
training transcripts (units for CTC, as icefall's lang_bpe_<N>)."""

from __future__ import annotations

from pathlib import Path

from asrflow.common import AsrflowError
from asrflow.lang.lexicon import Lexicon, grapheme_unit

WORD_START = "\u2581"  # sentencepiece's word-boundary mark
BARE_START = "WORD_START"  # the mark as a piece of its own; no other unit name has "_" without ending in "_W"


def unit_name(piece: str) -> str:
    """A piece as a legal phone name: characters as grapheme units (never "_"), a leading word mark as `_W`."""
    start = piece.startswith(WORD_START)
    body = "".join(grapheme_unit(c) for c in piece.removeprefix(WORD_START))
    return body + "_W" if start and body else body or BARE_START


def train_bpe(sentences: list[str], vocab_size: int, model_prefix: Path) -> Path:
    """Train a BPE sentencepiece model on `sentences`; return the .model path."""
    import sentencepiece as spm

    text = model_prefix.with_suffix(".txt")
    text.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    try:
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(model_prefix), vocab_size=vocab_size, model_type="bpe",
            character_coverage=1.0, bos_id=-1, eos_id=-1, unk_id=0, num_threads=1, hard_vocab_limit=False,
            minloglevel=2)
    except RuntimeError as e:
        raise AsrflowError(f"sentencepiece could not train a {vocab_size}-piece BPE model: {e}; "
                           "lower lexicon.bpe.vocab_size") from e
    text.unlink()
    return model_prefix.with_suffix(".model")


def bpe_lexicon(words: set[str], model: Path) -> Lexicon:
    """Every word with its pieces under the BPE `model` as units."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model))
    return [(w, tuple(unit_name(p) for p in sp.encode(w, out_type=str))) for w in sorted(words)]
