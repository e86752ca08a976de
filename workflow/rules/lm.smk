# LM stage: n-gram LM on the training transcripts (or a given ARPA) → lm.arpa → G.fst.


rule lm:
    input:
        text=f"{R}/data/train/kaldi/text",
        words=f"{LANG}/words.txt",
        arpa=[config["lm"]["arpa"]] if config["lm"]["source"] == "arpa" else [],
    output:
        arpa=f"{R}/lm_{LM}/lm.arpa",
        G=f"{R}/lm_{LM}/G.fst",
    params:
        cfg=arg(config["lm"]),
    log:
        f"{R}/logs/lm_{LM}.log",
    shell:
        "({PYTHON} -m asrflow.lm train --text {input.text} --cfg {params.cfg} --out-arpa {output.arpa} && "
        "{PYTHON} -m asrflow.lm G --arpa {output.arpa} --words {input.words} --out {output.G}) 2> {log}"
