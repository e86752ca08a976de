"""Train a back-off n-gram ARPA LM on transcripts with kaldingram, guarding against its degenerate output."""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections import Counter
from pathlib import Path

from kaldingram.prune import ArpaParser, prune as kaldingram_prune
from kaldingram.train import NgramCounts

from asrflow.common import AsrflowError, write_text_atomic
from asrflow.lm.arpa import BOS, EOS, format_arpa, log, parse_arpa, problems

# Config names -> kaldingram's method. kaldingram implements only unmodified back-off Kneser-Ney (SRILM -ukndiscount).
DISCOUNTS = {"kneser_ney": "kn", "kn": "kn"}


def train_arpa(
    train_text: list[str], order: int, out_arpa: Path, discount: str = "kneser_ney", prune: float = 0.0
) -> None:
    """Train an order-`order` LM on `train_text` lines and write it atomically to `out_arpa`.

    If the model at some order is not sane (kaldingram gives -99 n-grams on tiny texts), the highest sane lower
    order is written instead, with a warning; order 1 is a maximum-likelihood unigram, sane by construction.
    """
    if discount not in DISCOUNTS:
        raise AsrflowError(f"LM discount {discount!r} is not supported; use one of {sorted(DISCOUNTS)}")
    if order < 1:
        raise AsrflowError(f"LM order must be >= 1, got {order}")
    sentences = [" ".join(line.split()) for line in train_text if line.split()]
    if not sentences:
        raise AsrflowError(f"no words in the LM training text for {out_arpa}")
    n, text = order, _train(sentences, order, prune)
    while n > 1 and (found := problems(parse_arpa(text.splitlines(), f"order-{n} LM for {out_arpa}"))):
        log.warning("order-%d LM for %s is not sane (%s); trying order %d", n, out_arpa, "; ".join(found[:3]), n - 1)
        n -= 1
        text = _train(sentences, n, prune)
    if n < order:
        log.warning("%s: wrote an order-%d LM instead of the requested order %d (training text too small)",
                    out_arpa, n, order)
    write_text_atomic(out_arpa, text)


def _train(sentences: list[str], order: int, prune: float) -> str:
    """Return ARPA text of the order-`order` model (kaldingram KN for order >= 2, ML unigram for order 1)."""
    if order == 1:
        # kaldingram's unigram counts <s> as a predicted word and so gives it probability mass.
        return _ml_unigram(sentences)
    counts = NgramCounts(order)
    with _quiet():
        for sentence in sentences:
            counts.add_raw_counts_from_line(sentence)
        counts.cal_discounting_constants()
        counts.cal_f()
        counts.cal_bow()
        out = io.StringIO()
        counts.print_as_arpa(fout=out)
        text = out.getvalue()
        if prune > 0:
            lm = ArpaParser().loads(text)[0]
            kaldingram_prune(lm, prune, 1)
            text = ArpaParser().dumps(lm)
    return text


def _ml_unigram(sentences: list[str]) -> str:
    """Return the maximum-likelihood unigram (with one </s> per sentence, <s> at log10 p = -99) as ARPA text."""
    counts = Counter(word for sentence in sentences for word in sentence.split())
    counts[EOS] = len(sentences)
    total = sum(counts.values())
    unigrams = {(BOS,): (-99.0, None)} | {(w,): (math.log10(c / total), None) for w, c in sorted(counts.items())}
    return format_arpa({1: unigrams})


@contextlib.contextmanager
def _quiet():
    """Silence kaldingram's tqdm progress bars, which would fill the Snakemake logs with carriage returns."""
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        yield
