# Lang stage: lexicon (file or CMUdict) → Kaldi lang dir (words/phones tables, L.fst, L_disambig.fst, topo).


rule lang:
    input:
        text=f"{R}/data/train/kaldi/text",
        lexicon=[config["lexicon"]["path"]] if config["lexicon"]["source"] == "file" else [],
    output:
        LANG_FILES,
    params:
        lexicon=arg(config["lexicon"]),
        cfg=arg(config["lang"]),
    log:
        f"{R}/logs/lang_{LEX}.log",
    shell:
        "{PYTHON} -m asrflow.lang --lexicon {params.lexicon} --cfg {params.cfg} --train-text {input.text} "
        "--out {LANG} 2> {log}"
