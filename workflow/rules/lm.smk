# LM stage: n-gram LM on the training transcripts (or a given ARPA) → lm.arpa → G.fst; the first-pass LM
# (`lm`) and, when configured, the rescoring LM (`rescore_lm`) each get their own lm_<name>/.


rule lm:
    input:
        text=f"{R}/data/train/kaldi/text",
        words=f"{LANG}/words.txt",
        arpa=lambda w: [LMS[w.lm]["arpa"]] if LMS[w.lm]["source"] == "arpa" else [],
        corpus=lambda w: [LMS[w.lm]["text"]] if LMS[w.lm]["source"] == "text" else [],
    output:
        arpa=f"{R}/lm_{{lm}}/lm.arpa",
        G=f"{R}/lm_{{lm}}/G.fst",
    params:
        cfg=lambda w: arg(LMS[w.lm]),
    log:
        f"{R}/logs/lm_{{lm}}.log",
    shell:
        "({PYTHON} -m asrflow.lm train --text {input.text} --cfg {params.cfg} --out-arpa {output.arpa} && "
        "{PYTHON} -m asrflow.lm G --arpa {output.arpa} --words {input.words} --out {output.G}) 2> {log}"
