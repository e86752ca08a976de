"""Collect scores.json files into the recipe's results table (wer.tsv) and RESULTS.md."""

from __future__ import annotations

import json
from pathlib import Path

from asrflow.common import AsrflowError, write_text_atomic

COLUMNS = ("stage", "test_set", "wer", "ins", "del", "sub", "words", "ser", "rtf")
EXTRA_COLUMNS = ("best_wer", "best_lmwt", "best_wip", "lm", "lexicon", "first_pass_lm")
STAGE_ORDER = ("mono", "tri1", "tri2", "tri3")


def load_scores(path: Path) -> dict:
    """Read one scores.json and check it has the table's columns."""
    try:
        scores = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AsrflowError(f"cannot read scores {path}: {e}") from e
    missing = [c for c in COLUMNS if c not in scores]
    if missing:
        raise AsrflowError(f"{path}: missing {', '.join(missing)} (written by `python -m asrflow.score score`?)")
    return scores


def sort_key(row: dict) -> tuple:
    """Order rows by stage (mono, tri1, tri2, tri3, then others alphabetically; an fMLLR decode X_fmllr right
    after X), then test set."""
    stage = row["stage"]
    base = stage.removesuffix("_fmllr")
    rank = STAGE_ORDER.index(base) if base in STAGE_ORDER else len(STAGE_ORDER)
    return rank, stage, row["test_set"], str(row.get("lm", "")), str(row.get("lexicon", ""))


def format_cell(column: str, value: object) -> str:
    """Format one value: rates with 2 decimals, RTF with 3, missing values empty."""
    if value is None:
        return ""
    if column in ("wer", "ser", "best_wer"):
        return f"{float(value):.2f}"
    if column == "rtf":
        return f"{float(value):.3f}"
    return str(value)


def summarize(
    score_jsons: list[Path],
    out_tsv: Path,
    out_md: Path,
    recipe: str,
    published: dict[tuple[str, str], float] | None = None,
    train_logs: list[Path] | None = None,
    lms: dict[str, Path] | None = None,
    test_texts: dict[str, Path] | None = None,
    langs: dict[str, Path] | None = None,
    grammar_reports: list[Path] | None = None,
) -> None:
    """Write wer.tsv and RESULTS.md for `recipe`, with published WERs per (stage, test_set) when given, a lexicon ×
    LM comparison, command-grammar results, the lexicons' sizes and G2P counts, the LMs' test-set perplexities and a
    training table."""
    if not score_jsons:
        raise AsrflowError("summarize: no scores.json files given")
    rows = sorted((load_scores(p) for p in score_jsons), key=sort_key)
    columns = [*COLUMNS, *(c for c in EXTRA_COLUMNS if any(c in row for row in rows))]
    table = [[format_cell(c, row.get(c)) for c in columns] for row in rows]
    write_text_atomic(out_tsv, "".join("\t".join(cells) + "\n" for cells in [columns, *table]))
    if published is not None:
        columns = [*columns, "published wer"]
        table = [cells + [published_cell(published, row["stage"], row["test_set"])] for cells, row in zip(table, rows)]
    write_text_atomic(out_md, results_md(recipe, columns, table) + variants_md(rows, grammar_reports or [])
                      + grammar_md(grammar_reports or [])
                      + lexicon_md(langs or {})
                      + lm_md(lms or {}, test_texts or {}) + training_md(train_logs or []))


