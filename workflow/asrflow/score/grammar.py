"""Command-grammar evaluation: WER on the in-grammar utterances and out-of-grammar (OOG) rejection.

An utterance is in grammar when G accepts its reference. Its rejection score is the acoustic log-likelihood
per frame of the grammar decode's best path minus that of a free decode (the n-gram LM's) of the same audio: a
sentence the grammar cannot express forces a worse acoustic path, so a score below -threshold rejects it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import kaldifst

from asrflow.common import AsrflowError, read_kaldi_table, write_json_atomic, write_text_atomic
from asrflow.lang.langdir import read_symbols
from asrflow.lm.commands import accepts
from asrflow.score.wer import score


def read_utt_scores(path: Path) -> dict[str, float]:
    """utt -> acoustic log-likelihood per frame from a decode's utt_scores.tsv."""
    if not path.is_file():
        raise AsrflowError(f"{path} does not exist: it is written by HCLG decodes (GMM and hybrid stages)")
    with path.open(newline="", encoding="utf-8") as f:
        return {row["utt"]: float(row["am_loglike_per_frame"]) for row in csv.DictReader(f, delimiter="\t")}


@dataclass(frozen=True)
class GrammarReport:
    """The figures of one grammar decode."""

    in_grammar: int
    out_of_grammar: int
    threshold: float
    oog_rejected: float  # percent of OOG utterances rejected
    false_rejected: float  # percent of in-grammar utterances rejected
    equal_error_rate: float  # percent, where the two error rates meet as the threshold moves
    in_grammar_wer: dict  # WER counts on the in-grammar utterances (all of them, rejected or not)

    def as_dict(self) -> dict:
        """JSON-ready figures."""
        return {"in_grammar": self.in_grammar, "out_of_grammar": self.out_of_grammar, "threshold": self.threshold,
                "oog_rejected": self.oog_rejected, "false_rejected": self.false_rejected,
                "equal_error_rate": self.equal_error_rate, **self.in_grammar_wer}


def equal_error_rate(in_scores: list[float], oog_scores: list[float]) -> float:
    """Percent where false rejection of in-grammar and false acceptance of OOG utterances are closest to equal."""
    if not in_scores or not oog_scores:
        return float("nan")
    best = (2.0, 100.0)
    for t in sorted({*in_scores, *oog_scores, float("inf")}):
        false_reject = sum(s < t for s in in_scores) / len(in_scores)
        false_accept = sum(s >= t for s in oog_scores) / len(oog_scores)
        best = min(best, (abs(false_reject - false_accept), 50.0 * (false_reject + false_accept)))
    return best[1]


def evaluate(refs: dict[str, str], hyps: dict[str, str], grammar_scores: dict[str, float],
             free_scores: dict[str, float], G: kaldifst.StdVectorFst, symbols: dict[str, int],
             threshold: float) -> tuple[GrammarReport, list[str]]:
    """The report and its per-utterance table lines (utt, in_grammar, score, rejected)."""
    missing = sorted(u for u in refs if u not in grammar_scores or u not in free_scores)
    if missing:
        raise AsrflowError(f"no decode scores for {len(missing)} utterances, e.g. {missing[0]}")
    rows, conf, inside = ["utt\tin_grammar\tscore\trejected"], {}, {}
    for utt, text in refs.items():
        ids = [symbols.get(w, -1) for w in text.split()]
        inside[utt] = -1 not in ids and accepts(G, ids)
        conf[utt] = grammar_scores[utt] - free_scores[utt]
        rows.append(f"{utt}\t{int(inside[utt])}\t{conf[utt]:.4f}\t{int(conf[utt] < -threshold)}")
    ins = [u for u in refs if inside[u]]
    oog = [u for u in refs if not inside[u]]
    counts = score({u: refs[u] for u in ins}, {u: hyps.get(u, "") for u in ins}, None).total if ins else None
    wer = ({"wer": counts.wer, "ins": counts.ins, "del": counts.dels, "sub": counts.sub, "words": counts.words}
           if counts else {"wer": None, "ins": 0, "del": 0, "sub": 0, "words": 0})

    def rate(utts: list[str]) -> float:
        return 100.0 * sum(conf[u] < -threshold for u in utts) / len(utts) if utts else float("nan")

    report = GrammarReport(len(ins), len(oog), threshold, rate(oog), rate(ins),
                           equal_error_rate([conf[u] for u in ins], [conf[u] for u in oog]), wer)
    return report, rows


def evaluate_decode(ref_text: Path, grammar_dir: Path, free_dir: Path, G_path: Path, words_txt: Path,
                    threshold: float, info: dict, out: Path) -> GrammarReport:
    """Evaluate the grammar decode in `grammar_dir` against the free decode in `free_dir`; write grammar.json
    (`info` merged in) and grammar_utts.tsv next to `out`."""
    refs = read_kaldi_table(ref_text)
    report, rows = evaluate(refs, read_kaldi_table(grammar_dir / "hyp.txt"), read_utt_scores(grammar_dir / "utt_scores.tsv"),
                            read_utt_scores(free_dir / "utt_scores.tsv"), kaldifst.StdVectorFst.read(str(G_path)),
                            read_symbols(words_txt), threshold)
    write_text_atomic(out.parent / "grammar_utts.tsv", "".join(r + "\n" for r in rows))
    write_json_atomic(out, {**info, **report.as_dict()})
    return report
