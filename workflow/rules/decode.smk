# Decode stage: 1-best Viterbi beam search of a test part on HCLG → hypotheses, CTM, real-time factor
# (SAT stages: speaker-independent first pass and fMLLR before the final pass, as decode_fmllr.sh).


rule decode:
    input:
        graph=f"{R}/exp/{{stage}}/graph_{LEX}_{LM}/HCLG.fst",
        model=f"{R}/exp/{{stage}}/final.mdl",
        alimdl=lambda w: [f"{R}/exp/{w.stage}/final.alimdl"] if w.stage in SAT_STAGES else [],
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
        si_model=si_model_arg,
    wildcard_constraints:
        stage="|".join(GMM_STAGES),
    log:
        f"{R}/logs/decode_{{stage}}_{LM}_{{test_set}}.log",
    benchmark:
        f"{R}/benchmarks/decode_{{stage}}_{LM}_{{test_set}}.tsv"
    shell:
        "{PYTHON} -m asrflow.decode --graph {params.graph} --lang {LANG} --model {input.model} --data {params.data} "
        "--cfg {params.cfg} --info {params.info} {params.si_model} --out {params.out} 2> {log}"