def variants_md(rows: list[dict], grammar_reports: list[Path]) -> str:
    """RESULTS.md section, when several lexicons or LMs were decoded: WER per stage × lexicon (rows) and LM (columns),
    one table per test set, in the rows' sorted order; rescored LMs are columns too, command grammars are not
    (their WER over every utterance says little: see their own section)."""
    grammars = {json.loads(Path(p).read_text(encoding="utf-8"))["lm"] for p in grammar_reports}
    rows = [r for r in rows if str(r.get("lm", "")) not in grammars]
    lexicons = list(dict.fromkeys(str(r.get("lexicon", "")) for r in rows))
    lms = list(dict.fromkeys(str(r.get("lm", "")) for r in rows))
    if len(lexicons) < 2 and len(lms) < 2:
        return ""
    wer = {(r["test_set"], r["stage"], str(r.get("lexicon", "")), str(r.get("lm", ""))): r["wer"] for r in rows}
    lines = ["", "## Lexicons × LMs", "", "WER (%) of each acoustic model per lexicon (rows) and LM (columns); an LM "
             "that rescores lattices (`rescore_lm`) is a column too."]
    for test_set in dict.fromkeys(r["test_set"] for r in rows):
        lines += ["", f"**{test_set}**", "", "| stage | lexicon | " + " | ".join(lms) + " |", "|---|---|" + "---|" * len(lms)]
        for stage in dict.fromkeys(r["stage"] for r in rows):
            for lex in lexicons:
                cells = [wer.get((test_set, stage, lex, lm)) for lm in lms]
                if any(c is not None for c in cells):
                    lines.append(f"| {stage} | {lex} | " + " | ".join("" if c is None else format_cell("wer", c)
                                                                      for c in cells) + " |")
    return "\n".join(lines) + "\n"


