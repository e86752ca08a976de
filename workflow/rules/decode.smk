# Decode stage: 1-best Viterbi beam search of a test part on HCLG → hypotheses, CTM, real-time factor.


rule decode:
    input:
        graph=f"{R}/exp/{{stage}}/graph_{LEX}_{LM}/HCLG.fst",
        model=f"{R}/exp/{{stage}}/final.mdl",
        data=part_files("{test_set}")["cuts"],
    output:
        hyp=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/hyp.txt",
        ctm=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/ctm",
        info=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}/decode_info.json",
    params:
        cfg=arg(config["decode"]),
        info=arg({"lm": LM, "lexicon": LEX}),
        graph=f"{R}/exp/{{stage}}/graph_{LEX}_{LM}",
        data=f"{R}/data/{{test_set}}",
        out=f"{R}/exp/{{stage}}/decode_{LM}_{{test_set}}",
    log:
        f"{R}/logs/decode_{{stage}}_{LM}_{{test_set}}.log",
    benchmark:
        f"{R}/benchmarks/decode_{{stage}}_{LM}_{{test_set}}.tsv"
    shell:
        "{PYTHON} -m asrflow.decode --graph {params.graph} --lang {LANG} --model {input.model} --data {params.data} "
        "--cfg {params.cfg} --info {params.info} --out {params.out} 2> {log}"
