# Lang stage: lexicon (Kaldi file, Sphinx dictionary, CMUdict or graphemes) → Kaldi lang dir (words/phones tables, L.fst, L_disambig.fst, topo).


rule lang:
    input:
        text=f"{R}/data/train/kaldi/text",
        lexicon=[LEXICON["path"]] if LEXICON["source"] in ("file", "sphinx") else [],
    output:
        LANG_FILES,
    params:
        lexicon=arg(LEXICON),
        cfg=arg(config["lang"]),
    log:
        f"{R}/logs/lang_{LEX}.log",
    shell:
        "{PYTHON} -m asrflow.lang --lexicon {params.lexicon} --cfg {params.cfg} --train-text {input.text} "
        "--out {LANG} 2> {log}"
