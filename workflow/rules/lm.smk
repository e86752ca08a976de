# LM stage: n-gram LM on the training transcripts (or a text file, or a given ARPA) → lm_<lm>/lm.arpa, then its
# grammar FST over each lexicon's word table → lm_<lm>/G_<lexicon>.fst; a command grammar compiles to
# G_<lexicon>.fst directly. Every first-pass LM (`lm`, `lms`) and the rescoring LM (`rescore_lm`) gets its own lm_<name>/.


rule lm:
    input:
        text=f"{R}/data/train/kaldi/text",
        arpa=lambda w: [LMS[w.lm]["arpa"]] if LMS[w.lm]["source"] == "arpa" else [],
        corpus=lambda w: [LMS[w.lm]["text"]] if LMS[w.lm]["source"] == "text" else [],
    output:
        arpa=f"{R}/lm_{{lm}}/lm.arpa",
    wildcard_constraints:
        lm="|".join(NGRAM_LMS),
    params:  # the n-gram's own knobs: a grammar's rejection threshold must not retrain it
        cfg=lambda w: arg({k: v for k, v in LMS[w.lm].items() if k not in ("grammar", "reject_threshold")}),
    log:
        f"{R}/logs/lm_{{lm}}.log",
    shell:
        "{PYTHON} -m asrflow.lm train --text {input.text} --cfg {params.cfg} --out-arpa {output.arpa} 2> {log}"


rule G:
    input:
        arpa=f"{R}/lm_{{lm}}/lm.arpa",
        words=f"{LANG}/words.txt",
    output:
        f"{R}/lm_{{lm}}/G_{{lex}}.fst",
    wildcard_constraints:
        lm="|".join(NGRAM_LMS),
    log:
        f"{R}/logs/G_{{lm}}_{{lex}}.log",
    shell:
        "{PYTHON} -m asrflow.lm G --arpa {input.arpa} --words {input.words} --out {output} 2> {log}"


if GRAMMAR_LMS:

    rule G_grammar:
        input:
            grammar=lambda w: LMS[w.lm]["grammar"],
            words=f"{LANG}/words.txt",
        output:
            f"{R}/lm_{{lm}}/G_{{lex}}.fst",
        wildcard_constraints:
            lm="|".join(GRAMMAR_LMS),
        log:
            f"{R}/logs/G_{{lm}}_{{lex}}.log",
        shell:
            "{PYTHON} -m asrflow.lm grammar --grammar {input.grammar} --words {input.words} --out {output} 2> {log}"
