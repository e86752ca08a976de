# Lang stage: lexicon (Kaldi file, Sphinx dictionary, CMUdict or graphemes) → Kaldi lang dir (words/phones tables,
# L.fst, L_disambig.fst, topo), one lang_<lexicon>/ per configured lexicon.


rule lang:
    input:
        text=f"{R}/data/train/kaldi/text",
        lexicon=lambda w: [LEXICONS[w.lex]["path"]] if LEXICONS[w.lex]["source"] in ("file", "sphinx") else [],
    output:
        LANG_FILES,
    params:
        lexicon=lambda w: arg(LEXICONS[w.lex]),
        cfg=arg(config["lang"]),
        out=LANG,
    log:
        f"{R}/logs/lang_{{lex}}.log",
    shell:
        "{PYTHON} -m asrflow.lang --lexicon {params.lexicon} --cfg {params.cfg} --train-text {input.text} "
        "--out {params.out} 2> {log}"
