# Score stage: WER/SER with ins/del/sub per decode, then the results table across stages and test sets.


rule score:
    input:
        hyp=f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}/hyp.txt",
        info=f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}/decode_info.json",
        ref=f"{R}/data/{{test_set}}/kaldi/text",
        utt2spk=f"{R}/data/{{test_set}}/kaldi/utt2spk",
    output:
        f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}/scores.json",
    params:
        out=f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}",
        # Kaldi's LM-weight sweep exists for first-pass lattice decodes (HCLG, and HLG by kaldi-decoder), not for
        # k2's 1-best nor for rescored output
        sweep=lambda w: (f"--sweep-dir {R}/exp_{w.lex}/{w.stage}/decode_{w.lm}_{w.test_set}/scoring"
                         if config["decode"]["lmwt_search"] and w.lm in FIRST_LMS
                         and not w.stage.endswith("_k2") else ""),
    log:
        f"{R}/logs/score_{{stage}}_{{lex}}_{{lm}}_{{test_set}}.log",
    shell:
        "{PYTHON} -m asrflow.score score --ref-text {input.ref} --hyp {input.hyp} --utt2spk {input.utt2spk} "
        "--stage {wildcards.stage} --test-set {wildcards.test_set} --decode-info {input.info} "
        "{params.sweep} --out {params.out} 2> {log}"


if GRAMMAR_EVALS:

    rule grammar_eval:  # command grammar: WER on in-grammar utterances, out-of-grammar rejection vs the lm's decode
        input:
            grammar=f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}/hyp.txt",
            free=f"{EXP}/{{stage}}/decode_{LM}_{{test_set}}/hyp.txt",
            G=f"{R}/lm_{{lm}}/G_{{lex}}.fst",
            words=f"{LANG}/words.txt",
            ref=f"{R}/data/{{test_set}}/kaldi/text",
        output:
            report=f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}/grammar.json",
            utts=f"{EXP}/{{stage}}/decode_{{lm}}_{{test_set}}/grammar_utts.tsv",
        wildcard_constraints:
            lm="|".join(GRAMMAR_LMS),
        params:
            threshold=lambda w: LMS[w.lm]["reject_threshold"],
        log:
            f"{R}/logs/grammar_{{stage}}_{{lex}}_{{lm}}_{{test_set}}.log",
        shell:
            "{PYTHON} -m asrflow.score grammar --ref-text {input.ref} --grammar-dir $(dirname {input.grammar}) "
            "--free-dir $(dirname {input.free}) --G {input.G} --words {input.words} --threshold {params.threshold} "
            "--stage {wildcards.stage} --test-set {wildcards.test_set} --lexicon {wildcards.lex} --lm {wildcards.lm} "
            "--out {output.report} 2> {log}"


rule summary:
    input:
        scores=[f"{R}/exp_{lex}/{stage}/decode_{lm}_{t}/scores.json" for lex, stage, lm in DECODES for t in TEST_SETS],
        logs=[f"{R}/exp_{lex}/{stage}/train_log.json" for lex in LEXICONS for stage in STAGES_OF[lex]],
        langs=[f"{R}/lang_{lex}/words.txt" for lex in LEXICONS],
        grammar=[f"{R}/exp_{lex}/{s}/decode_{lm}_{t}/grammar.json" for lex, s, lm in GRAMMAR_EVALS for t in TEST_SETS],
        arpas=[f"{R}/lm_{lm}/lm.arpa" for lm in NGRAM_LMS],
        texts=[f"{R}/data/{t}/kaldi/text" for t in TEST_SETS],
    output:
        tsv=f"{R}/wer.tsv",
        md=f"{R}/RESULTS.md",
    params:
        published=arg(config["published"]),
        ppl=" ".join([f"--lm {lm}={R}/lm_{lm}/lm.arpa" for lm in NGRAM_LMS]
                     + [f"--test-text {t}={R}/data/{t}/kaldi/text" for t in TEST_SETS]
                     + [f"--lang {lex}={R}/lang_{lex}" for lex in LEXICONS]),
    log:
        f"{R}/logs/summary.log",
    shell:
        "{PYTHON} -m asrflow.score summarize --recipe {RECIPE} --out-tsv {output.tsv} --out-md {output.md} "
        "--published {params.published} --train-logs {input.logs} --grammar-reports {input.grammar} {params.ppl} "
        "-- {input.scores} 2> {log}"