def grammar_md(reports: list[Path]) -> str:
    """RESULTS.md section: per command-grammar decode, WER on the in-grammar utterances and OOG rejection."""
    if not reports:
        return ""
    lines = ["", "## Command grammars", "", "WER on the utterances the grammar accepts (their references); rejection "
             "score = acoustic log-likelihood per frame of the grammar decode minus the n-gram decode's, rejected "
             "below −threshold; EER = equal error rate of rejecting in-grammar vs accepting OOG utterances.", "",
             "| stage | lexicon | grammar | test set | in-grammar utts | WER in grammar | OOG utts | threshold | "
             "OOG rejected % | in-grammar rejected % | EER % |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in reports:
        r = json.loads(Path(path).read_text(encoding="utf-8"))
        wer = "" if r["wer"] is None else f"{r['wer']:.2f} ({r['ins']}/{r['del']}/{r['sub']} of {r['words']})"
        lines.append(f"| {r['stage']} | {r['lexicon']} | {r['lm']} | {r['test_set']} | {r['in_grammar']} | {wer} | "
                     f"{r['out_of_grammar']} | {r['threshold']:g} | {r['oog_rejected']:.1f} | "
                     f"{r['false_rejected']:.1f} | {r['equal_error_rate']:.1f} |")
    return "\n".join(lines) + "\n"


def lexicon_md(langs: dict[str, Path]) -> str:
    """RESULTS.md section: per lexicon, its words and phones and how many pronunciations G2P generated."""
    if not langs:
        return ""
    from asrflow.lang.langdir import read_symbols

    lines = ["", "## Lexicons", "", "| lexicon | words | phones | G2P-generated pronunciations |", "|---|---|---|---|"]
    for name, lang in langs.items():
        words = [w for w in read_symbols(lang / "words.txt") if not w.startswith("#") and w not in ("<eps>", "<s>", "</s>")]
        phones = [p for p in read_symbols(lang / "phones.txt") if not p.startswith("#") and p != "<eps>"]
        g2p = lang / "g2p_lexicon.txt"
        generated = (f"{sum(1 for x in g2p.read_text(encoding='utf-8').splitlines() if x.strip())} "
                     f"(`lang_{name}/g2p_lexicon.txt`)" if g2p.is_file() else "0")
        lines.append(f"| {name} | {len(words)} | {len(phones)} | {generated} |")
    return "\n".join(lines) + "\n"


def lm_md(lms: dict[str, Path], test_texts: dict[str, Path]) -> str:
    """RESULTS.md section: perplexity of each LM (ARPA) on each test set's transcripts (with </s>, OOVs skipped)."""
    if not lms or not test_texts:
        return ""
    from asrflow.common import read_kaldi_table
    from asrflow.lm.arpa import read_arpa, score_sentences

    sets = sorted(test_texts)
    texts = {t: list(read_kaldi_table(test_texts[t]).values()) for t in sets}
    lines = ["", "## Language models", "", "Perplexity on the test transcripts (one </s> per sentence; OOVs skipped, "
             "counted in brackets) and n-grams per order (after any pruning).", "",
             "| lm | n-grams | " + " | ".join(sets) + " |", "|---|---|" + "---|" * len(sets)]
    for name, arpa in lms.items():
        lm = read_arpa(arpa)
        cells = ["/".join(str(len(lm[n])) for n in sorted(lm))]
        for t in sets:
            stats = score_sentences(lm, texts[t])
            cells.append(f"{stats.perplexity:.2f}" + (f" ({stats.oovs} OOV)" if stats.oovs else ""))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def published_cell(published: dict[tuple[str, str], float], stage: str, test_set: str) -> str:
    """The published WER of a stage on this test set; else on another set of the same stage, naming that set."""
    if (stage, test_set) in published:
        return format_cell("wer", published[(stage, test_set)])
    other = sorted((s, wer) for (st, s), wer in published.items() if st == stage)
    return "; ".join(f"{format_cell('wer', wer)} ({s})" for s, wer in other)


def training_md(train_logs: list[Path]) -> str:
    """RESULTS.md sections: per GMM stage, model size, final log-likelihood and how much the alignment moved;
    per neural stage, its last epoch's losses and its training curve."""
    dirs = {Path(p): Path(p).parent for p in train_logs}  # exp_<lexicon>/<stage>/train_log.json
    several = len({d.parent.name for d in dirs.values()}) > 1
    logs = sorted(((d.name, json.loads(p.read_text(encoding="utf-8")), d) for p, d in dirs.items()),
                  key=lambda item: (sort_key({"stage": item[0], "test_set": ""}), item[2].parent.name))
    label = {d: f"{d.name} ({d.parent.name.removeprefix('exp_')})" if several else d.name for d in dirs.values()}
    gmm = [(label[d], log[-1]) for _, log, d in logs if "num_gauss" in log[-1]]
    nnet = [(label[d], log, d) for _, log, d in logs if "num_gauss" not in log[-1]]
    lines = []
    if gmm:
        lines += ["", "## Training and alignments", "",
                  "Phone frames changed = share of training frames whose aligned phone differs from the previous "
                  "stage's alignment; phone durations per stage are in `exp_<lexicon>/<stage>/phone_durations.tsv`.", "",
                  "| stage | Gaussians | loglike/frame | phone frames changed vs previous stage |", "|---|---|---|---|"]
        for stage, last in gmm:
            changed = last.get("phone_frames_changed_vs_prev")
            lines.append(f"| {stage} | {last['num_gauss']} | {last['loglike_per_frame']:.3f} | "
                         f"{'' if changed is None else f'{100 * changed:.1f}%'} |")
    for stage, log, d in nnet:
        last = log[-1]
        acc = f", frame accuracy {last['train_acc']:.3f} / {last['valid_acc']:.3f}" if "valid_acc" in last else ""
        lines += ["", f"## {stage}: training curve", "",
                  f"{len(log)} epochs; last epoch loss {last['train_loss']:.4f} / {last['valid_loss']:.4f} "
                  f"(train / valid){acc}.", "", f"![{stage} training curve]({d.parent.name}/{d.name}/training_curve.png)"]
    return "\n".join(lines) + "\n" if lines else ""


def results_md(recipe: str, columns: list[str], table: list[list[str]]) -> str:
    """Return RESULTS.md: a short header and the results as a markdown table."""
    lines = [
        f"# Results: {recipe}",
        "",
        "WER and SER in percent (ins/del/sub/words are word counts); RTF = decoding time / audio duration.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
        *("| " + " | ".join(cells) + " |" for cells in table),
    ]
    return "\n".join(lines) + "\n"
